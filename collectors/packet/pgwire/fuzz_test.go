package pgwire

import (
	"path/filepath"
	"testing"

	"github.com/danang-soc/vigil/collectors/packet/internal/wirefuzz"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

func FuzzSession(f *testing.F) {
	for _, c := range wirefuzz.Conversations(f, testenv.Corpus(f, "pcaps", "postgres.pcap"), 5433, 8<<10) {
		f.Add(c)
	}
	files, _ := filepath.Glob(filepath.Join(testenv.Corpus(f, "pcaps", "public", "spicy-postgresql"), "*.pcap"))
	for _, file := range files {
		for _, c := range wirefuzz.Conversations(f, file, 5432, 8<<10) {
			f.Add(c)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSession(Options{MaxMessage: 1024}, func(ev event.Event) {
			if ev.Time.IsZero() {
				t.Errorf("event without time: %s", ev.AppendJSON(nil))
			}
			if ev.Fields.Str("event.action") == "" || ev.Fields.Str("event.outcome") == "" {
				t.Errorf("event without action or outcome: %s", ev.AppendJSON(nil))
			}
		})
		wirefuzz.Play(s, b)
		if len(s.pending) > maxPending {
			t.Errorf("%d requests pending, bound is %d", len(s.pending), maxPending)
		}
	})
}
