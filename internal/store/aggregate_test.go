package store

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func aggStore(t *testing.T) *Store {
	t.Helper()
	s := openTest(t, Config{})
	ctx := context.Background()
	var evs []event.Event
	for _, smp := range corpus() {
		evs = append(evs, smp.ev)
	}
	my := event.LogSource{Product: "mysql", Category: "database"}
	evs = append(evs, mkEvent(t0.Add(90*time.Minute), my, "host.name", "web01", "message", "select 1"))
	if _, err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	alert := func(min int, rule, title string, lvl event.Level, host, user, db string, tags ...string) event.Alert {
		at := t0.Add(time.Duration(min) * time.Minute)
		return event.Alert{ID: event.NewID(at), RuleID: rule, RuleTitle: title, Level: lvl, Engine: "sigma", Time: at, Created: at,
			Host: host, User: user, Database: db, Tags: tags, EventIDs: []event.ID{evs[0].ID}}
	}
	if _, err := s.WriteAlerts(ctx, []event.Alert{
		alert(1, "brute", "Brute force", event.LevelHigh, "db01", "postgres", "", "attack.credential-access", "attack.t1110"),
		alert(2, "brute", "Brute force", event.LevelHigh, "db01", "admin", "", "attack.credential-access", "attack.t1110", "attack.t1110.001"),
		alert(3, "export", "Export", event.LevelCritical, "db01", "admin", "hr", "attack.exfiltration", "attack.collection", "attack.t1005"),
		alert(4, "tamper", "Audit off", event.LevelMedium, "db02", "", "", "attack.defense-evasion"),
		alert(5, "odd", "Technique only", event.LevelLow, "", "", "", "attack.t1078", "attack.g0016"),
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSpan(t *testing.T) {
	s := openTest(t, Config{})
	tests := []struct {
		name     string
		from, to time.Time
		n        int
		want     Span
		wantErr  bool
	}{
		{"an hour in minutes", t0, t0.Add(time.Hour), 60, Span{From: t0, To: t0.Add(time.Hour), Step: time.Minute, Buckets: 60}, false},
		{"an hour in 5 minutes", t0, t0.Add(time.Hour), 20, Span{From: t0, To: t0.Add(time.Hour), Step: 5 * time.Minute, Buckets: 12}, false},
		{"aligned down", t0.Add(90 * time.Second), t0.Add(10 * time.Minute), 10, Span{From: t0.Add(time.Minute), To: t0.Add(10 * time.Minute), Step: time.Minute, Buckets: 9}, false},
		{"defaults: the day before now", time.Time{}, time.Time{}, 24, Span{From: t0, To: t0.Add(24 * time.Hour), Step: time.Hour, Buckets: 24}, false},
		{"empty", t0, t0, 10, Span{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.NewSpan(tt.from, tt.to, tt.n)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewSpan() error %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewSpan() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventHistogram(t *testing.T) {
	s := aggStore(t)
	ctx := context.Background()
	sp, err := s.NewSpan(t0, t0.Add(2*time.Hour), 4) // 30-minute buckets
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q    string
		want []int64
	}{
		{"", nil}, // filled below: every event
		{"host.name:web01", []int64{0, 0, 0, 1}},
		{`message:"authentication failed"`, []int64{2, 0, 0, 0}},
		{"user.name:nobody", []int64{0, 0, 0, 0}},
	}
	all, err := s.Events(ctx, Query{From: sp.From, To: sp.To, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	tests[0].want = make([]int64, 4)
	for _, e := range all.Items {
		tests[0].want[e.Time.Sub(sp.From)/sp.Step]++
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			h, err := s.EventHistogram(ctx, tt.q, sp)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Series) != 1 {
				t.Fatalf("%d series, want 1", len(h.Series))
			}
			if diff := cmp.Diff(tt.want, h.Series[0].Counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
	var qe *query.Error
	if _, err := s.EventHistogram(ctx, "host.name:(", sp); !errors.As(err, &qe) {
		t.Errorf("a bad query: %v, want a *query.Error", err)
	}
}

func TestRates(t *testing.T) {
	s := aggStore(t)
	ctx := context.Background()
	sp, err := s.NewSpan(t0, t0.Add(2*time.Hour), 2) // hours
	if err != nil {
		t.Fatal(err)
	}
	er, err := s.EventRate(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]int64{}
	for _, sr := range er.Series {
		keys[sr.Key] = sr.Counts
	}
	if got := keys["mysql/database"]; !cmp.Equal(got, []int64{0, 1}) {
		t.Errorf("mysql/database rate %v, want [0 1]", got)
	}
	if got := keys["postgresql/database"]; len(got) != 2 || got[0] == 0 {
		t.Errorf("postgresql/database rate %v, want events in the first hour", got)
	}
	ar, err := s.AlertRate(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	want := []Series{
		{Key: "critical", Counts: []int64{1, 0}, Total: 1},
		{Key: "high", Counts: []int64{2, 0}, Total: 2},
		{Key: "medium", Counts: []int64{1, 0}, Total: 1},
		{Key: "low", Counts: []int64{1, 0}, Total: 1},
	}
	if diff := cmp.Diff(want, ar.Series); diff != "" {
		t.Errorf("alert rate (-want +got):\n%s", diff)
	}
}

func TestTopAlerts(t *testing.T) {
	s := aggStore(t)
	min := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		dim   AlertDim
		since time.Time
		want  []Count
	}{
		{ByRule, t0, []Count{{"brute\tBrute force", 2, min(2)}, {"export\tExport", 1, min(3)}, {"odd\tTechnique only", 1, min(5)}, {"tamper\tAudit off", 1, min(4)}}},
		{ByHost, t0, []Count{{"db01", 3, min(3)}, {"db02", 1, min(4)}}},
		{ByUser, t0, []Count{{"admin", 2, min(3)}, {"postgres", 1, min(1)}}},
		{ByDatabase, t0, []Count{{"hr", 1, min(3)}}},
		{ByHost, min(4), []Count{{"db02", 1, min(4)}}},
	}
	for _, tt := range tests {
		t.Run(string(tt.dim), func(t *testing.T) {
			got, err := s.TopAlerts(context.Background(), tt.dim, tt.since, 10)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TopAlerts(%s) (-want +got):\n%s", tt.dim, diff)
			}
		})
	}
	if _, err := s.TopAlerts(context.Background(), "colour", t0, 10); err == nil {
		t.Error("an unknown dimension: no error")
	}
}

func TestAttackCounts(t *testing.T) {
	s := aggStore(t)
	got, err := s.AttackCounts(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []TagCount{
		{"", "attack.t1078", 1},
		{"attack.collection", "attack.t1005", 1},
		{"attack.credential-access", "attack.t1110", 2},
		{"attack.credential-access", "attack.t1110.001", 1},
		{"attack.defense-evasion", "", 1},
		{"attack.exfiltration", "attack.t1005", 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AttackCounts (-want +got):\n%s", diff)
	}
}

func TestFleetAndRuleHits(t *testing.T) {
	s := aggStore(t)
	ctx := context.Background()
	fleet, caughtUp, err := s.Fleet(ctx, time.Time{})
	if err != nil || !caughtUp {
		t.Fatalf("Fleet: %v, caught up %v", err, caughtUp)
	}
	byKey := map[string]SourceSeen{}
	for _, f := range fleet {
		byKey[f.Host+" "+f.Source] = f
	}
	at := t0.Add(90 * time.Minute)
	web := SourceSeen{Host: "web01", Source: "mysql/database", Events: 1, First: at.Add(time.Second), Last: at, Received: at.Add(time.Second)}
	if diff := cmp.Diff(web, byKey["web01 mysql/database"]); diff != "" {
		t.Errorf("web01 (-want +got):\n%s", diff)
	}
	if fleet[len(fleet)-1] != web {
		t.Errorf("the freshest source %+v is not last", fleet[len(fleet)-1])
	}
	if later, _, err := s.Fleet(ctx, t0.Add(time.Hour)); err != nil || len(later) != 1 {
		t.Errorf("Fleet(an hour on) = %v, %v; want only web01", later, err)
	}

	// New events are folded in at the next call, once; hosts compare
	// without case, as the events' columns do.
	my := event.LogSource{Product: "mysql", Category: "database"}
	more := []event.Event{
		mkEvent(at.Add(time.Hour), my, "host.name", "WEB01", "message", "select 2"),
		mkEvent(at.Add(2*time.Hour), event.LogSource{Product: "linux", Service: "sshd"}, "host.name", "bastion", "message", "Accepted publickey"),
	}
	if _, err := s.WriteEvents(ctx, more); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if fleet, _, err = s.Fleet(ctx, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	want := []SourceSeen{
		{Host: "web01", Source: "mysql/database", Events: 2, First: at.Add(time.Second), Last: at.Add(time.Hour), Received: at.Add(time.Hour + time.Second)},
		{Host: "bastion", Source: "linux/sshd", Events: 1, First: at.Add(2*time.Hour + time.Second), Last: at.Add(2 * time.Hour), Received: at.Add(2*time.Hour + time.Second)},
	}
	if diff := cmp.Diff(want, fleet); diff != "" {
		t.Errorf("Fleet after more events (-want +got):\n%s", diff)
	}

	hits, err := s.RuleHits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Count{"brute", 2, t0.Add(2 * time.Minute)}, hits["brute"]); diff != "" {
		t.Errorf("hits of brute (-want +got):\n%s", diff)
	}
	if len(hits) != 4 {
		t.Errorf("%d rules hit, want 4", len(hits))
	}
}

func TestFieldNames(t *testing.T) {
	s := aggStore(t)
	got, err := s.FieldNames(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range got {
		have[f] = true
	}
	for _, want := range []string{"host.name", "user.name", "source.ip", "message", "@timestamp"} {
		if !have[want] {
			t.Errorf("FieldNames lacks %q: %v", want, got)
		}
	}
}

func TestSavedSearches(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	a, err := s.SaveSearch(ctx, SavedSearch{Name: " failed logins ", Query: "event.outcome:failure", Owner: "lan"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveSearch(ctx, SavedSearch{Name: "exports", Query: "db.response.rows >= 1000", Owner: "minh"}); err != nil {
		t.Fatal(err)
	}
	// The same name replaces.
	if _, err := s.SaveSearch(ctx, SavedSearch{Name: "failed logins", Query: "event.outcome:failure AND host.name:db01", Owner: "minh"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SavedSearches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []SavedSearch{
		{Name: "exports", Query: "db.response.rows >= 1000", Owner: "minh"},
		{ID: a.ID, Name: "failed logins", Query: "event.outcome:failure AND host.name:db01", Owner: "minh"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(SavedSearch{}, "Created"), cmpopts.IgnoreFields(SavedSearch{}, "ID")); diff != "" {
		t.Errorf("SavedSearches (-want +got):\n%s", diff)
	}
	if got[1].ID != a.ID {
		t.Errorf("replacing changed the id: %d, want %d", got[1].ID, a.ID)
	}
	if _, err := s.SaveSearch(ctx, SavedSearch{Name: "", Query: "x", Owner: "lan"}); err == nil {
		t.Error("a search without a name was saved")
	}
	if err := s.DeleteSearch(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSearch(ctx, a.ID); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleting twice: %v, want fs.ErrNotExist", err)
	}
}

// TestEventHistogramCommonWord: a word in most events of many blocks; the
// counts stay exact.
func TestEventHistogramCommonWord(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	var evs []event.Event
	for i := range 10000 {
		msg := "password authentication failed"
		if i%4 == 0 {
			msg = "connection authorized"
		}
		evs = append(evs, mkEvent(t0.Add(time.Duration(i)*10*time.Second), pg, "host.name", "db01", "message", msg))
	}
	if _, err := s.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	sp, err := s.NewSpan(t0.Add(10*time.Hour), t0.Add(20*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, sp.Buckets)
	for _, e := range evs {
		if !e.Time.Before(sp.From) && e.Time.Before(sp.To) && strings.Contains(e.Fields.Str("message"), "failed") {
			want[e.Time.Sub(sp.From)/sp.Step]++
		}
	}
	h, err := s.EventHistogram(ctx, `message:"authentication failed"`, sp)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, h.Series[0].Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	// Every event: blocks within one bucket count whole, those across two
	// event by event; the span cuts some.
	sp.From = sp.From.Add(7 * time.Minute)
	all := make([]int64, sp.Buckets)
	for _, e := range evs {
		if !e.Time.Before(sp.From) && e.Time.Before(sp.To) {
			if i := e.Time.Sub(sp.From) / sp.Step; i < time.Duration(sp.Buckets) {
				all[i]++
			}
		}
	}
	if h, err = s.EventHistogram(ctx, "", sp); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all, h.Series[0].Counts); diff != "" {
		t.Errorf("counts of every event (-want +got):\n%s", diff)
	}
}

func TestOpenIncidentCounts(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	for i, tc := range []struct {
		sev    event.Level
		status event.Status
	}{
		{event.LevelCritical, event.StatusNew}, {event.LevelCritical, event.StatusInvestigating},
		{event.LevelHigh, event.StatusAcknowledged}, {event.LevelHigh, event.StatusResolved}, {event.LevelLow, event.StatusFalsePositive},
	} {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := s.UpsertIncident(ctx, event.Incident{ID: event.NewID(at), Title: "x", Severity: tc.sev, Status: tc.status, Created: at, Updated: at}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.OpenIncidentCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"critical": 2, "high": 1}, got); diff != "" {
		t.Errorf("OpenIncidentCounts (-want +got):\n%s", diff)
	}
}

func TestFieldValues(t *testing.T) {
	s := aggStore(t)
	ctx := context.Background()
	got, err := s.FieldValues(ctx, "user.name", 1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, smp := range corpus() {
		if u := smp.ev.Fields.Str("user.name"); u != "" {
			counts[u]++
		}
	}
	for _, c := range got {
		if int64(counts[c.Key]) != c.Count {
			t.Errorf("%s counted %d times, want %d", c.Key, c.Count, counts[c.Key])
		}
	}
	if len(got) != 2 || got[0].Count < got[1].Count {
		t.Errorf("FieldValues = %+v: want the two most frequent, most first", got)
	}
	for _, bad := range []string{"", `x"]`, "a b", "$.x"} {
		if _, err := s.FieldValues(ctx, bad, 10, 10); err == nil {
			t.Errorf("FieldValues(%q): no error", bad)
		}
	}
}

// TestEventRateRollup: rates read from event_rates count what the events
// count: redelivered events once, deleted events no more, and the part of
// the last second before To from the events themselves.
func TestEventRateRollup(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	sources := []event.LogSource{pg, {Product: "mysql", Category: "database"}, {Product: "linux", Service: "sshd"}}
	evs := dbEvents(81, 3000, t0, 1234*time.Millisecond)
	for i := range evs {
		evs[i].Source = sources[i%3]
	}
	day := 24 * time.Hour
	old := dbEvents(82, 500, t0.Add(-400*day), time.Second)
	for _, batch := range [][]event.Event{old, evs[:2000], evs[1000:], evs[:10]} { // redeliveries among them
		if _, err := s.WriteEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.Prune(ctx, t0); err != nil || st.Expired != 500 {
		t.Fatalf("Prune = %+v, %v", st, err)
	}
	check := func(sp Span) {
		t.Helper()
		want := map[string][]int64{}
		for _, e := range evs {
			if b := sp.bucket(nanos(e.Time)); b >= 0 && e.Time.Before(sp.To) {
				k := sourceKey(e.Source.Product, e.Source.Category, e.Source.Service)
				if want[k] == nil {
					want[k] = make([]int64, sp.Buckets)
				}
				want[k][b]++
			}
		}
		h, err := s.EventRate(ctx, sp)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]int64{}
		for _, sr := range h.Series {
			got[sr.Key] = sr.Counts
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("EventRate(%v to %v by %v) (-want +got):\n%s", sp.From, sp.To, sp.Step, diff)
		}
	}
	for _, sp := range []Span{
		{From: t0, To: t0.Add(time.Hour), Step: time.Minute, Buckets: 60},
		{From: t0.Add(10 * time.Minute), To: t0.Add(30*time.Minute + 500*time.Millisecond), Step: 10 * time.Second, Buckets: 121},
		{From: t0.Add(1500 * time.Millisecond), To: t0.Add(20 * time.Minute), Step: 7 * time.Second, Buckets: 172}, // counted from the events
		{From: t0.Add(-400 * day), To: t0.Add(-399 * day), Step: time.Hour, Buckets: 24},                           // pruned
	} {
		check(sp)
	}
}
