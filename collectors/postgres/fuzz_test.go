package postgres

import (
	"testing"

	"github.com/danang-soc/vigil/collectors/internal/decodertest"
	"github.com/danang-soc/vigil/event"
)

func FuzzJSONLog(f *testing.F) {
	decodertest.Seed(f, "postgres-jsonlog.log")
	f.Add(`{"timestamp":"2026-11-29 15:36:09.218 UTC","error_severity":"LOG","message":"AUDIT: SESSION,1,1,READ,SELECT,,,x,<none>"}`)
	f.Fuzz(func(t *testing.T, s string) { decodertest.Fuzz(t, NewJSONLog(Options{}), "postgresql", s) })
}

func FuzzCSVLog(f *testing.F) {
	decodertest.Seed(f, "postgres-csvlog.csv")
	f.Fuzz(func(t *testing.T, s string) { decodertest.Fuzz(t, NewCSVLog(Options{}), "postgresql", s) })
}

func FuzzStderr(f *testing.F) {
	decodertest.Seed(f, "postgres-stderr.log")
	decodertest.Seed(f, "pgaudit-log_rows.log")
	f.Fuzz(func(t *testing.T, s string) { decodertest.Fuzz(t, NewStderr(Options{}), "postgresql", s) })
}

// FuzzFlatJSON checks the jsonlog fast path against the kernel's JSON
// decoder: whatever it accepts, it reads the same way.
func FuzzFlatJSON(f *testing.F) {
	decodertest.Seed(f, "postgres-jsonlog.log")
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
