package correlate

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

// al is an alert at t0+at with entities "host/user/database/ip" and tags.
func al(rule string, level event.Level, at time.Duration, ents string, tags ...string) event.Alert {
	var parts [4]string
	i, cur := 0, ""
	for _, c := range ents + "/" {
		if c == '/' {
			if i < 4 {
				parts[i] = cur
			}
			i, cur = i+1, ""
			continue
		}
		cur += string(c)
	}
	id := event.NewID(t0.Add(at))
	return event.Alert{ID: id, RuleID: rule, RuleTitle: "Rule " + rule, Level: level, Time: t0.Add(at), Tags: tags,
		EventIDs: []event.ID{id}, Host: parts[0], User: parts[1], Database: parts[2], SourceIP: parts[3]}
}

// res is a Result in comparable form: incidents numbered by creation.
type res struct {
	Outcome  Outcome
	Incident int
	Severity event.Level
	Alerts   int
	Tactics  []string
	Entities int
}

type groupHarness struct {
	g     *Grouper
	clock time.Time
	ids   map[event.ID]int
}

func newGroupHarness(t *testing.T, cfg GrouperConfig) *groupHarness {
	h := &groupHarness{clock: t0, ids: map[event.ID]int{}}
	g, err := NewGrouper(cfg, nil, func() time.Time { return h.clock })
	if err != nil {
		t.Fatal(err)
	}
	h.g = g
	return h
}

func (h *groupHarness) add(a event.Alert) res {
	r := h.g.Add(a)
	if r.Outcome == Suppressed {
		return res{Outcome: Suppressed}
	}
	n, ok := h.ids[r.Incident.ID]
	if !ok {
		n = len(h.ids) + 1
		h.ids[r.Incident.ID] = n
	}
	return res{Outcome: r.Outcome, Incident: n, Severity: r.Incident.Severity, Alerts: r.Incident.AlertCount,
		Tactics: r.Incident.Tactics, Entities: len(r.Incident.Entities)}
}

func TestGrouper(t *testing.T) {
	const (
		info = event.LevelInformational
		low  = event.LevelLow
		med  = event.LevelMedium
		high = event.LevelHigh
		crit = event.LevelCritical
	)
	m := time.Minute
	tests := []struct {
		name   string
		alerts []event.Alert
		want   []res
	}{
		{
			name: "by entity and time",
			alerts: []event.Alert{
				al("a", low, 0, "db1"),
				al("b", low, m, "db1/alice"),
				al("c", low, 2*m, "db2"),
				al("d", low, 3*m, "/alice//10.0.0.5"), // shares the user with incident 1
				al("e", low, 4*m, "///10.0.0.5"),      // and now the address too
				al("f", low, 4*m+2*time.Hour, "db1"),  // the window has passed
			},
			want: []res{
				{Created, 1, low, 1, nil, 1},
				{Updated, 1, low, 2, nil, 2},
				{Created, 2, low, 1, nil, 1},
				{Updated, 1, low, 3, nil, 3},
				{Updated, 1, low, 4, nil, 3},
				{Created, 3, low, 1, nil, 1},
			},
		},
		{
			name: "severity follows the most severe alert and escalates with evidence",
			alerts: []event.Alert{
				al("a", med, 0, "db1"), al("b", med, m, "db1"), al("c", high, 2*m, "db1"), al("d", med, 3*m, "db1"),
				al("e", med, 4*m, "db1"),                               // five at medium or above: high
				al("f", high, 5*m, "db1"), al("f", high, 6*m, "db1/x"), // three high from two rules: critical
			},
			want: []res{
				{Created, 1, med, 1, nil, 1}, {Updated, 1, med, 2, nil, 1}, {Updated, 1, high, 3, nil, 1}, {Updated, 1, high, 4, nil, 1},
				{Updated, 1, high, 5, nil, 1}, {Updated, 1, high, 6, nil, 1}, {Updated, 1, crit, 7, nil, 2},
			},
		},
		{
			name: "three high alerts of one rule stay high",
			alerts: []event.Alert{
				al("a", high, 0, "db1/u1"), al("a", high, m, "db1/u2"), al("a", high, 2*m, "db1/u3"),
			},
			want: []res{{Created, 1, high, 1, nil, 2}, {Updated, 1, high, 2, nil, 3}, {Updated, 1, high, 3, nil, 4}},
		},
		{
			name: "ATT&CK tactics in the order first seen; three tactics escalate to high",
			alerts: []event.Alert{
				al("a", low, 0, "db1", "attack.discovery", "attack.t1087"),
				al("b", low, m, "db1", "attack.credential_access", "attack.discovery"),
				al("c", info, 2*m, "db1", "attack.t1048", "attack.exfiltration", "cve.2021-44228"),
			},
			want: []res{
				{Created, 1, low, 1, []string{"discovery"}, 1},
				{Updated, 1, low, 2, []string{"discovery", "credential-access"}, 1},
				{Updated, 1, high, 3, []string{"discovery", "credential-access", "exfiltration"}, 1},
			},
		},
		{
			name: "repeats of one alert within the dedup window are duplicates and do not escalate",
			alerts: []event.Alert{
				al("a", med, 0, "db1"), al("a", med, m, "db1"), al("a", med, 2*m, "db1"), al("a", med, 3*m, "db1"),
				al("a", med, 4*m, "db1"), al("a", med, 5*m, "db1"),
				al("a", med, 5*m+11*m, "db1"), // 11 minutes after the last: new evidence
			},
			want: []res{
				{Created, 1, med, 1, nil, 1}, {Duplicate, 1, med, 2, nil, 1}, {Duplicate, 1, med, 3, nil, 1}, {Duplicate, 1, med, 4, nil, 1},
				{Duplicate, 1, med, 5, nil, 1}, {Duplicate, 1, med, 6, nil, 1},
				{Updated, 1, med, 7, nil, 1},
			},
		},
		{
			name:   "an alert without entities opens its own incident",
			alerts: []event.Alert{al("a", low, 0, ""), al("a", low, m, "")},
			want:   []res{{Created, 1, low, 1, nil, 0}, {Created, 2, low, 1, nil, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newGroupHarness(t, GrouperConfig{})
			var got []res
			for _, a := range tc.alerts {
				got = append(got, h.add(a))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGrouperIncidentFields(t *testing.T) {
	h := newGroupHarness(t, GrouperConfig{})
	first := al("brute", event.LevelHigh, time.Minute, "db1/alice/city/10.0.0.5")
	r := h.g.Add(first)
	h.clock = t0.Add(time.Hour)
	r2 := h.g.Add(al("sqli", event.LevelMedium, 0, "db1"))
	want := event.Incident{
		ID: r.Incident.ID, Title: "Rule brute on db1", Severity: event.LevelHigh, Status: event.StatusNew, Key: "host:db1",
		Created: t0, Updated: t0.Add(time.Hour), FirstSeen: t0, LastSeen: t0.Add(time.Minute),
		Entities:   []event.Entity{{Kind: "host", Value: "db1"}, {Kind: "database", Value: "city"}, {Kind: "user", Value: "alice"}, {Kind: "source.ip", Value: "10.0.0.5"}},
		AlertCount: 2,
	}
	if diff := cmp.Diff(want, r2.Incident); diff != "" {
		t.Errorf("incident (-want +got):\n%s", diff)
	}
	if r.Incident.ID != event.DeriveID("incident", []event.ID{first.ID}) {
		t.Error("incident id is not derived from its first alert")
	}
}

func TestSuppressions(t *testing.T) {
	h := newGroupHarness(t, GrouperConfig{})
	g := h.g
	hour := t0.Add(time.Hour)
	for _, bad := range []Suppression{
		{Until: hour},
		{Rule: "a", Until: t0},
		{Fields: map[string]string{"host": ""}, Until: hour},
	} {
		if _, err := g.AddSuppression(bad); !errors.Is(err, ErrSuppression) {
			t.Errorf("AddSuppression(%+v) = %v, want ErrSuppression", bad, err)
		}
	}
	byRule, err := g.AddSuppression(Suppression{Rule: "noisy", For: time.Hour, Reason: "backup job", Author: "lan"})
	if err != nil {
		t.Fatal(err)
	}
	if !byRule.Until.Equal(hour) {
		t.Errorf("suppression for an hour ends at %v, want %v", byRule.Until, hour)
	}
	byField, err := g.AddSuppression(Suppression{ID: "scanner", Fields: map[string]string{"source.ip": "10.9.9.9", "User": "svc"}, Until: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	scan := al("x", event.LevelHigh, 0, "db1///10.9.9.9")
	scanGroup := scan
	scanGroup.Group = map[string]string{"User": "svc"}
	tests := []struct {
		name  string
		clock time.Duration
		alert event.Alert
		want  string // suppression id, or "" when the alert goes through
	}{
		{"by rule", 0, al("noisy", event.LevelLow, 0, "db1"), byRule.ID},
		{"another rule", 0, al("quiet", event.LevelLow, 0, "db1"), ""},
		{"not every field matches", 0, scan, ""},
		{"every field matches", 0, scanGroup, "scanner"},
		{"expired", 61 * time.Minute, al("noisy", event.LevelLow, 0, "db1"), ""},
		{"still in force", 61 * time.Minute, scanGroup, "scanner"},
	}
	for _, tc := range tests {
		h.clock = t0.Add(tc.clock)
		r := g.Add(tc.alert)
		if (r.Outcome == Suppressed) != (tc.want != "") || r.Suppression != tc.want {
			t.Errorf("%s: outcome %v by %q, want suppression %q", tc.name, r.Outcome, r.Suppression, tc.want)
		}
	}
	got := g.Suppressions()
	want := []Suppression{byField}
	want[0].Hits = 2
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Suppressions() after expiry (-want +got):\n%s", diff)
	}
	if !g.RemoveSuppression("scanner") || g.RemoveSuppression("scanner") {
		t.Error("RemoveSuppression: want true then false")
	}
	if r := g.Add(scanGroup); r.Outcome == Suppressed {
		t.Error("alert suppressed after the suppression was removed")
	}
	if st := g.Stats(); st.Suppressed != 3 || st.Suppressions != 0 {
		t.Errorf("Stats() suppressed %d in force %d, want 3 and 0", st.Suppressed, st.Suppressions)
	}
}

func TestSeedAndSync(t *testing.T) {
	h := newGroupHarness(t, GrouperConfig{})
	stored := event.Incident{ID: event.NewID(t0), Title: "old", Severity: event.LevelHigh, Status: event.StatusInvestigating,
		Assignee: "minh", Key: "host:db1", FirstSeen: t0, LastSeen: t0.Add(time.Minute), Entities: []event.Entity{{Kind: "host", Value: "db1"}}, AlertCount: 4}
	closed := stored
	closed.ID, closed.Status, closed.Entities = event.NewID(t0), event.StatusResolved, []event.Entity{{Kind: "host", Value: "db2"}}
	h.g.Seed([]event.Incident{stored, closed})
	r := h.g.Add(al("a", event.LevelLow, 2*time.Minute, "db1"))
	if r.Outcome != Updated || r.Incident.ID != stored.ID || r.Incident.AlertCount != 5 || r.Incident.Severity != event.LevelHigh || r.Incident.Assignee != "minh" {
		t.Errorf("alert after seeding: %v %+v, want it in the seeded incident", r.Outcome, r.Incident)
	}
	if r := h.g.Add(al("a", event.LevelLow, 2*time.Minute, "db2")); r.Outcome != Created {
		t.Errorf("alert about a closed incident's entity: %v, want a new incident", r.Outcome)
	}
	res := r.Incident
	res.Status = event.StatusResolved
	h.g.Sync(res)
	if r := h.g.Add(al("b", event.LevelLow, 3*time.Minute, "db1")); r.Outcome != Created {
		t.Errorf("alert after the incident was resolved: %v, want a new incident", r.Outcome)
	}
}

func TestGrouperMaxOpen(t *testing.T) {
	h := newGroupHarness(t, GrouperConfig{MaxOpen: 3})
	for i := range 5 {
		h.g.Add(al("a", event.LevelLow, time.Duration(i)*time.Minute, fmt.Sprintf("h%d", i)))
	}
	if st := h.g.Stats(); st.Open != 3 || st.Forgotten != 2 || st.Created != 5 {
		t.Errorf("Stats() = %+v, want 3 open, 2 forgotten, 5 created", st)
	}
	// h0 was forgotten (oldest); h4 is still grouped into.
	if r := h.g.Add(al("b", event.LevelLow, 5*time.Minute, "h0")); r.Outcome != Created {
		t.Errorf("alert on a forgotten incident's host: %v, want created", r.Outcome)
	}
	if r := h.g.Add(al("b", event.LevelLow, 5*time.Minute, "h4")); r.Outcome != Updated {
		t.Errorf("alert on a kept incident's host: %v, want updated", r.Outcome)
	}
}

func TestTransition(t *testing.T) {
	all := []event.Status{event.StatusNew, event.StatusAcknowledged, event.StatusInvestigating, event.StatusResolved, event.StatusFalsePositive}
	allowed := map[[2]event.Status]bool{}
	for _, p := range [][2]event.Status{
		{event.StatusNew, event.StatusAcknowledged}, {event.StatusNew, event.StatusInvestigating},
		{event.StatusNew, event.StatusResolved}, {event.StatusNew, event.StatusFalsePositive},
		{event.StatusAcknowledged, event.StatusInvestigating}, {event.StatusAcknowledged, event.StatusResolved},
		{event.StatusAcknowledged, event.StatusFalsePositive},
		{event.StatusInvestigating, event.StatusResolved}, {event.StatusInvestigating, event.StatusFalsePositive},
		{event.StatusResolved, event.StatusInvestigating}, {event.StatusFalsePositive, event.StatusInvestigating},
	} {
		allowed[p] = true
	}
	for _, from := range append(all, "bogus") {
		for _, to := range append(all, "bogus") {
			err := Transition(from, to)
			if want := allowed[[2]event.Status{from, to}]; (err == nil) != want {
				t.Errorf("Transition(%s, %s) = %v, want allowed %v", from, to, err, want)
			}
			if err != nil && !errors.Is(err, ErrTransition) {
				t.Errorf("Transition(%s, %s) error %v does not match ErrTransition", from, to, err)
			}
		}
	}
}

func TestApply(t *testing.T) {
	inc := event.Incident{ID: event.NewID(t0), Title: "x", Severity: event.LevelMedium, Status: event.StatusNew}
	st, who, sev := event.StatusInvestigating, "minh", event.LevelCritical
	when := t0.Add(time.Hour)
	changes, err := Apply(&inc, Update{Status: &st, Assignee: &who, Severity: &sev}, "lan", when)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Incident: inc.ID, Who: "lan", When: when, Field: "status", From: "new", To: "investigating"},
		{Incident: inc.ID, Who: "lan", When: when, Field: "assignee", To: "minh"},
		{Incident: inc.ID, Who: "lan", When: when, Field: "severity", From: "medium", To: "critical"},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if inc.Status != st || inc.Assignee != who || inc.Severity != sev || !inc.Updated.Equal(when) {
		t.Errorf("incident after Apply = %+v", inc)
	}
	back := event.StatusNew
	before := inc
	if _, err := Apply(&inc, Update{Status: &back, Assignee: new(string)}, "lan", when); !errors.Is(err, ErrTransition) {
		t.Errorf("Apply(back to new) = %v, want ErrTransition", err)
	}
	if diff := cmp.Diff(before, inc); diff != "" {
		t.Errorf("incident changed by a refused update:\n%s", diff)
	}
}

func TestGrouperBoundsEntities(t *testing.T) {
	h := newGroupHarness(t, GrouperConfig{})
	var r Result
	for i := range 200 {
		r = h.g.Add(al("brute", event.LevelMedium, time.Duration(i)*time.Second, fmt.Sprintf("db1///10.0.%d.%d", i/256, i%256)))
	}
	if r.Outcome != Updated || len(r.Incident.Entities) != MaxEntitiesPerIncident || r.Incident.AlertCount != 200 {
		t.Errorf("after 200 sources: %v with %d entities and %d alerts, want updated, %d, 200",
			r.Outcome, len(r.Incident.Entities), r.Incident.AlertCount, MaxEntitiesPerIncident)
	}
}

func BenchmarkGrouperAdd(b *testing.B) {
	g, err := NewGrouper(GrouperConfig{}, nil, func() time.Time { return t0 })
	if err != nil {
		b.Fatal(err)
	}
	alerts := make([]event.Alert, 1000)
	for i := range alerts {
		alerts[i] = al(fmt.Sprintf("r%d", i%20), event.Level(1+i%5), time.Duration(i)*time.Second,
			fmt.Sprintf("db%d/u%d//10.0.0.%d", i%50, i%30, i%200), "attack.credential-access")
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		a := alerts[i%len(alerts)]
		a.Time = t0.Add(time.Duration(i) * time.Second)
		g.Add(a)
		i++
	}
}
