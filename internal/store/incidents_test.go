package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

func mkAlert(rule string, level event.Level, evs ...event.Event) event.Alert {
	ids := make([]event.ID, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	last := evs[len(evs)-1]
	return event.Alert{
		ID: event.DeriveID(rule, ids), RuleID: rule, RuleTitle: "title of " + rule, Level: level, Engine: "sigma",
		Time: last.Time, Created: last.Received, Tags: []string{"attack.t1110"}, EventIDs: ids,
		Host: last.Host(), User: last.Fields.Str("user.name"), Summary: rule + " on " + last.Host(),
	}
}

func TestAlerts(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	c := corpus()
	loadCorpus(t, s, c)
	brute := mkAlert("pg-brute-force", event.LevelHigh, c[0].ev, c[1].ev, c[2].ev)
	priv := mkAlert("pg-superuser", event.LevelCritical, c[3].ev)
	export := mkAlert("pg-mass-export", event.LevelMedium, c[4].ev)
	ssh := mkAlert("ssh-login", event.LevelLow, c[6].ev)
	all := []event.Alert{brute, priv, export, ssh}
	if n, err := s.WriteAlerts(ctx, all); err != nil || n != 4 {
		t.Fatalf("WriteAlerts = %d, %v; want 4, nil", n, err)
	}
	// Reprocessing the same events makes the same alerts: nothing new.
	if n, err := s.WriteAlerts(ctx, all); err != nil || n != 0 {
		t.Fatalf("WriteAlerts again = %d, %v; want 0, nil", n, err)
	}
	ids := func(as []event.Alert) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.RuleID)
		}
		return out
	}
	tests := []struct {
		name string
		q    AlertQuery
		want []string
	}{
		{"all", AlertQuery{}, []string{"ssh-login", "pg-mass-export", "pg-superuser", "pg-brute-force"}},
		{"high and above", AlertQuery{Level: event.LevelHigh}, []string{"pg-superuser", "pg-brute-force"}},
		{"one rule", AlertQuery{RuleID: "pg-mass-export"}, []string{"pg-mass-export"}},
		{"host", AlertQuery{Host: "DB01"}, []string{"pg-mass-export", "pg-superuser", "pg-brute-force"}},
		{"since", AlertQuery{Since: c[4].ev.Time}, []string{"ssh-login", "pg-mass-export"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.Alerts(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(page.Items)); diff != "" {
				t.Errorf("Alerts (-want +got):\n%s", diff)
			}
		})
	}
	// Paging one by one gives every alert once.
	var got []event.Alert
	cursor := ""
	for range 10 {
		page, err := s.Alerts(ctx, AlertQuery{Limit: 1, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if diff := cmp.Diff([]event.Alert{ssh, export, priv, brute}, got); diff != "" {
		t.Errorf("paged alerts (-want +got):\n%s", diff)
	}
	evs, err := s.AlertEvents(ctx, brute.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]event.Event{c[0].ev, c[1].ev, c[2].ev}, evs); diff != "" {
		t.Errorf("AlertEvents (-want +got):\n%s", diff)
	}
	if _, err := s.Alert(ctx, event.NewID(t0)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Alert(unknown) err = %v, want fs.ErrNotExist", err)
	}
}

func TestIncidentLifecycle(t *testing.T) {
	now := t0.Add(time.Hour)
	s := openTest(t, Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	c := corpus()
	loadCorpus(t, s, c)
	brute := mkAlert("pg-brute-force", event.LevelHigh, c[0].ev, c[1].ev)
	priv := mkAlert("pg-superuser", event.LevelCritical, c[3].ev)
	if _, err := s.WriteAlerts(ctx, []event.Alert{brute, priv}); err != nil {
		t.Fatal(err)
	}
	inc := event.Incident{
		ID: event.NewID(t0), Title: "Brute force then privilege escalation on db01", Severity: event.LevelHigh,
		Status: event.StatusNew, Key: "host=db01", Created: t0, Updated: t0, FirstSeen: c[0].ev.Time, LastSeen: c[1].ev.Time,
		Entities: []event.Entity{{Kind: "host", Value: "db01"}}, Tactics: []string{"credential-access"}, AlertCount: 1,
		System: "hr-system",
	}
	if err := s.UpsertIncident(ctx, inc, []event.ID{brute.ID}); err != nil {
		t.Fatal(err)
	}
	// An analyst takes it.
	status, who := event.StatusInvestigating, "lan"
	now = t0.Add(2 * time.Hour)
	got, err := s.UpdateIncident(ctx, inc.ID, Patch{Status: &status, Assignee: &who}, "lan")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != status || got.Assignee != who || !got.Updated.Equal(now) {
		t.Errorf("after update: status %s assignee %q updated %v; want %s %q %v", got.Status, got.Assignee, got.Updated, status, who, now)
	}
	// The grouper adds an alert: its fields change, the analyst's do not.
	inc.Severity, inc.LastSeen, inc.Tactics, inc.AlertCount = event.LevelCritical, c[3].ev.Time, []string{"credential-access", "privilege-escalation"}, 2
	inc.Updated = t0.Add(90 * time.Minute)
	if err := s.UpsertIncident(ctx, inc, []event.ID{priv.ID}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Incident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := inc
	want.Status, want.Assignee, want.Updated = status, who, now.UTC()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incident after regrouping (-want +got):\n%s", diff)
	}
	// A patch that changes nothing records nothing.
	if _, err := s.UpdateIncident(ctx, inc.ID, Patch{Assignee: &who}, "lan"); err != nil {
		t.Fatal(err)
	}
	resolved, nobody := event.StatusResolved, ""
	now = t0.Add(3 * time.Hour)
	if _, err := s.UpdateIncident(ctx, inc.ID, Patch{Status: &resolved, Assignee: &nobody}, "minh"); err != nil {
		t.Fatal(err)
	}
	hist, err := s.History(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantHist := []Change{
		{inc.ID, t0.Add(2 * time.Hour), "lan", "status", "new", "investigating"},
		{inc.ID, t0.Add(2 * time.Hour), "lan", "assignee", "", "lan"},
		{inc.ID, t0.Add(3 * time.Hour), "minh", "status", "investigating", "resolved"},
		{inc.ID, t0.Add(3 * time.Hour), "minh", "assignee", "lan", ""},
	}
	if diff := cmp.Diff(wantHist, hist); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	if _, err := s.AddNote(ctx, inc.ID, "lan", "Blocked 203.0.113.7 at the firewall."); err != nil {
		t.Fatal(err)
	}
	notes, err := s.Notes(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Text != "Blocked 203.0.113.7 at the firewall." || notes[0].Actor != "lan" || !notes[0].Time.Equal(now) {
		t.Errorf("Notes = %+v", notes)
	}
	alerts, err := s.IncidentAlerts(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]event.Alert{brute, priv}, alerts); diff != "" {
		t.Errorf("IncidentAlerts (-want +got):\n%s", diff)
	}
	open, err := s.OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 0 {
		t.Errorf("OpenIncidents after resolving = %d incidents, want 0", len(open))
	}
	unknown := event.NewID(t0)
	if _, err := s.UpdateIncident(ctx, unknown, Patch{Status: &resolved}, "lan"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("UpdateIncident(unknown) err = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.AddNote(ctx, unknown, "lan", "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("AddNote(unknown) err = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Incident(ctx, unknown); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Incident(unknown) err = %v, want fs.ErrNotExist", err)
	}
	bad := event.Status("closed")
	if _, err := s.UpdateIncident(ctx, inc.ID, Patch{Status: &bad}, "lan"); err == nil {
		t.Error("UpdateIncident with an unknown status succeeded")
	}
}

// incidentSet makes n incidents with varied fields, deterministically.
func incidentSet(n int) []event.Incident {
	statuses := []event.Status{event.StatusNew, event.StatusAcknowledged, event.StatusInvestigating, event.StatusResolved, event.StatusFalsePositive}
	out := make([]event.Incident, n)
	for i := range out {
		at := t0.Add(time.Duration(i) * time.Minute)
		out[i] = event.Incident{
			ID: event.NewID(at), Title: fmt.Sprintf("incident %d", i), Severity: event.Level(1 + i%5),
			Status: statuses[i%len(statuses)], Assignee: []string{"", "lan", "minh"}[i%3], Key: fmt.Sprintf("host=db%02d", i%20),
			Created: at, Updated: at.Add(time.Duration(i%7) * time.Hour), FirstSeen: at, LastSeen: at.Add(time.Minute),
			AlertCount: 1 + i%4, System: fmt.Sprintf("sys%d", i%10),
		}
	}
	return out
}

func TestIncidentsList(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	incs := incidentSet(60)
	for _, inc := range incs {
		if err := s.UpsertIncident(ctx, inc, nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		q    IncidentQuery
		keep func(event.Incident) bool
		less func(a, b event.Incident) bool // a before b
	}{
		{"default", IncidentQuery{}, func(event.Incident) bool { return true }, byUpdated},
		{"open", IncidentQuery{Status: []event.Status{event.StatusNew, event.StatusAcknowledged, event.StatusInvestigating}},
			func(i event.Incident) bool { return i.Status.Open() }, byUpdated},
		{"high, by severity", IncidentQuery{Severity: event.LevelHigh, Sort: SortSeverity},
			func(i event.Incident) bool { return i.Severity >= event.LevelHigh }, func(a, b event.Incident) bool {
				if a.Severity != b.Severity {
					return a.Severity > b.Severity
				}
				return byUpdated(a, b)
			}},
		{"assignee by created", IncidentQuery{Assignee: "lan", Sort: SortCreated},
			func(i event.Incident) bool { return i.Assignee == "lan" }, func(a, b event.Incident) bool { return a.Created.After(b.Created) }},
		{"system since", IncidentQuery{System: "sys3", Since: t0.Add(20 * time.Minute), Sort: SortLastSeen},
			func(i event.Incident) bool { return i.System == "sys3" && !i.Updated.Before(t0.Add(20*time.Minute)) },
			func(a, b event.Incident) bool { return a.LastSeen.After(b.LastSeen) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, i := range sortedCopy(incs, tt.less) {
				if tt.keep(i) {
					want = append(want, i.Title)
				}
			}
			var got []string
			q := tt.q
			q.Limit = 7
			for range 20 {
				page, err := s.Incidents(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, i := range page.Items {
					got = append(got, i.Title)
				}
				if q.Cursor = page.Next; q.Cursor == "" {
					break
				}
			}
			if len(want) == 0 {
				t.Fatal("the case selects nothing")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Incidents (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := s.Incidents(ctx, IncidentQuery{Sort: "title"}); err == nil {
		t.Error("an unknown sort succeeded")
	}
	if _, err := s.Incidents(ctx, IncidentQuery{Sort: SortCreated, Cursor: mustPage(t, s, IncidentQuery{Limit: 1}).Next}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("a cursor of another sort: err = %v, want ErrBadCursor", err)
	}
}

func mustPage(t *testing.T, s *Store, q IncidentQuery) Page[event.Incident] {
	t.Helper()
	p, err := s.Incidents(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func byUpdated(a, b event.Incident) bool {
	if !a.Updated.Equal(b.Updated) {
		return a.Updated.After(b.Updated)
	}
	return string(a.ID[:]) > string(b.ID[:])
}

func sortedCopy(in []event.Incident, less func(a, b event.Incident) bool) []event.Incident {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b event.Incident) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	return out
}
