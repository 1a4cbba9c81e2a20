package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Path: "x.db"}, true},
		{"no path", Config{}, false},
		{"query in path", Config{Path: "x.db?mode=memory"}, false},
		{"retention under a day", Config{Path: "x.db", Retention: time.Hour}, false},
		{"negative budget", Config{Path: "x.db", MaxBytes: -1}, false},
		{"tiny budget", Config{Path: "x.db", MaxBytes: 1000}, false},
		{"budget", Config{Path: "x.db", MaxBytes: 10 << 30}, true},
		{"too many readers", Config{Path: "x.db", Readers: 1000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestMigrateFromVersion1 opens a database written by the first schema, with
// events in it, and checks that Open migrates it and keeps the events.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	path, db := openAtVersion(t, 1)
	old := mkEvent(t0, pg, "host.name", "db01", "message", "written by version 1", "user.name", "legacy", "db.response.rows", 42)
	doc := old.AppendJSON(nil)
	if _, err := db.Exec(`INSERT INTO events (id, time, received, product, category, service, host, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		old.ID[:], nanos(old.Time), nanos(old.Received), "postgresql", "database", "", "db01", string(doc)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO events_fts (rowid, message, statement) VALUES (last_insert_rowid(), ?, '')`, "written by version 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openTest(t, Config{Path: path})
	var versions []int
	rows, err := s.r.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		rows.Scan(&v)
		versions = append(versions, v)
	}
	rows.Close()
	var want []int
	for v := 1; v <= SchemaVersion(); v++ {
		want = append(want, v)
	}
	if diff := cmp.Diff(want, versions); diff != "" {
		t.Errorf("applied migrations (-want +got):\n%s", diff)
	}
	page, err := s.Events(ctx, Query{Q: `"version 1"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != old.ID {
		t.Errorf("old event not found after migration: %+v", page.Items)
	}
	// Migration 5 filled the hot columns of the old event.
	for _, q := range []string{"user.name:legacy", "db.response.rows >= 40", "NOT source.ip:*"} {
		page, err := s.Events(ctx, Query{Q: q})
		if err != nil || len(page.Items) != 1 {
			t.Errorf("Events(%q) after migration: %d events, %v; want 1", q, len(page.Items), err)
		}
	}
	// The tables of later versions work.
	if err := s.PutState(ctx, "k", []byte("v")); err != nil {
		t.Errorf("PutState after migration: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s := openTest(t, Config{Path: path})
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, applied) VALUES (?, 0)`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), Config{Path: path})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: err = %v, want a refusal", err)
	}
}

func TestQuarantine(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	items := []Quarantined{
		{Received: t0, Source: "http", Line: 3, Reason: "offset 5: invalid character", Data: []byte(`{"a":`)},
		{Received: t0, Source: "http", Line: 9, Reason: "event must be a JSON object", Data: []byte(`[1,2]`)},
		{Received: t0.Add(time.Second), Source: "syslog", Reason: "not syslog", Data: []byte("\x00\x01binary")},
	}
	if err := s.Quarantine(ctx, items); err != nil {
		t.Fatal(err)
	}
	var got []Quarantined
	q := QuarantineQuery{Limit: 2}
	for range 5 {
		page, err := s.QuarantineList(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if q.Cursor = page.Next; q.Cursor == "" {
			break
		}
	}
	want := []Quarantined{items[2], items[1], items[0]}
	for i := range want {
		want[i].ID = int64(3 - i)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("QuarantineList (-want +got):\n%s", diff)
	}
	page, err := s.QuarantineList(ctx, QuarantineQuery{Source: "syslog"})
	if err != nil || len(page.Items) != 1 {
		t.Errorf("by source: %d items, %v; want 1", len(page.Items), err)
	}
	big := bytes.Repeat([]byte("x"), MaxQuarantineData+10)
	if err := s.Quarantine(ctx, []Quarantined{{Source: "http", Reason: "too long", Data: big}}); err != nil {
		t.Fatal(err)
	}
	page, err = s.QuarantineList(ctx, QuarantineQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if it := page.Items[0]; len(it.Data) != MaxQuarantineData || !strings.Contains(it.Reason, "cut") {
		t.Errorf("long data: kept %d bytes, reason %q", len(it.Data), it.Reason)
	}
}

func TestState(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	if _, err := s.State(ctx, "correlate/snapshot"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("State(missing) err = %v, want fs.ErrNotExist", err)
	}
	for _, v := range []string{"first", "second"} {
		if err := s.PutState(ctx, "correlate/snapshot", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, err := s.State(ctx, "correlate/snapshot")
		if err != nil || string(got) != v {
			t.Errorf("State = %q, %v; want %q", got, err, v)
		}
	}
	if err := s.PutState(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.State(ctx, "empty"); err != nil || len(got) != 0 {
		t.Errorf("State(empty) = %q, %v", got, err)
	}
	if err := s.DeleteState(ctx, "correlate/snapshot"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.State(ctx, "correlate/snapshot"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("State after delete err = %v, want fs.ErrNotExist", err)
	}
}

func TestPruneRetention(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	day := 24 * time.Hour
	old := mkEvent(t0.Add(-400*day), pg, "host.name", "db01", "message", "old and done")
	kept := mkEvent(t0.Add(-400*day), pg, "host.name", "db01", "message", "old but in an open incident")
	late := mkEvent(t0.Add(-400*day), pg, "host.name", "db01", "message", "old stamp, received late")
	late.Received = t0.Add(-day)
	young := mkEvent(t0.Add(-300*day), pg, "host.name", "db01", "message", "within retention")
	// Each in the batch it arrived in: a block holds what arrived together.
	for _, batch := range [][]event.Event{{old, kept}, {young}, {late}} {
		if _, err := s.WriteEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	a := mkAlert("r", event.LevelHigh, kept)
	if _, err := s.WriteAlerts(ctx, []event.Alert{a}); err != nil {
		t.Fatal(err)
	}
	inc := event.Incident{ID: event.NewID(t0), Title: "open", Severity: event.LevelHigh, Status: event.StatusNew}
	if err := s.UpsertIncident(ctx, inc, []event.ID{a.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Quarantine(ctx, []Quarantined{{Received: t0.Add(-400 * day), Source: "http", Reason: "bad"}, {Received: t0, Source: "http", Reason: "bad"}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Prune(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Expired != 1 || st.Quarantine != 1 || st.Evicted != 0 {
		t.Errorf("Prune = %+v, want 1 expired event, 1 quarantined item", st)
	}
	page, err := s.Events(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[event.ID]bool{}
	for _, e := range page.Items {
		got[e.ID] = true
	}
	if diff := cmp.Diff(map[event.ID]bool{kept.ID: true, late.ID: true, young.ID: true}, got); diff != "" {
		t.Errorf("events after Prune (-want +got):\n%s", diff)
	}
	// The full-text index forgot the deleted event.
	if page, err := s.Events(ctx, Query{Q: "done"}); err != nil || len(page.Items) != 0 {
		t.Errorf("full text finds %d deleted events, %v", len(page.Items), err)
	}
	// Once the incident is resolved its events may go too.
	resolved := event.StatusResolved
	if _, err := s.UpdateIncident(ctx, inc.ID, Patch{Status: &resolved}, "lan"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Prune(ctx, t0); err != nil || st.Expired != 1 {
		t.Errorf("Prune after resolving = %+v, %v; want 1 expired", st, err)
	}
	if _, err := s.Alert(ctx, a.ID); err != nil {
		t.Errorf("the alert went with its events: %v", err)
	}
}

func TestPruneBudget(t *testing.T) {
	const budget = 4 << 20
	s := openTest(t, Config{MaxBytes: budget})
	ctx := context.Background()
	evs := dbEvents(7, 24000, t0, time.Second)
	for i := 0; i < len(evs); i += 1000 {
		if _, err := s.WriteEvents(ctx, evs[i:i+1000]); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Bytes <= budget {
		t.Fatalf("the test data (%d bytes) does not exceed the budget", before.Bytes)
	}
	st, err := s.Prune(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Evicted == 0 || after.Bytes > budget || after.Events != before.Events-st.Evicted {
		t.Errorf("Prune = %+v; stats before %+v after %+v", st, before, after)
	}
	if st.Reclaimed <= 0 || after.FreeBytes != 0 {
		t.Errorf("incremental vacuum reclaimed %d bytes, %d left free", st.Reclaimed, after.FreeBytes)
	}
	// The oldest went first: the newest event is still there.
	page, err := s.Events(ctx, Query{Limit: 1})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != evs[len(evs)-1].ID {
		t.Errorf("newest event after eviction: %v, %v", page.Items, err)
	}
}

func TestStats(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	c := corpus()
	loadCorpus(t, s, c)
	if _, err := s.WriteAlerts(ctx, []event.Alert{mkAlert("r", event.LevelLow, c[0].ev)}); err != nil {
		t.Fatal(err)
	}
	for i, inc := range incidentSet(5) {
		if err := s.UpsertIncident(ctx, inc, nil); err != nil {
			t.Fatal(err, i)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Events: int64(len(c)), Alerts: 1, Incidents: 5, OpenIncidents: 3}
	if diff := cmp.Diff(want, st, cmpIgnoreBytes); diff != "" || st.Bytes <= 0 {
		t.Errorf("Stats (-want +got):\n%s (bytes %d)", diff, st.Bytes)
	}
}

var cmpIgnoreBytes = cmp.FilterPath(func(p cmp.Path) bool {
	f := p.Last().String()
	return f == ".Bytes" || f == ".FreeBytes"
}, cmp.Ignore())

// TestReadersSeeWrites checks that the read pool sees what the writer
// committed, and that reading while writing does not fail.
func TestReadersSeeWrites(t *testing.T) {
	s := openTest(t, Config{Readers: 2})
	ctx := context.Background()
	done := make(chan error)
	go func() {
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			_, err = s.WriteEvents(ctx, dbEvents(uint64(i), 200, t0.Add(time.Duration(i)*time.Hour), time.Second))
		}
		done <- err
	}()
	for reading := true; reading; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			reading = false
		default:
			if _, err := s.Events(ctx, Query{Q: "failed", Limit: 10}); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Events != 4000 {
		t.Errorf("after concurrent writes: %d events, %v; want 4000", st.Events, err)
	}
}

// openAtVersion creates a database of an older schema version and returns
// its path and its writer, for a test to fill as that version did.
func openAtVersion(t *testing.T, version int) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := openDB(Config{Path: path}.withDefaults(), modeWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(context.Background(), db, version, t0); err != nil {
		t.Fatal(err)
	}
	return path, db
}
