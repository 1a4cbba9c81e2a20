package postgres

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/danang-soc/vigil/event"
)

// seed adds the lines of a corpus file; the corpus lives outside the
// repository, so fuzzing without it starts from the inline seeds only.
func seed(f *testing.F, name string) {
	root := os.Getenv("VIGIL_CORPUS")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	b, err := os.ReadFile(filepath.Join(root, "dblogs", name))
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f.Add(sc.Text())
	}
}

// fuzzDecoder feeds s as lines and checks the decoder never panics and
// never leaves a record pending after Flush.
func fuzzDecoder(t *testing.T, d lineDecoder, s string) {
	emit := func(e event.Event) {
		if e.Source.Product != "postgresql" {
			t.Fatalf("event without log source: %+v", e)
		}
		seen := map[string]bool{}
		for _, fl := range e.Fields {
			if seen[fl.Key] {
				t.Fatalf("field %s twice: %+v", fl.Key, e.Fields)
			}
			seen[fl.Key] = true
		}
	}
	for _, l := range bytes.Split([]byte(s), []byte{'\n'}) {
		_ = d.Line(l, emit)
	}
	d.Flush(emit)
	if d.Pending() {
		t.Fatal("Pending() after Flush")
	}
}

func FuzzJSONLog(f *testing.F) {
	seed(f, "postgres-jsonlog.log")
	f.Add(`{"timestamp":"2026-11-29 15:36:09.218 UTC","error_severity":"LOG","message":"AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>"}`)
	f.Fuzz(func(t *testing.T, s string) { fuzzDecoder(t, NewJSONLog(Options{}), s) })
}

func FuzzCSVLog(f *testing.F) {
	seed(f, "postgres-csvlog.csv")
	f.Fuzz(func(t *testing.T, s string) { fuzzDecoder(t, NewCSVLog(Options{}), s) })
}

func FuzzStderr(f *testing.F) {
	seed(f, "postgres-stderr.log")
	seed(f, "pgaudit-log_rows.log")
	f.Fuzz(func(t *testing.T, s string) { fuzzDecoder(t, NewStderr(Options{}), s) })
}

// FuzzFlatJSON checks the jsonlog fast path against the kernel's JSON
// decoder: whatever it accepts, it reads the same way.
func FuzzFlatJSON(f *testing.F) {
	seed(f, "postgres-jsonlog.log")
	f.Add(`{"a":"x\u00e9\ud83d\ude00\n","b":-1.5e3,"c":true,"d":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseFlatJSON(s, nil)
		if err != nil {
			return
		}
		want, err := event.DecodeJSON([]byte(s))
		if err != nil {
			t.Fatalf("flat parser accepted %q, DecodeJSON refused it: %v", s, err)
		}
		if len(got) != len(want.Fields) && want.ID.IsZero() && want.Time.IsZero() && want.Raw == "" && want.Source.IsZero() {
			t.Fatalf("%q: %d fields, DecodeJSON %d", s, len(got), len(want.Fields))
		}
		for _, fl := range want.Fields {
			v, ok := got.Get(fl.Key)
			if !ok || !v.Equal(fl.Value) {
				t.Fatalf("%q: field %s = %+v, DecodeJSON %+v", s, fl.Key, v, fl.Value)
			}
		}
	})
}
