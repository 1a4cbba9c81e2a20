package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)

func openTest(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), FileName)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0.Add(24 * time.Hour) }
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// sample is a named event of the search corpus below.
type sample struct {
	name string
	ev   event.Event
}

func mkEvent(at time.Time, src event.LogSource, kv ...any) event.Event {
	e := event.Event{Time: at, Received: at.Add(time.Second), Source: src}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			e.Fields.Set(k, event.String(v))
		case int:
			e.Fields.Set(k, event.Int(int64(v)))
		case bool:
			e.Fields.Set(k, event.Bool(v))
		case event.Value:
			e.Fields.Set(k, v)
		}
	}
	e.ID = event.NewID(e.Received)
	return e
}

var pg = event.LogSource{Product: "postgresql", Category: "database"}

// corpus is what an analyst would find in the store after a small attack on
// a PostgreSQL server, plus noise.
func corpus() []sample {
	m := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	return []sample{
		{"fail1", mkEvent(m(1), pg, "host.name", "db01", "user.name", "postgres", "source.ip", "203.0.113.7",
			"message", "password authentication failed for user \"postgres\"", "event.outcome", "failure")},
		{"fail2", mkEvent(m(2), pg, "host.name", "db01", "user.name", "admin", "source.ip", "203.0.113.7",
			"message", "password authentication failed for user \"admin\"", "event.outcome", "failure")},
		{"login", mkEvent(m(3), pg, "host.name", "db01", "user.name", "admin", "source.ip", "203.0.113.7",
			"message", "connection authorized: user=admin database=hr", "event.outcome", "success", "db.name", "hr")},
		{"grant", mkEvent(m(4), pg, "host.name", "db01", "user.name", "admin", "db.name", "hr",
			"db.statement", "ALTER ROLE admin SUPERUSER", "db.operation", "ALTER", "message", "statement: ALTER ROLE admin SUPERUSER")},
		{"export", mkEvent(m(5), pg, "host.name", "db01", "user.name", "admin", "db.name", "hr",
			"db.statement", "COPY citizens TO '/tmp/x.csv'", "db.response.rows", 250000, "db.operation", "COPY")},
		{"select", mkEvent(m(6), pg, "host.name", "DB02", "user.name", "app", "db.name", "shop",
			"db.statement", "SELECT * FROM orders WHERE id = 1", "db.response.rows", 1, "db.operation", "SELECT")},
		{"syslog", mkEvent(m(7), event.LogSource{Product: "linux", Service: "sshd"}, "host.name", "web1",
			"message", "Accepted publickey for deploy from 198.51.100.4", "user.name", event.Strings("deploy", "root"),
			"process.pid", 812, "tls", false)},
		{"viet", mkEvent(m(8), event.LogSource{Product: "linux"}, "host.name", "web1",
			"message", "Đăng nhập thất bại cho người dùng quản trị", "labels.note", "100%_done")},
		{"old", mkEvent(t0.AddDate(0, -2, 0), pg, "host.name", "db01", "message", "server started")},
	}
}

func loadCorpus(t testing.TB, s *Store, c []sample) map[event.ID]string {
	t.Helper()
	evs := make([]event.Event, len(c))
	names := map[event.ID]string{}
	for i, smp := range c {
		evs[i] = smp.ev
		names[smp.ev.ID] = smp.name
	}
	n, err := s.WriteEvents(context.Background(), evs)
	if err != nil {
		t.Fatalf("WriteEvents: %v", err)
	}
	if n != len(evs) {
		t.Fatalf("WriteEvents inserted %d, want %d", n, len(evs))
	}
	return names
}

func TestEventsQuery(t *testing.T) {
	s := openTest(t, Config{})
	names := loadCorpus(t, s, corpus())
	tests := []struct {
		q    string
		want []string // newest first
	}{
		{"", []string{"viet", "syslog", "select", "export", "grant", "login", "fail2", "fail1", "old"}},
		{"*", []string{"viet", "syslog", "select", "export", "grant", "login", "fail2", "fail1", "old"}},
		{"failed", []string{"fail2", "fail1"}},
		{"FAILED Authentication", []string{"fail2", "fail1"}},
		{`"authentication failed"`, []string{"fail2", "fail1"}},
		{`"failed authentication"`, nil},
		{"authent*", []string{"fail2", "fail1"}},
		{"failed OR superuser", []string{"grant", "fail2", "fail1"}},
		{"failed NOT admin", []string{"fail1"}},
		{"message:started", []string{"old"}},
		{"message:superuser", []string{"grant"}},
		{"db.statement:superuser", []string{"grant"}},
		{`db.statement:"copy citizens"`, []string{"export"}},
		{"db.statement:*citizens*", []string{"export"}},
		{"dang nhap", []string{"viet"}},
		{"đăng nhập", []string{"viet"}},
		{"user.name:admin", []string{"export", "grant", "login", "fail2"}},
		{"user.name:ADMIN", []string{"export", "grant", "login", "fail2"}},
		{"user.name:adm*", []string{"export", "grant", "login", "fail2"}},
		{"user.name:?dmin AND db.name:hr", []string{"export", "grant", "login"}},
		{"user.name:(postgres OR app)", []string{"select", "fail1"}},
		{"user.name:root", []string{"syslog"}},
		{"user.name:ro*", []string{"syslog"}},
		{"host.name:db01", []string{"export", "grant", "login", "fail2", "fail1", "old"}},
		{"host.name:db02", []string{"select"}},
		{"host.name:db*", []string{"select", "export", "grant", "login", "fail2", "fail1", "old"}},
		{"host.name:db0? AND NOT host.name:db01", []string{"select"}},
		{"logsource.product:linux", []string{"viet", "syslog"}},
		{"logsource.service:sshd", []string{"syslog"}},
		{"event.outcome:failure AND source.ip:203.0.113.7", []string{"fail2", "fail1"}},
		{"source.ip:203.0.113.*", []string{"login", "fail2", "fail1"}},
		{"source.ip:*", []string{"login", "fail2", "fail1"}},
		{"NOT source.ip:* AND host.name:db01", []string{"export", "grant", "old"}},
		{"db.response.rows >= 1000", []string{"export"}},
		{"db.response.rows:>0", []string{"select", "export"}},
		{"db.response.rows:[1 TO 10]", []string{"select"}},
		{"db.response.rows:{1 TO 250000]", []string{"export"}},
		{"db.response.rows:250000", []string{"export"}},
		{"db.response.rows:2500", nil},
		{"process.pid:812", []string{"syslog"}},
		{"tls:false", []string{"syslog"}},
		{"db.operation:[ALTER TO COPY]", []string{"export", "grant"}},
		{`labels.note:100%_done`, []string{"viet"}},
		{`labels.note:100%*`, []string{"viet"}},
		{`labels.note:1000*`, nil},
		{"@timestamp:[2026-03-10T08:02:00Z TO 2026-03-10T08:04:00Z]", []string{"grant", "login", "fail2"}},
		{"@timestamp:{2026-03-10T08:02:00Z TO 2026-03-10T08:04:00Z}", []string{"login"}},
		{"@timestamp:2026-03-10", []string{"viet", "syslog", "select", "export", "grant", "login", "fail2", "fail1"}},
		{"@timestamp < 2026-03-10", []string{"old"}},
		{"@timestamp:[* TO 2026-03-10]", []string{"viet", "syslog", "select", "export", "grant", "login", "fail2", "fail1", "old"}},
		{"@timestamp:{2026-03-09 TO *}", []string{"viet", "syslog", "select", "export", "grant", "login", "fail2", "fail1"}},
		{"@timestamp >= now-30d", []string{"viet", "syslog", "select", "export", "grant", "login", "fail2", "fail1"}},
		{"(failed OR db.operation:COPY) AND user.name:admin", []string{"export", "fail2"}},
		{"-user.name:admin host.name:db01", []string{"fail1", "old"}},
		{`"/tmp/x.csv"`, []string{"export"}}, // the statement's words: tmp x csv
		{`db.statement:"tmp x csv"`, []string{"export"}},
		{"nothing_here", nil},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			page, err := s.Events(context.Background(), Query{Q: tt.q})
			if err != nil {
				t.Fatalf("Events(%q): %v", tt.q, err)
			}
			var got []string
			for _, e := range page.Items {
				got = append(got, names[e.ID])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Events(%q) hits (-want +got):\n%s", tt.q, diff)
			}
			if page.Next != "" {
				t.Errorf("Events(%q) has a next page on a short result", tt.q)
			}
		})
	}
}

func TestEventsRoundTrip(t *testing.T) {
	s := openTest(t, Config{})
	c := corpus()
	loadCorpus(t, s, c)
	page, err := s.Events(context.Background(), Query{Q: "logsource.service:sshd"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("got %d events, want 1", len(page.Items))
	}
	want := c[6].ev
	if diff := cmp.Diff(want, page.Items[0]); diff != "" {
		t.Errorf("stored event differs (-want +got):\n%s", diff)
	}
}

// TestWriteEncodedStoresTheGivenDocuments: events written with their JSON
// at hand read back as those written without it, and are searchable alike.
func TestWriteEncodedStoresTheGivenDocuments(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	// More than one insert chunk, so that a document given to the wrong
	// event shows.
	c := corpus()
	n := 2*insertChunk + 3
	evs := make([]event.Event, n)
	docs := make([]string, n)
	for i := range n {
		evs[i] = c[i%len(c)].ev
		evs[i].ID = event.NewID(evs[i].Received)
		evs[i].Fields = evs[i].Fields.Clone()
		evs[i].Fields.Set("n", event.Int(int64(i)))
		docs[i] = string(evs[i].AppendJSON(nil))
	}
	if _, err := s.WriteEncoded(ctx, evs, docs[:1]); err == nil {
		t.Error("one document for many events was accepted")
	}
	if n, err := s.WriteEncoded(ctx, evs, docs); err != nil || n != len(evs) {
		t.Fatalf("WriteEncoded: %d, %v; want %d, nil", n, err, len(evs))
	}
	page, err := s.Events(ctx, Query{Limit: len(evs)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[event.ID]event.Event{}
	for _, e := range page.Items {
		got[e.ID] = e
	}
	for _, e := range evs {
		if diff := cmp.Diff(e, got[e.ID]); diff != "" {
			t.Errorf("event %s read back differs (-want +got):\n%s", e.ID, diff)
		}
	}
	page, err = s.Events(ctx, Query{Q: "n:130"})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != evs[130].ID {
		t.Errorf("query over encoded events: %d events, %v; want event 130", len(page.Items), err)
	}
}

func TestWriteEventsIdempotent(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	evs := []event.Event{
		mkEvent(t0, pg, "message", "one"),
		mkEvent(t0, pg, "message", "two"),
	}
	if n, err := s.WriteEvents(ctx, evs); err != nil || n != 2 {
		t.Fatalf("first write: %d, %v; want 2, nil", n, err)
	}
	// Re-delivery of the batch plus one new event, with a duplicate inside.
	again := append(slices.Clone(evs), mkEvent(t0, pg, "message", "three"))
	again = append(again, again[2])
	if n, err := s.WriteEvents(ctx, again); err != nil || n != 1 {
		t.Fatalf("re-delivery: %d, %v; want 1, nil", n, err)
	}
	page, err := s.Events(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Errorf("stored %d events, want 3", len(page.Items))
	}
	// Full text does not see the re-delivered copies twice either.
	page, err = s.Events(ctx, Query{Q: "one OR two OR three"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Errorf("full text finds %d events, want 3", len(page.Items))
	}
	if err := s.Sync(ctx); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if _, err := s.WriteEvents(ctx, []event.Event{{Time: t0}}); !errors.Is(err, ErrNoID) {
		t.Errorf("event without id: err = %v, want ErrNoID", err)
	}
}

func TestEventsPaging(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	var evs []event.Event
	for i := range 25 {
		// Several events share a time: the keyset must still be exact.
		evs = append(evs, mkEvent(t0.Add(time.Duration(i/3)*time.Second), pg, "host.name", "db01", "n", i))
	}
	if _, err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var got []event.ID
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := s.Events(ctx, Query{Q: "host.name:db01", Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			got = append(got, e.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	var want []event.ID
	for i := len(evs) - 1; i >= 0; i-- {
		want = append(want, evs[i].ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
	if _, err := s.Events(ctx, Query{Cursor: "bogus"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: err = %v, want ErrBadCursor", err)
	}
	// From and To bound the time.
	page, err := s.Events(ctx, Query{From: t0.Add(2 * time.Second), To: t0.Add(4 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 6 {
		t.Errorf("From/To: %d events, want 6", len(page.Items))
	}
}

func TestEventsQueryErrors(t *testing.T) {
	s := openTest(t, Config{})
	loadCorpus(t, s, corpus())
	tests := []struct {
		q      string
		column int
	}{
		{"user.name:(admin", 11},
		{"@timestamp:[yesterday TO now]", 1},
		{"host.name:db01 AND event.id:xyz", 20},
		{`x AND a\"b:1`, 7},
		{"@timestamp:20*", 1},
		{"@timestamp >= now-1y", 1},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			_, err := s.Events(context.Background(), Query{Q: tt.q})
			var qe *query.Error
			if !errors.As(err, &qe) {
				t.Fatalf("Events(%q) err = %v, want a *query.Error", tt.q, err)
			}
			if qe.Column != tt.column {
				t.Errorf("Events(%q) error at column %d, want %d (%v)", tt.q, qe.Column, tt.column, qe)
			}
		})
	}
}

// TestEventsInjection: values that look like SQL are only ever data.
func TestEventsInjection(t *testing.T) {
	s := openTest(t, Config{})
	loadCorpus(t, s, corpus())
	for _, q := range []string{
		`user.name:"admin' OR '1'='1"`,
		`user.name:admin\'\)\ OR\ 1=1--`,
		`"x\") OR 1=1 --"`,
		`f\"\)\ OR\ 1:1`,
		`user.name:"x" OR db.name:"'; DROP TABLE events; --"`,
	} {
		page, err := s.Events(context.Background(), Query{Q: q})
		var qe *query.Error
		if err != nil && !errors.As(err, &qe) {
			t.Errorf("Events(%q): %v", q, err)
		}
		if len(page.Items) != 0 {
			t.Errorf("Events(%q) found %d events, want none", q, len(page.Items))
		}
	}
	page, err := s.Events(context.Background(), Query{})
	if err != nil || len(page.Items) != len(corpus()) {
		t.Errorf("after the attempts: %d events, %v; want %d", len(page.Items), err, len(corpus()))
	}
}

// TestEventsCommonAndRareWords checks full-text results against a plain
// scan of the events, for words common enough to change how the query runs.
func TestEventsCommonAndRareWords(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	n := 6500
	evs := dbEvents(3, n, t0, time.Second)
	// Stored out of time order, as late deliveries are: the storage order
	// (seq) and the time order differ.
	shuffled := slices.Clone(evs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 0; i < n; i += 2000 {
		if _, err := s.WriteEvents(ctx, shuffled[i:min(i+2000, n)]); err != nil {
			t.Fatal(err)
		}
	}
	words := func(e event.Event) map[string]bool {
		out := map[string]bool{}
		for _, w := range strings.FieldsFunc(strings.ToLower(e.Fields.Str("message")+" "+e.Fields.Str("db.statement")), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
		}) {
			out[w] = true
		}
		return out
	}
	tests := []struct {
		q    string
		keep func(e event.Event) bool
	}{
		{"from", func(e event.Event) bool { return words(e)["from"] }},
		{"from AND lock", func(e event.Event) bool { return words(e)["lock"] }},
		{"from AND NOT lock", func(e event.Event) bool { return !words(e)["lock"] }},
		{"t_42", func(e event.Event) bool { return words(e)["t_42"] }},
		{"from t_42", func(e event.Event) bool { return words(e)["t_42"] }},
		{"from OR t_42", func(e event.Event) bool { return true }},
		{"from AND user.name:etl", func(e event.Event) bool { return e.Fields.Str("user.name") == "etl" }},
		{"from AND user.name:etl AND db.name:hr", func(e event.Event) bool {
			return e.Fields.Str("user.name") == "etl" && e.Fields.Str("db.name") == "hr"
		}},
		{"from AND @timestamp:[2026-03-10T08:16:40Z TO 2026-03-10T08:20:00Z}", func(e event.Event) bool {
			return !e.Time.Before(t0.Add(1000*time.Second)) && e.Time.Before(t0.Add(1200*time.Second))
		}},
		{"from AND @timestamp:[2026-03-10T08:16:40Z TO 2026-03-10T08:20:00Z} AND lock", func(e event.Event) bool {
			return !e.Time.Before(t0.Add(1000*time.Second)) && e.Time.Before(t0.Add(1200*time.Second)) && words(e)["lock"]
		}},
		{"from AND db.operation:COPY AND db.response.rows >= 4900", func(e event.Event) bool {
			r, _ := e.Fields.Get("db.response.rows")
			f, _ := r.Float()
			return e.Fields.Str("db.operation") == "COPY" && f >= 4900
		}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			var want []event.ID
			for i := n - 1; i >= 0 && len(want) < 150; i-- {
				if tt.keep(evs[i]) {
					want = append(want, evs[i].ID)
				}
			}
			var got []event.ID
			cursor := ""
			for len(got) < len(want) {
				page, err := s.Events(ctx, Query{Q: tt.q, Limit: 75, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page.Items {
					got = append(got, e.ID)
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			got = got[:min(len(got), 150)]
			if len(want) == 0 {
				t.Fatal("the case selects nothing")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Events(%q) (-want +got):\n%s", tt.q, diff)
			}
		})
	}
}

func TestEventsTimeout(t *testing.T) {
	s := openTest(t, Config{QueryTimeout: time.Nanosecond})
	loadCorpus(t, s, corpus())
	_, err := s.Events(context.Background(), Query{Q: "user.name:admin"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Events with a spent timeout: err = %v, want context.DeadlineExceeded", err)
	}
}

// TestWriteEventsLargeBatch writes more events in one call than one
// full-text statement takes (ftsBytes of text), and finds the text of each
// side of the cuts.
func TestWriteEventsLargeBatch(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	filler := strings.Repeat("x", 1000)
	n := 2*ftsBytes/len(filler) + insertChunk + 7
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = mkEvent(t0.Add(time.Duration(i)*time.Millisecond), pg, "message", fmt.Sprintf("marker%d %s", i, filler))
	}
	if got, err := s.WriteEvents(ctx, evs); err != nil || got != n {
		t.Fatalf("WriteEvents = %d, %v; want %d", got, err, n)
	}
	for _, i := range []int{0, n / 2, n/2 + 1, n - insertChunk, n - 1} {
		q := fmt.Sprintf("marker%d", i)
		page, err := s.Events(ctx, Query{Q: q})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != evs[i].ID {
			t.Errorf("Events(%q) = %d events, %v; want event %d", q, len(page.Items), err, i)
		}
	}
}
