package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
)

// textCount is how many times the text file holds the word: with one
// occurrence in an event's text, how many events it indexes with it.
func textCount(t *testing.T, s *Store, word string) int {
	t.Helper()
	if _, err := s.t.Exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.blocks_vocab USING fts5vocab('main', 'blocks_fts', 'row')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.t.QueryRow(`SELECT coalesce((SELECT cnt FROM temp.blocks_vocab WHERE term = ?), 0)`, word).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// found is the number of events a search for q finds.
func found(t *testing.T, s *Store, q string) int {
	t.Helper()
	page, err := s.Events(context.Background(), Query{Q: q})
	if err != nil {
		t.Fatalf("Events(%q): %v", q, err)
	}
	return len(page.Items)
}

func textEvents(word string, n int, at time.Time) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = mkEvent(at.Add(time.Duration(i)*time.Millisecond), pg, "message", fmt.Sprintf("%s number%d", word, i))
	}
	return evs
}

// TestTextBehindAfterCrash opens a store whose text file lost the last
// transactions (a crash after the events committed): Open indexes the
// missing text from the stored documents.
func TestTextBehindAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s := openClosed(t, path)
	if _, err := s.WriteEvents(ctx, textEvents("early", 10, t0)); err != nil {
		t.Fatal(err)
	}
	var mark int64
	if err := s.t.QueryRow(`SELECT indexed FROM text_state`).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteEvents(ctx, textEvents("late", 10, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	// Undo the text of the second batch, as a crash before its commit would.
	if _, err := s.t.Exec(`DELETE FROM blocks_fts WHERE rowid > ?`, mark); err != nil {
		t.Fatal(err)
	}
	if _, err := s.t.Exec(`UPDATE text_state SET indexed = ?`, mark); err != nil {
		t.Fatal(err)
	}
	if got := found(t, s, "late"); got != 0 {
		t.Fatalf("before reopening, %d events found by their lost text", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, Config{Path: path})
	for q, want := range map[string]int{"late": 10, "early": 10, "number3": 2, `"late number7"`: 1} {
		if got := found(t, s, q); got != want {
			t.Errorf("after reopening, Events(%q) found %d, want %d", q, got, want)
		}
	}
	if got := textCount(t, s, "late"); got != 10 {
		t.Errorf("text file holds %d events with late, want 10 (indexed once)", got)
	}
}

// TestTextAheadAfterCrash opens a store whose text file holds the text of a
// transaction of events that was lost: new events never take its seqs, so
// that text finds nothing.
func TestTextAheadAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s := openClosed(t, path)
	if _, err := s.WriteEvents(ctx, textEvents("kept", 5, t0)); err != nil {
		t.Fatal(err)
	}
	// Text for blocks 6 to 8 whose events never committed.
	if _, err := s.t.Exec(`INSERT INTO blocks_fts (rowid, message, statement) VALUES (6, 'phantom', ''), (7, 'phantom', ''), (8, 'phantom', '')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.t.Exec(`UPDATE text_state SET indexed = 8`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, Config{Path: path})
	if _, err := s.WriteEvents(ctx, textEvents("fresh", 5, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"phantom": 0, "fresh": 5, "kept": 5} {
		if got := found(t, s, q); got != want {
			t.Errorf("Events(%q) found %d, want %d", q, got, want)
		}
	}
}

// TestTextRepairAfterFailure: when the text transaction fails after the
// events committed, the next write indexes the missing text first.
func TestTextRepairAfterFailure(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Config{})
	if _, err := s.WriteEvents(ctx, textEvents("first", 3, t0)); err != nil {
		t.Fatal(err)
	}
	// What a failed text transaction leaves: events without text, and the
	// store knowing it.
	if _, err := s.t.Exec(`DELETE FROM blocks_fts`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.t.Exec(`UPDATE text_state SET indexed = 0`); err != nil {
		t.Fatal(err)
	}
	s.textBehind = true
	if _, err := s.WriteEvents(ctx, textEvents("second", 3, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"first": 3, "second": 3} {
		if got := found(t, s, q); got != want {
			t.Errorf("Events(%q) found %d, want %d", q, got, want)
		}
	}
}

// TestTextFileOfAnotherStore: a text file that is not the pair of the
// events file is rebuilt from the documents, not trusted.
func TestTextFileOfAnotherStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	sa := openClosed(t, a)
	if _, err := sa.WriteEvents(ctx, textEvents("alpha", 4, t0)); err != nil {
		t.Fatal(err)
	}
	sb := openClosed(t, b)
	if _, err := sb.WriteEvents(ctx, textEvents("bravo", 4, t0)); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(sa.Close(), sb.Close()); err != nil {
		t.Fatal(err)
	}
	// b's text file copied over a's.
	if err := copyFile(TextPath(b), TextPath(a)); err != nil {
		t.Fatal(err)
	}
	sa = openTest(t, Config{Path: a})
	for q, want := range map[string]int{"alpha": 4, "bravo": 0} {
		if got := found(t, sa, q); got != want {
			t.Errorf("Events(%q) found %d, want %d", q, got, want)
		}
	}
}

// TestPruneDeletesText: pruned events leave no text behind.
func TestPruneDeletesText(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Config{})
	day := 24 * time.Hour
	if _, err := s.WriteEvents(ctx, textEvents("ancient", 7, t0.Add(-400*day))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteEvents(ctx, textEvents("recent", 3, t0)); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Prune(ctx, t0); err != nil || st.Expired != 7 {
		t.Fatalf("Prune = %+v, %v; want 7 expired", st, err)
	}
	if got := textCount(t, s, "ancient"); got != 0 {
		t.Errorf("text file holds %d pruned events", got)
	}
	if got := textCount(t, s, "recent"); got != 3 {
		t.Errorf("text file holds %d of 3 kept events", got)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// openClosed opens a store that the test closes itself.
func openClosed(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: path, Now: func() time.Time { return t0.Add(24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTextOfRedelivery: a batch delivered again, with new events among
// the stored ones and a duplicate inside, indexes the text of each new
// event once and of no stored one again.
func TestTextOfRedelivery(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Config{})
	evs := textEvents("first", 100, t0) // more than one chunk
	if _, err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	again := append(append([]event.Event(nil), evs...), textEvents("second", 3, t0.Add(time.Hour))...)
	again = append(again, again[len(again)-1])
	again[10], again[100] = again[100], again[10]
	if n, err := s.WriteEvents(ctx, again); err != nil || n != 3 {
		t.Fatalf("re-delivery = %d, %v; want 3 new", n, err)
	}
	for word, want := range map[string]int{"first": 100, "second": 3, "number2": 2} {
		if got := textCount(t, s, word); got != want {
			t.Errorf("text file holds %d events with %s, want %d", got, word, want)
		}
	}
}
