package packet

import (
	"context"
	"os"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// TestReadWholeAndMappedAgree: DecodeFile reads small captures whole and
// maps large ones; both paths give the same events.
func TestReadWholeAndMappedAgree(t *testing.T) {
	path := testenv.Corpus(t, "pcaps", "postgres.pcap")
	var whole, mapped []string
	if _, err := DecodeFile(context.Background(), path, Config{Postgres: []uint16{5433}}, func(e event.Event) {
		whole = append(whole, string(e.AppendJSON(nil)))
	}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, unmap, err := mapFile(f)
	if err != nil {
		t.Skipf("no mapping here: %v", err)
	}
	defer unmap()
	if _, err := DecodeBytes(context.Background(), b, Config{Postgres: []uint16{5433}}, func(e event.Event) {
		mapped = append(mapped, string(e.AppendJSON(nil)))
	}); err != nil {
		t.Fatal(err)
	}
	if len(whole) == 0 {
		t.Fatal("no events decoded")
	}
	if diff := cmp.Diff(mapped, whole); diff != "" {
		t.Errorf("read whole vs mapped (-mapped +whole):\n%s", diff)
	}
}
