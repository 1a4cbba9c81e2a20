package packet

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// capture is one capture of the corpus with the ports it is decoded on.
type capture struct {
	rel string // path under the corpus' pcaps folder
	cfg Config
}

// corpusCaptures lists every capture in the corpus.
func corpusCaptures(t testing.TB) []capture {
	t.Helper()
	root := testenv.Corpus(t, "pcaps")
	caps := []capture{
		{"postgres.pcap", Config{Postgres: []uint16{5433}}},
		{"mariadb.pcap", Config{MySQL: []uint16{3307}}},
	}
	for _, dir := range []struct {
		name string
		cfg  Config
	}{
		{"public/spicy-postgresql", Config{Postgres: []uint16{5432, 15432}}},
		{"public/pcap2mysql-log", Config{}},
	} {
		files, err := filepath.Glob(filepath.Join(root, dir.name, "*.pcap"))
		if err != nil || len(files) == 0 {
			testenv.Missing(t, "no captures in %s: %v", dir.name, err)
		}
		for _, f := range files {
			caps = append(caps, capture{filepath.ToSlash(filepath.Join(dir.name, filepath.Base(f))), dir.cfg})
		}
	}
	return caps
}

// decodeAll decodes a capture file and returns its events.
func decodeAll(t testing.TB, path string, cfg Config) ([]event.Event, Stats) {
	t.Helper()
	var evs []event.Event
	st, err := DecodeFile(context.Background(), path, cfg, func(ev event.Event) { evs = append(evs, ev) })
	if err != nil {
		t.Fatalf("DecodeFile(%s): %v", path, err)
	}
	return evs, st
}

// render writes events as JSON lines followed by the stats, the form of the
// golden files.
func render(evs []event.Event, st Stats) []byte {
	var b []byte
	for i := range evs {
		ev := evs[i]
		ev.Fields = ev.Fields.Clone()
		for j, f := range ev.Fields {
			// Long statements are cut, so that the golden files stay
			// readable; their length still shows.
			if f.Value.Kind == event.KindString && len(f.Value.Str) > 300 {
				ev.Fields[j].Value.Str = f.Value.Str[:300] + "...(" + strconv.Itoa(len(f.Value.Str)) + " bytes)"
			}
		}
		b = ev.AppendJSON(b)
		b = append(b, '\n')
	}
	js, _ := json.Marshal(st)
	b = append(b, js...)
	return append(b, '\n')
}

// TestGolden decodes every capture of the corpus and compares the events
// with testdata/golden; -update rewrites them.
func TestGolden(t *testing.T) {
	root := testenv.Corpus(t, "pcaps")
	for _, c := range corpusCaptures(t) {
		t.Run(c.rel, func(t *testing.T) {
			evs, st := decodeAll(t, filepath.Join(root, c.rel), c.cfg)
			got := render(evs, st)
			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(strings.TrimSuffix(c.rel, ".pcap"), "/", "_")+".jsonl")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("events differ from %s (-want +got):\n%s", golden, cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")))
			}
		})
	}
}
