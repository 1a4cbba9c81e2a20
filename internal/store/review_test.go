package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/danang-soc/vigil/internal/query/match"
)

// reviewMatches reports whether the compiled query q matches e as the
// store keeps it (its document decoded), which is what a search must
// find.
func reviewMatches(t *testing.T, q string, e event.Event) bool {
	t.Helper()
	node, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	m, err := match.Compile(node, q, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := event.DecodeJSON(e.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	return m.Match(&stored)
}

// TestReviewWildcardNeedleOnNumber: a wildcard compares a number as
// SQLite's text of it (1e3 is "1000.0"), but the needle of the pattern is
// looked for in the document, which holds the number as written.
func TestReviewWildcardNeedleOnNumber(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	e := mkEvent(t0, pg, "host.name", "db01", "bytes", event.Number("1e3"), "user.name", event.Number("1.5e10"))
	if _, err := s.WriteEvents(ctx, []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`bytes:1000*`, `user.name:15000*`, `bytes:*1000.0`} {
		if !reviewMatches(t, q, e) {
			t.Fatalf("%s: the matcher does not match %s", q, e.AppendJSON(nil))
		}
		if got := found(t, s, q); got != 1 {
			t.Errorf("Events(%q) found %d, want 1 (the matcher matches it)", q, got)
		}
	}
}

// TestReviewHostReplacementRuns: a host with a run of bytes that are not
// UTF-8 is written in the document with one U+FFFD per byte, but named in
// the block's host summary with one U+FFFD per run (strings.ToValidUTF8):
// a search for the host as stored (as the console shows it) skips its
// block, and one for the summary's spelling takes the block whole although
// the matcher matches none of its events.
func TestReviewHostReplacementRuns(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	e := mkEvent(t0, pg, "host.name", "web\xff\xfe01", "message", "hello")
	if _, err := s.WriteEvents(ctx, []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	stored, err := event.DecodeJSON(e.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	asStored := match.Host(&stored) // "web\uFFFD\uFFFD01"
	q := `host.name:"` + asStored + `"`
	if !reviewMatches(t, q, e) {
		t.Fatalf("%s: the matcher does not match", q)
	}
	if got := found(t, s, q); got != 1 {
		t.Errorf("Events(%q) found %d, want 1 (the matcher matches it)", q, got)
	}
	q = `host.name:"web` + "\uFFFD" + `01"`
	if reviewMatches(t, q, e) {
		t.Fatalf("%s: the matcher matches", q)
	}
	if got := found(t, s, q); got != 0 {
		t.Errorf("Events(%q) found %d, want 0 (the matcher matches none)", q, got)
	}
}

// TestReviewHostsOnlyOpenTimeRange: @timestamp:[* TO *] matches only
// events with a time, but its time bounds are open, so a block of one host
// taken whole brings an event without a time.
func TestReviewHostsOnlyOpenTimeRange(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	e := mkEvent(t0, pg, "host.name", "db01", "message", "x")
	e.Time = time.Time{}
	if _, err := s.WriteEvents(ctx, []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	q := `host.name:db01 AND @timestamp:[* TO *]`
	if reviewMatches(t, q, e) {
		t.Fatalf("%s: the matcher matches an event without a time", q)
	}
	if got := found(t, s, q); got != 0 {
		t.Errorf("Events(%q) found %d, want 0 (the matcher matches none)", q, got)
	}
	// With a condition beside the host, the matcher decides: found 0.
	if got := found(t, s, q+` AND message:x`); got != 0 {
		t.Errorf("Events(%q AND message:x) found %d, want 0", q, got)
	}
}

// TestReviewCompactDuringSearch: a search reads block rows a page per
// statement, and compaction may merge blocks in between. A block it has
// read (A, the newest) is merged with one it has not (B, the oldest): the
// merged block keeps A's first seq and newest time, so the next page,
// which starts below the last block read, never meets B's event. A search
// that chose its blocks by full text before the merge misses them too.
func TestReviewCompactDuringSearch(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*Store, int) {
		s := openTest(t, Config{})
		write := func(e event.Event) {
			t.Helper()
			if _, err := s.WriteEvents(ctx, []event.Event{e}); err != nil {
				t.Fatal(err)
			}
		}
		write(mkEvent(t0.Add(10*time.Second), pg, "host.name", "a", "message", "newest")) // A: seq 1
		write(mkEvent(t0.Add(1*time.Second), pg, "host.name", "b", "message", "needle"))  // B: seq 2
		for i := range 4 {                                                                // C to F, between A and B in time, arrived later (not settled)
			e := mkEvent(t0.Add(time.Duration(9-i)*time.Second), pg, "host.name", "c", "message", "middle")
			e.Received = t0.Add(3 * time.Hour)
			write(e)
		}
		return s, 6
	}
	t.Run("pages", func(t *testing.T) {
		s, want := setup(t)
		got, compacted := 0, false
		err := s.snapshot(ctx, func(rd reader) error {
			sr, err := s.compile(ctx, rd, "", time.Time{}, time.Time{})
			if err != nil {
				return err
			}
			return sr.scan.run(ctx, func(e *blockEvent) (bool, error) {
				got++
				if !compacted { // Prune runs while the search reads its first page
					compacted = true
					n, err := s.compact(ctx, t0.Add(2*time.Hour))
					if err != nil || n != 1 {
						t.Fatalf("compact = %d, %v; want 1 block merged", n, err)
					}
				}
				return true, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("a search during compaction read %d events, want %d", got, want)
		}
		if n := found(t, s, ""); n != want {
			t.Fatalf("after compaction: %d events", n)
		}
	})
	t.Run("full text", func(t *testing.T) {
		s, _ := setup(t)
		got := 0
		err := s.snapshot(ctx, func(rd reader) error {
			sr, err := s.compile(ctx, rd, "needle", time.Time{}, time.Time{})
			if err != nil {
				return err
			}
			if n, err := s.compact(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
				t.Fatalf("compact = %d, %v; want 1 block merged", n, err)
			}
			return sr.scan.run(ctx, func(e *blockEvent) (bool, error) {
				if ok, err := sr.matches(e); ok {
					got++
				} else if err != nil {
					return false, err
				}
				return true, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != 1 {
			t.Errorf("a search for needle whose blocks were merged after it chose them found %d, want 1", got)
		}
	})
}

// TestReviewFleetAfterCompaction: the fleet list folds the blocks after
// its mark, the last seq it folded; compaction merges the last folded
// block with the blocks written after it, under the folded block's first
// seq, so their events are never folded: a host that sent only those is
// missing from the fleet for ever.
func TestReviewFleetAfterCompaction(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	if _, err := s.WriteEvents(ctx, []event.Event{mkEvent(t0, pg, "host.name", "alpha")}); err != nil {
		t.Fatal(err)
	}
	if _, caughtUp, err := s.Fleet(ctx, time.Time{}); err != nil || !caughtUp {
		t.Fatalf("Fleet: caught up %v, %v", caughtUp, err)
	}
	if _, err := s.WriteEvents(ctx, []event.Event{mkEvent(t0.Add(time.Minute), pg, "host.name", "beta")}); err != nil {
		t.Fatal(err)
	}
	// An hour later, before anyone looks at the fleet, Prune compacts.
	if st, err := s.Prune(ctx, t0.Add(2*time.Hour)); err != nil || st.Compacted != 1 {
		t.Fatalf("Prune = %+v, %v; want a block merged", st, err)
	}
	fleet, caughtUp, err := s.Fleet(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, f := range fleet {
		hosts = append(hosts, f.Host)
	}
	if len(hosts) != 2 {
		t.Errorf("Fleet after compaction = %v (caught up: %v), want alpha and beta", hosts, caughtUp)
	}
}

// TestReviewEventPastDecodeLimit: WriteEvents stores an event whose block
// decodes past maxBlockData, and then every search over its time range
// fails, not only the ones that would return it.
func TestReviewEventPastDecodeLimit(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	big := mkEvent(t0, pg, "host.name", "db01", "message", strings.Repeat("x", maxBlockData+1))
	small := mkEvent(t0.Add(-time.Second), pg, "host.name", "db02", "message", "hello")
	if _, err := s.WriteEvents(ctx, []event.Event{big}); err != nil {
		t.Logf("WriteEvents refused the large event: %v", err)
		return
	}
	if _, err := s.WriteEvents(ctx, []event.Event{small}); err != nil {
		t.Fatal(err)
	}
	page, err := s.Events(ctx, Query{Q: "hello"})
	if err != nil || len(page.Items) != 1 {
		t.Errorf("a search for another event: %d found, %v", len(page.Items), err)
	}
	if page, err := s.Events(ctx, Query{}); err != nil || len(page.Items) != 2 {
		t.Errorf("a search for every event: %d found, %v; the store accepted both", len(page.Items), err)
	}
}

// TestReviewCorruptBlockStopsRetention: one block that does not decode
// makes every Prune fail at it, so that retention (and compaction, and the
// disk budget) stop for the whole store, for ever.
func TestReviewCorruptBlockStopsRetention(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	day := 24 * time.Hour
	if _, err := s.WriteEvents(ctx, dbEvents(1, 3, t0.Add(-400*day), time.Second)); err != nil { // block 1
		t.Fatal(err)
	}
	if _, err := s.WriteEvents(ctx, dbEvents(2, 3, t0.Add(-399*day), time.Second)); err != nil { // block 4
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`UPDATE event_block_data SET data = x'01ff' WHERE first_seq = 1`); err != nil {
		t.Fatal(err)
	}
	st, err := s.Prune(ctx, t0)
	if err != nil || st.Expired != 3 {
		t.Errorf("Prune = %+v, %v; want the 3 events of the sound block expired", st, err)
	}
}

// TestReviewNeedleAfterNUL: the matcher reads a pattern as SQLite does,
// as a C string that a NUL ends, but the needle is cut from the whole
// pattern, the part after the NUL included.
func TestReviewNeedleAfterNUL(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	e := mkEvent(t0, pg, "user.name", "ab")
	if _, err := s.WriteEvents(ctx, []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	q := "user.name:ab\x00wxyz*"
	if !reviewMatches(t, q, e) {
		t.Fatalf("%q: the matcher does not match", q)
	}
	if got := found(t, s, q); got != 1 {
		t.Errorf("Events(%q) found %d, want 1 (the matcher matches it)", q, got)
	}
}
