package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query/match"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/s2"
)

// randomBlock makes n block events with the given first seq, seqs with
// gaps, times in any order and documents of any bytes.
func randomBlock(r *rand.Rand, first int64, n int) []blockEvent {
	evs := make([]blockEvent, n)
	seq := first
	for i := range evs {
		seq += int64(r.IntN(3)) // gaps left by duplicates, or none
		if i == 0 {
			seq = first
		}
		doc := make([]byte, r.IntN(300))
		for j := range doc {
			doc[j] = byte(r.IntN(256))
		}
		evs[i] = blockEvent{seq: seq, time: r.Int64N(1<<62) - 1<<61, doc: doc}
		evs[i].id = event.NewID(time.Unix(0, evs[i].time))
		seq++
	}
	return evs
}

func TestBlockRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var data, scratch, buf []byte
	for _, n := range []int{1, 2, 7, blockSize} {
		first := r.Int64N(1 << 40)
		want := randomBlock(r, first, n)
		data, scratch = appendBlockData(data[:0], first, want, scratch)
		got, b, err := decodeBlock(first, data, buf)
		if err != nil {
			t.Fatalf("%d events: %v", n, err)
		}
		buf = b
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(blockEvent{}), cmp.Comparer(bytes.Equal)); diff != "" {
			t.Fatalf("%d events (-want +got):\n%s", n, diff)
		}
	}
}

// TestDecodeBlockCorrupt: a damaged block is an error naming it, never a
// panic or events made up.
func TestDecodeBlockCorrupt(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	evs := randomBlock(r, 100, 20)
	data, _ := appendBlockData(nil, 100, evs, nil)
	for _, bad := range [][]byte{
		nil,
		{},
		{blockFormat},
		{2, 0, 0},
		data[:len(data)/2],
		append(slices.Clone(data), 0),
		append([]byte{blockFormat + 1}, data[1:]...),
	} {
		if _, _, err := decodeBlock(100, bad, nil); err == nil {
			t.Errorf("decodeBlock(%d bytes): no error", len(bad))
		}
	}
}

func FuzzDecodeBlock(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 3, 30} {
		data, _ := appendBlockData(nil, 7, randomBlock(r, 7, n), nil)
		f.Add(data)
	}
	f.Add([]byte{blockFormat, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, _, err := decodeBlock(7, data, nil)
		if err != nil {
			return
		}
		// What decodes encodes back to the same events.
		again, _ := appendBlockData(nil, 7, evs, nil)
		back, _, err := decodeBlock(7, again, nil)
		if err != nil {
			t.Fatalf("re-encoded block does not decode: %v", err)
		}
		if len(back) != len(evs) {
			t.Fatalf("%d events, then %d", len(evs), len(back))
		}
		for i := range evs {
			if back[i].seq != evs[i].seq || back[i].time != evs[i].time || back[i].id != evs[i].id || !bytes.Equal(back[i].doc, evs[i].doc) {
				t.Fatalf("event %d changed: %+v then %+v", i, evs[i], back[i])
			}
		}
	})
}

// TestEventsNewestFirstAcrossBlocks stores events in batches out of time
// order, so that the time ranges of blocks overlap, and reads them back in
// pages: every event once, newest first.
func TestEventsNewestFirstAcrossBlocks(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	const n = 3000
	evs := dbEvents(11, n, t0, time.Second)
	// Every third event shares its time with the one before: ties across
	// blocks are ordered by seq.
	for i := 2; i < n; i += 3 {
		evs[i].Time = evs[i-1].Time
	}
	shuffled := slices.Clone(evs)
	rand.New(rand.NewPCG(7, 8)).Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 0; i < n; i += 700 {
		if _, err := s.WriteEvents(ctx, shuffled[i:min(i+700, n)]); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[event.ID]bool{}
	var last time.Time
	cursor, pages := "", 0
	for {
		page, err := s.Events(ctx, Query{Limit: 97, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page.Items {
			if seen[e.ID] {
				t.Fatalf("event %s returned twice", e.ID)
			}
			seen[e.ID] = true
			if !last.IsZero() && e.Time.After(last) {
				t.Fatalf("event at %v after one at %v: not newest first", e.Time, last)
			}
			last = e.Time
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(seen) != n || pages != (n+96)/97 {
		t.Errorf("read %d events in %d pages, want %d in %d", len(seen), pages, n, (n+96)/97)
	}
	// Bounded by time: exactly the events within.
	from, to := t0.Add(1000*time.Second), t0.Add(1500*time.Second)
	page, err := s.Events(ctx, Query{From: from, To: to, Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range evs {
		if !e.Time.Before(from) && e.Time.Before(to) {
			want++
		}
	}
	if len(page.Items) != want {
		t.Errorf("events in [%v, %v): %d, want %d", from, to, len(page.Items), want)
	}
}

// TestConvertRowsFromSchema7 opens a store of schema 7, one row per event,
// and finds its events moved into blocks, searchable, and the old table
// gone.
func TestConvertRowsFromSchema7(t *testing.T) {
	ctx := context.Background()
	path, db := openAtVersion(t, 7)
	evs := dbEvents(12, 2*convertPage+10, t0, time.Second)
	evs[5].Fields.Set("message", event.String("the needle in schema seven"))
	for i := range evs {
		e := &evs[i]
		doc := string(e.AppendJSON(nil))
		if _, err := db.ExecContext(ctx, `INSERT INTO events (seq, id, time, received, product, category, service, host, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, i+1, e.ID[:], nanos(e.Time), nanos(e.Received),
			e.Source.Product, e.Source.Category, e.Source.Service, match.Host(e), doc); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, Config{Path: path})
	st, err := s.Stats(ctx)
	if err != nil || st.Events != int64(len(evs)) {
		t.Fatalf("after conversion: %d events, %v; want %d", st.Events, err, len(evs))
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'events_v7'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the table of schema 7 is still there (%d, %v)", n, err)
	}
	page, err := s.Events(ctx, Query{Q: "needle"})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != evs[5].ID {
		t.Errorf(`Events("needle") = %d events, %v; want event 5`, len(page.Items), err)
	}
	// Writing them again adds nothing: their IDs moved with them.
	if got, err := s.WriteEvents(ctx, evs[:100]); err != nil || got != 0 {
		t.Errorf("writing converted events again = %d new, %v; want 0", got, err)
	}
	// New events take seqs after the converted ones.
	var top int64
	if err := s.r.QueryRowContext(ctx, `SELECT max(last_seq) FROM event_blocks`).Scan(&top); err != nil {
		t.Fatal(err)
	}
	if top <= int64(len(evs)) {
		t.Errorf("highest seq %d is not after the %d events of schema 7", top, len(evs))
	}
}

// TestPruneKeepsProtectedInBlock: an expired block with an event of an open
// incident keeps that event alone, findable by its alert and by its text.
func TestPruneKeepsProtectedInBlock(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	day := 24 * time.Hour
	evs := dbEvents(13, 300, t0.Add(-400*day), time.Second)
	evs[150].Fields.Set("message", event.String("the evidence line"))
	if _, err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	a := mkAlert("r", event.LevelHigh, evs[150])
	if _, err := s.WriteAlerts(ctx, []event.Alert{a}); err != nil {
		t.Fatal(err)
	}
	inc := event.Incident{ID: event.NewID(t0), Title: "open", Severity: event.LevelHigh, Status: event.StatusNew}
	if err := s.UpsertIncident(ctx, inc, []event.ID{a.ID}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Prune(ctx, t0)
	if err != nil || st.Expired != 299 {
		t.Fatalf("Prune = %+v, %v; want 299 expired", st, err)
	}
	got, err := s.AlertEvents(ctx, a.ID)
	if err != nil || len(got) != 1 || got[0].ID != evs[150].ID {
		t.Errorf("AlertEvents = %d events, %v; want the protected one", len(got), err)
	}
	for q, want := range map[string]int{"evidence": 1, "": 1, "authentication": 0} {
		if got := found(t, s, q); got != want {
			t.Errorf("Events(%q) found %d, want %d", q, got, want)
		}
	}
	// The deleted events' IDs went with them: they may be stored again.
	if n, err := s.WriteEvents(ctx, evs[:10]); err != nil || n != 10 {
		t.Errorf("writing pruned events again = %d new, %v; want 10", n, err)
	}
	var ids int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM event_ids`).Scan(&ids); err != nil || ids != 11 {
		t.Errorf("%d IDs stored, %v; want 11", ids, err)
	}
}

// TestSearchReadsTheBlocksOfItsHost: events of twenty hosts arrive mixed;
// a search for one host reads only the blocks that hold it, and finds all
// of its events.
func TestSearchReadsTheBlocksOfItsHost(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	evs := dbEvents(21, 20000, t0, time.Millisecond) // hosts db00 to db19, mixed, 2 s a batch
	for i := 0; i < len(evs); i += 2000 {
		if _, err := s.WriteEvents(ctx, evs[i:i+2000]); err != nil {
			t.Fatal(err)
		}
	}
	var blocks int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM event_blocks`).Scan(&blocks); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"host.name:db07", "host.name:DB07 AND user.name:etl", "(host.name:db07 OR host.name:db08) AND NOT failed"} {
		sr, err := s.compile(ctx, s.r, q, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var got []event.ID
		err = sr.scan.run(ctx, func(e *blockEvent) (bool, error) {
			ok, err := sr.matches(e)
			if ok {
				got = append(got, e.id)
			}
			return true, err
		})
		if err != nil {
			t.Fatal(err)
		}
		var want int
		for i := range evs {
			if sr.m.Match(&evs[i]) {
				want++
			}
		}
		if len(got) != want || want == 0 {
			t.Errorf("%q: %d events, want %d", q, len(got), want)
		}
		// A host's hundred events of each of the ten batches fill one block,
		// or two where a block ends among them.
		if limit := len(sr.scan.hosts[0]) * 10 * 2; sr.scan.blocksRead > limit {
			t.Errorf("%q read %d of %d blocks, want at most %d", q, sr.scan.blocksRead, blocks, limit)
		}
	}
	// Histograms of hosts alone count the blocks of one host whole: the
	// counts are those of the events.
	sp := Span{From: t0.Add(2 * time.Second), Step: 2 * time.Second, Buckets: 8} // a batch a bucket
	sp.To = sp.From.Add(time.Duration(sp.Buckets) * sp.Step)
	for _, q := range []string{"host.name:db07", "host.name:DB07 OR host.name:db11", "host.name:db07 AND @timestamp:<2026-03-10T08:00:13.5Z"} {
		h, err := s.EventHistogram(ctx, q, sp)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := s.compile(ctx, s.r, q, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]int64, sp.Buckets)
		for i := range evs {
			if b := sp.bucket(nanos(evs[i].Time)); b >= 0 && sr.m.Match(&evs[i]) {
				want[b]++
			}
		}
		if diff := cmp.Diff(want, h.Series[0].Counts); diff != "" {
			t.Errorf("EventHistogram(%q) (-want +got):\n%s", q, diff)
		}
	}
}

// TestSearchesShareFewReaders: searches that read blocks chosen by full
// text, more of them at once than there are read connections, all finish:
// none holds a connection while it waits for another.
func TestSearchesShareFewReaders(t *testing.T) {
	s := openTest(t, Config{Readers: 1, QueryTimeout: 20 * time.Second})
	ctx := context.Background()
	if _, err := s.WriteEvents(ctx, dbEvents(31, 3000, t0, time.Second)); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := s.Events(ctx, Query{Q: "password AND user.name:etl", Limit: MaxLimit})
			if err == nil {
				_, err = s.EventHistogram(ctx, "denied", Span{From: t0, To: t0.Add(time.Hour), Step: time.Minute, Buckets: 60})
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestSearchBeyondMaxCandidates: a word in more blocks than a search keeps
// from the full-text index finds what it finds with them.
func TestSearchBeyondMaxCandidates(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	if _, err := s.WriteEvents(ctx, dbEvents(41, 3000, t0, time.Second)); err != nil {
		t.Fatal(err)
	}
	ids := func() []event.ID {
		page, err := s.Events(ctx, Query{Q: "password AND db.name:hr", Limit: MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		var out []event.ID
		for _, e := range page.Items {
			out = append(out, e.ID)
		}
		return out
	}
	want := ids()
	defer func(n int) { maxCandidates = n }(maxCandidates)
	maxCandidates = 2
	if got := ids(); len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("beyond maxCandidates: %d events, with them %d", len(got), len(want))
	}
}

// TestSearchDuringPrune: blocks that retention deletes while a search goes
// are left out of it, not errors.
func TestSearchDuringPrune(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	if evs, _, err := readBlock(ctx, s.r, 12345, nil); evs != nil || err != nil {
		t.Fatalf("reading a block that is not there: %d events, %v", len(evs), err)
	}
	day := 24 * time.Hour
	for i := range 10 {
		if _, err := s.WriteEvents(ctx, dbEvents(uint64(50+i), 1000, t0.Add(-400*day).Add(time.Duration(i)*time.Hour), time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Events(ctx, Query{Q: "password", Limit: MaxLimit}); err != nil {
				errs <- err
				return
			}
		}
	}()
	st, err := s.Prune(ctx, t0)
	close(stop)
	if err != nil || st.Expired != 10000 {
		t.Fatalf("Prune = %+v, %v", st, err)
	}
	if err := <-errs; err != nil {
		t.Errorf("search during Prune: %v", err)
	}
}

// TestCompactSmallBlocks: a quiet system writes a few events at a time;
// Prune merges the small blocks, and every event stays as it was: found
// by search, full text, host, ID and alert, never twice.
func TestCompactSmallBlocks(t *testing.T) {
	t.Run("one page", func(t *testing.T) { testCompactSmallBlocks(t, 8) })
	// Pages of seven blocks: runs go on from one page to the next, and
	// merge less well.
	defer func(n int) { compactPage = n }(compactPage)
	compactPage = 7
	t.Run("pages of seven", func(t *testing.T) { testCompactSmallBlocks(t, 20) })
}

// testCompactSmallBlocks compacts 600 events written a few at a time,
// into at most maxBlocks blocks.
func testCompactSmallBlocks(t *testing.T, maxBlocks int) {
	s := openTest(t, Config{})
	ctx := context.Background()
	evs := dbEvents(61, 600, t0, time.Second)
	evs[300].Fields.Set("message", event.String("the needle among small blocks"))
	for i := 0; i < len(evs); {
		n := 1 + i%5
		if i >= 200 && i < 240 {
			n = 40 // a block too big to merge, among small ones
		}
		n = min(n, len(evs)-i)
		if _, err := s.WriteEvents(ctx, evs[i:i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	a := mkAlert("r", event.LevelHigh, evs[300])
	if _, err := s.WriteAlerts(ctx, []event.Alert{a}); err != nil {
		t.Fatal(err)
	}
	count := func() (blocks int) {
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM event_blocks`).Scan(&blocks); err != nil {
			t.Fatal(err)
		}
		return blocks
	}
	// Blocks of the last hour's arrivals wait.
	before := count()
	if st, err := s.Prune(ctx, t0.Add(30*time.Minute)); err != nil || st.Compacted != 0 {
		t.Fatalf("Prune within the hour = %+v, %v; want nothing compacted", st, err)
	}
	// Blocks merged into blocks still small are merged again the next
	// time: Prune comes to a rest.
	var compacted int64
	for range 10 {
		st, err := s.Prune(ctx, t0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st.Compacted == 0 {
			break
		}
		compacted += st.Compacted
	}
	after := count()
	if compacted != int64(before-after) || after > maxBlocks {
		t.Errorf("compacted %d: %d blocks, then %d", compacted, before, after)
	}
	if page, err := s.Events(ctx, Query{Limit: MaxLimit}); err != nil || len(page.Items) != len(evs) {
		t.Fatalf("after compaction: %d events, %v; want %d", len(page.Items), err, len(evs))
	}
	for q, want := range map[string]int{"needle": 1, `"small blocks"`: 1, "host.name:" + evs[300].Fields.Str("host.name") + " AND needle": 1} {
		if got := found(t, s, q); got != want {
			t.Errorf("Events(%q) found %d, want %d", q, got, want)
		}
	}
	if got, err := s.AlertEvents(ctx, a.ID); err != nil || len(got) != 1 || got[0].ID != evs[300].ID {
		t.Errorf("AlertEvents = %d, %v", len(got), err)
	}
	if n, err := s.WriteEvents(ctx, evs); err != nil || n != 0 {
		t.Errorf("writing the events again = %d new, %v; want 0", n, err)
	}
	// The text of merged blocks went with them: each word once per event.
	if got := textCount(t, s, "needle"); got != 1 {
		t.Errorf("the text file holds needle %d times", got)
	}
	// Blocks still hold seqs that no other block's range holds.
	rows, err := s.r.QueryContext(ctx, `SELECT first_seq, last_seq FROM event_blocks ORDER BY first_seq`)
	if err != nil {
		t.Fatal(err)
	}
	prev := int64(0)
	for rows.Next() {
		var first, last int64
		if err := rows.Scan(&first, &last); err != nil {
			t.Fatal(err)
		}
		if first <= prev || last < first {
			t.Errorf("block %d-%d after one ending at %d", first, last, prev)
		}
		prev = last
	}
	rows.Close()
}

// TestLargeEvents: events of megabytes make small blocks, written and
// merged, so that a block never grows past what decoding takes.
func TestLargeEvents(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	big := func(i int) event.Event {
		e := mkEvent(t0.Add(time.Duration(i)*time.Second), pg, "host.name", "db01")
		msg := []byte(strings.Repeat(fmt.Sprintf("word%d ", i), 3<<20/7))
		e.Fields.Set("message", event.String(string(msg)))
		return e
	}
	var batch []event.Event
	for i := range 6 {
		batch = append(batch, big(i))
	}
	if _, err := s.WriteEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i := 6; i < 12; i++ { // one a batch: blocks to merge
		if _, err := s.WriteEvents(ctx, []event.Event{big(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(ctx, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT first_seq, data FROM event_block_data`)
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for rows.Next() {
		var first int64
		var data []byte
		if err := rows.Scan(&first, &data); err != nil {
			t.Fatal(err)
		}
		n, err := s2.DecodedLen(data[1:])
		if err != nil || n > blockBytes+4<<20 {
			t.Errorf("block %d decodes to %d bytes (%v)", first, n, err)
		}
		blocks++
	}
	rows.Close()
	if blocks < 4 {
		t.Errorf("%d blocks for 36 MiB of events", blocks)
	}
	for q, want := range map[string]int{"": 12, "word3": 1, "word11": 1} {
		if got := found(t, s, q); got != want {
			t.Errorf("Events(%q) found %d, want %d", q, got, want)
		}
	}
}

// TestCompactKeepsArrivalsApart: small blocks that arrived hours apart are
// not merged, so that retention, which goes by a block's latest arrival,
// keeps none of their events much longer.
func TestCompactKeepsArrivalsApart(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	for i := range 4 {
		evs := dbEvents(uint64(70+i), 3, t0.Add(time.Duration(i)*2*time.Hour), time.Second)
		if _, err := s.WriteEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.Prune(ctx, t0.Add(24*time.Hour)); err != nil || st.Compacted != 0 {
		t.Errorf("Prune = %+v, %v; want nothing compacted", st, err)
	}
}
