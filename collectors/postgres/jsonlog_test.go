package postgres

import (
	"bufio"
	"os"
	"testing"

	"github.com/danang-soc/vigil/collectors/internal/decodertest"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// lineDecoder is the decoder contract the tests drive.
type lineDecoder = decodertest.Decoder

// decodeFile runs a file through d and returns its events.
func decodeFile(t testing.TB, d lineDecoder, path string) []event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []event.Event
	emit := func(e event.Event) { out = append(out, e) }
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if err := d.Line(sc.Bytes(), emit); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	d.Flush(emit)
	if d.Pending() {
		t.Errorf("Pending() = true after Flush")
	}
	return out
}

func count(evs []event.Event, key string) map[string]int {
	m := map[string]int{}
	for i := range evs {
		m[evs[i].Fields.Str(key)]++
	}
	return m
}

func TestJSONLogCorpus(t *testing.T) {
	evs := decodeFile(t, NewJSONLog(Options{Host: "db1", AssetID: "shop"}), testenv.Corpus(t, "dblogs", "postgres-jsonlog.log"))
	if len(evs) != 198 {
		t.Errorf("got %d events, want 198 (one per line)", len(evs))
	}
	checkScenario(t, evs)
}
