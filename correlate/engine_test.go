package correlate

import (
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// step is one base-rule match: the rule's name, the event's offset from t0
// and its fields as key, value pairs.
type step struct {
	rule   string
	at     time.Duration
	fields []string
}

func s(rule string, at time.Duration, kv ...string) step { return step{rule, at, kv} }

// got is an alert in comparable form: its events as step indexes.
type got struct {
	Rule   string
	Steps  []int
	Group  map[string]string
	Time   time.Duration
	Level  event.Level
	Entity string
}

type harness struct {
	t      *testing.T
	e      *Engine
	ids    map[event.ID]int
	alerts []got
	raw    []event.Alert
	errs   []error
	n      int
}

func newHarness(t *testing.T, cfg Config, rules ...Rule) *harness {
	t.Helper()
	e, err := New(cfg, rules, nil, func() time.Time { return t0.Add(time.Hour) })
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &harness{t: t, e: e, ids: map[event.ID]int{}}
}

func (h *harness) emit(a event.Alert) {
	g := got{Rule: a.RuleID, Group: a.Group, Time: a.Time.Sub(t0), Level: a.Level, Entity: a.Host + "/" + a.User}
	for _, id := range a.EventIDs {
		g.Steps = append(g.Steps, h.ids[id])
	}
	if a.Engine != EngineName || a.ID != event.DeriveID(a.RuleID, a.EventIDs) {
		h.t.Errorf("alert %+v: engine %q, id not derived from rule and events", a, a.Engine)
	}
	h.alerts = append(h.alerts, g)
	h.raw = append(h.raw, a)
}

func (h *harness) feed(steps ...step) {
	for _, st := range steps {
		ev := &event.Event{ID: event.NewID(t0.Add(st.at)), Time: t0.Add(st.at)}
		for i := 0; i+1 < len(st.fields); i += 2 {
			ev.Fields.Set(st.fields[i], event.String(st.fields[i+1]))
		}
		h.ids[ev.ID] = h.n
		h.n++
		if err := h.e.Observe([]string{"id-" + st.rule, st.rule}, ev, h.emit); err != nil {
			h.errs = append(h.errs, err)
		}
	}
}

func repeat(n int, f func(i int) step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func gte(n float64) Condition { return Condition{Ops: []Comparison{{GTE, n}}} }

const sec = time.Second

func TestConformance(t *testing.T) {
	manyFailed := Rule{ID: "0e95725d-7320-415d-80f7-004da920fc11", Title: "Many failed logins", Type: EventCount,
		Rules: []string{"failed"}, GroupBy: []string{"ComputerName"}, Timespan: time.Hour, Condition: gte(100), Level: event.LevelHigh}
	recon := Rule{ID: "recon", Type: Temporal, Rules: []string{"a", "b", "c"}, GroupBy: []string{"ComputerName", "User"}, Timespan: 5 * time.Minute}
	reconOrdered := recon
	reconOrdered.Type = TemporalOrdered
	small := Rule{ID: "small", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"host.name"}, Timespan: 10 * sec, Condition: gte(3)}
	h1 := []string{"host.name", "h1"}
	at := func(d time.Duration) step { return s("r", d, h1...) }

	tests := []struct {
		name  string
		cfg   Config
		rules []Rule
		steps []step
		want  []got
	}{
		{
			name:  "event_count spec: 100 failed logins on one host in an hour",
			rules: []Rule{manyFailed},
			steps: repeat(150, func(i int) step {
				host := "pc1"
				if i%3 == 2 {
					host = "pc2" // 50 on pc2: not enough
				}
				return s("failed", time.Duration(i)*20*sec, "ComputerName", host)
			}),
			want: []got{{Rule: manyFailed.ID, Steps: func() []int {
				var out []int
				for i := 0; len(out) < 100; i++ {
					if i%3 != 2 {
						out = append(out, i)
					}
				}
				return out
			}(), Group: map[string]string{"ComputerName": "pc1"}, Time: 148 * 20 * sec, Level: event.LevelHigh, Entity: "pc1/"}},
		},
		{
			name:  "event_count: 99 events spread over more than the timespan do not match",
			rules: []Rule{manyFailed},
			steps: repeat(100, func(i int) step { return s("failed", time.Duration(i)*37*sec, "ComputerName", "pc1") }),
		},
		{
			name:  "window edge: first and last exactly timespan apart match",
			rules: []Rule{small},
			steps: []step{at(0), at(5 * sec), at(10 * sec)},
			want:  []got{{Rule: "small", Steps: []int{0, 1, 2}, Group: map[string]string{"host.name": "h1"}, Time: 10 * sec, Entity: "h1/"}},
		},
		{
			name:  "window edge: one nanosecond more than timespan does not match",
			rules: []Rule{small},
			steps: []step{at(0), at(5 * sec), at(10*sec + 1)},
		},
		{
			name:  "windows slide: a window across the first one's end matches",
			rules: []Rule{small},
			steps: []step{at(0), at(7 * sec), at(12 * sec), at(15 * sec)},
			want:  []got{{Rule: "small", Steps: []int{1, 2, 3}, Group: map[string]string{"host.name": "h1"}, Time: 15 * sec, Entity: "h1/"}},
		},
		{
			name:  "after a match the window starts again",
			rules: []Rule{small},
			steps: []step{at(0), at(1 * sec), at(2 * sec), at(3 * sec), at(4 * sec), at(5 * sec)},
			want: []got{
				{Rule: "small", Steps: []int{0, 1, 2}, Group: map[string]string{"host.name": "h1"}, Time: 2 * sec, Entity: "h1/"},
				{Rule: "small", Steps: []int{3, 4, 5}, Group: map[string]string{"host.name": "h1"}, Time: 5 * sec, Entity: "h1/"},
			},
		},
		{
			name:  "out of order within the lateness bound",
			rules: []Rule{small},
			steps: []step{at(20 * sec), at(11 * sec), at(15 * sec)},
			want:  []got{{Rule: "small", Steps: []int{1, 2, 0}, Group: map[string]string{"host.name": "h1"}, Time: 20 * sec, Entity: "h1/"}},
		},
		{
			name:  "out of order: a late event completes an earlier window only",
			rules: []Rule{small},
			steps: []step{at(0), at(9 * sec), at(30 * sec), at(5 * sec)},
			want:  []got{{Rule: "small", Steps: []int{0, 3, 1}, Group: map[string]string{"host.name": "h1"}, Time: 9 * sec, Entity: "h1/"}},
		},
		{
			name:  "group-by keeps hosts apart; events without the field are ignored",
			rules: []Rule{small},
			steps: []step{at(0), s("r", sec, "host.name", "h2"), s("r", 2*sec), at(3 * sec), s("r", 4*sec, "host.name", "h2")},
		},
		{
			name: "value_count spec: distinct users per computer and workstation",
			rules: []Rule{{ID: "vc", Type: ValueCount, Rules: []string{"failed"}, GroupBy: []string{"ComputerName", "WorkstationName"},
				Timespan: 24 * time.Hour, Condition: Condition{Ops: []Comparison{{GTE, 3}}, Field: []string{"User"}}}},
			steps: []step{
				s("failed", 0, "ComputerName", "dc", "WorkstationName", "w1", "User", "a"),
				s("failed", 1*sec, "ComputerName", "dc", "WorkstationName", "w1", "User", "a"),
				s("failed", 2*sec, "ComputerName", "dc", "WorkstationName", "w2", "User", "b"),
				s("failed", 3*sec, "ComputerName", "dc", "WorkstationName", "w1", "User", "b"),
				s("failed", 4*sec, "ComputerName", "dc", "WorkstationName", "w1", "User", "b"),
				s("failed", 5*sec, "ComputerName", "dc", "WorkstationName", "w1", "User", "c"),
			},
			want: []got{{Rule: "vc", Steps: []int{1, 4, 5}, Group: map[string]string{"ComputerName": "dc", "WorkstationName": "w1"}, Time: 5 * sec, Entity: "dc/c"}},
		},
		{
			name:  "temporal spec: three recon commands in any order by one user on one computer",
			rules: []Rule{recon},
			steps: []step{
				s("c", 0, "ComputerName", "pc", "User", "u"),
				s("a", 1*sec, "ComputerName", "pc", "User", "other"),
				s("a", 2*sec, "ComputerName", "pc", "User", "u"),
				s("b", 3*sec, "ComputerName", "pc", "User", "u"),
			},
			want: []got{{Rule: "recon", Steps: []int{0, 2, 3}, Group: map[string]string{"ComputerName": "pc", "User": "u"}, Time: 3 * sec, Entity: "pc/u"}},
		},
		{
			name:  "temporal: all rules but further apart than the timespan",
			rules: []Rule{recon},
			steps: []step{
				s("a", 0, "ComputerName", "pc", "User", "u"),
				s("b", 3*time.Minute, "ComputerName", "pc", "User", "u"),
				s("c", 5*time.Minute+sec, "ComputerName", "pc", "User", "u"),
			},
		},
		{
			name: "temporal with a condition: two of three rules",
			rules: []Rule{func() Rule {
				r := recon
				r.Condition = gte(2)
				return r
			}()},
			steps: []step{s("a", 0, "ComputerName", "pc", "User", "u"), s("a", sec, "ComputerName", "pc", "User", "u"), s("c", 2*sec, "ComputerName", "pc", "User", "u")},
			want:  []got{{Rule: "recon", Steps: []int{1, 2}, Group: map[string]string{"ComputerName": "pc", "User": "u"}, Time: 2 * sec, Entity: "pc/u"}},
		},
		{
			name:  "temporal_ordered spec: the order must be kept",
			rules: []Rule{reconOrdered},
			steps: []step{
				s("c", 0, "ComputerName", "pc", "User", "u"),
				s("b", 1*sec, "ComputerName", "pc", "User", "u"),
				s("a", 2*sec, "ComputerName", "pc", "User", "u"),
				s("c", 3*sec, "ComputerName", "pc", "User", "u"),
				s("b", 4*sec, "ComputerName", "pc", "User", "u"),
				s("c", 5*sec, "ComputerName", "pc", "User", "u"),
			},
			want: []got{{Rule: "recon", Steps: []int{2, 4, 5}, Group: map[string]string{"ComputerName": "pc", "User": "u"}, Time: 5 * sec, Entity: "pc/u"}},
		},
		{
			name:  "temporal_ordered: reverse order does not match",
			rules: []Rule{reconOrdered},
			steps: []step{
				s("c", 0, "ComputerName", "pc", "User", "u"),
				s("b", 1*sec, "ComputerName", "pc", "User", "u"),
				s("a", 2*sec, "ComputerName", "pc", "User", "u"),
			},
		},
		{
			name: "value_sum spec: more than 1 MB sent per source and user in an hour",
			rules: []Rule{{ID: "exfil", Type: ValueSum, Rules: []string{"website_access"}, GroupBy: []string{"SourceIP", "User"},
				Timespan: time.Hour, Condition: Condition{Ops: []Comparison{{GT, 1000000}}, Field: []string{"bytes_sent"}}}},
			steps: []step{
				s("website_access", 0, "SourceIP", "10.0.0.5", "User", "u", "bytes_sent", "600000"),
				s("website_access", time.Minute, "SourceIP", "10.0.0.6", "User", "u", "bytes_sent", "600000"),
				s("website_access", 2*time.Minute, "SourceIP", "10.0.0.5", "User", "u", "bytes_sent", "oops"),
				s("website_access", 3*time.Minute, "SourceIP", "10.0.0.5", "User", "u", "bytes_sent", "400000"),
				s("website_access", 4*time.Minute, "SourceIP", "10.0.0.5", "User", "u", "bytes_sent", "1"),
			},
			want: []got{{Rule: "exfil", Steps: []int{0, 3, 4}, Group: map[string]string{"SourceIP": "10.0.0.5", "User": "u"}, Time: 4 * time.Minute, Entity: "/u"}},
		},
		{
			name: "value_avg spec: judged when the window closes",
			rules: []Rule{{ID: "avg", Type: ValueAvg, Rules: []string{"rule_a_id"}, GroupBy: []string{"SourceIP", "User"},
				Timespan: time.Hour, Condition: Condition{Ops: []Comparison{{GT, 500}}, Field: []string{"BytesOut"}}}},
			cfg: Config{Lateness: time.Minute},
			steps: []step{
				s("rule_a_id", 0, "SourceIP", "a", "User", "u", "BytesOut", "900"), // alone it is above 500
				s("rule_a_id", time.Minute, "SourceIP", "a", "User", "u", "BytesOut", "200"),
				s("rule_a_id", 2*time.Minute, "SourceIP", "b", "User", "u", "BytesOut", "800"),
				s("rule_a_id", 3*time.Minute, "SourceIP", "b", "User", "u", "BytesOut", "300"),
				// closes both windows: a averages 550, b 550 - wait for the last
				s("rule_a_id", 3*time.Hour, "SourceIP", "c", "User", "u", "BytesOut", "1"),
			},
			want: []got{
				{Rule: "avg", Steps: []int{0, 1}, Group: map[string]string{"SourceIP": "a", "User": "u"}, Time: time.Minute, Entity: "/u"},
				{Rule: "avg", Steps: []int{2, 3}, Group: map[string]string{"SourceIP": "b", "User": "u"}, Time: 3 * time.Minute, Entity: "/u"},
			},
		},
		{
			name: "value_percentile spec: a process seen in at most 1% of a computer's process creations",
			rules: []Rule{{ID: "rare", Type: ValuePercentile, Rules: []string{"process_creation"}, GroupBy: []string{"ComputerName"},
				Timespan: 24 * time.Hour, Condition: Condition{Ops: []Comparison{{LTE, 1}}, Field: []string{"Image"}}}},
			cfg: Config{Lateness: time.Minute},
			steps: append(append(
				repeat(150, func(i int) step {
					img := `C:\Windows\System32\svchost.exe`
					if i%2 == 1 {
						img = `C:\Windows\explorer.exe`
					}
					return s("process_creation", time.Duration(i)*time.Minute, "ComputerName", "pc", "Image", img)
				}),
				s("process_creation", 151*time.Minute, "ComputerName", "pc", "Image", `C:\Users\Public\evil.exe`)),
				s("process_creation", 49*time.Hour, "ComputerName", "other", "Image", "x")),
			want: []got{{Rule: "rare", Steps: []int{150}, Group: map[string]string{"ComputerName": "pc"}, Time: 151 * time.Minute, Entity: "pc/"}},
		},
		{
			name: "value_percentile with a percentile: the median above a limit",
			rules: []Rule{{ID: "p50", Type: ValuePercentile, Rules: []string{"q"}, GroupBy: []string{"db.user"},
				Timespan: time.Hour, Condition: Condition{Ops: []Comparison{{GT, 1000}}, Field: []string{"db.response.rows"}, Percentile: 50}}},
			cfg: Config{Lateness: time.Minute},
			steps: []step{
				s("q", 0, "db.user", "a", "db.response.rows", "5"), s("q", sec, "db.user", "a", "db.response.rows", "20000"),
				s("q", 2*sec, "db.user", "a", "db.response.rows", "7"),
				s("q", 3*sec, "db.user", "b", "db.response.rows", "5000"), s("q", 4*sec, "db.user", "b", "db.response.rows", "6000"),
				s("q", 5*sec, "db.user", "b", "db.response.rows", "1"),
				s("q", 3*time.Hour, "db.user", "c", "db.response.rows", "1"),
			},
			want: []got{{Rule: "p50", Steps: []int{3, 4, 5}, Group: map[string]string{"db.user": "b"}, Time: 5 * sec, Entity: "/b"}},
		},
		{
			name: "upper bound: event_count lt is judged when the window closes",
			rules: []Rule{{ID: "few", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"host.name"}, Timespan: 10 * sec,
				Condition: Condition{Ops: []Comparison{{LT, 3}}}}},
			cfg: Config{Lateness: sec},
			steps: []step{
				at(0), at(sec), s("r", 2*sec, "host.name", "h2"), s("r", 3*sec, "host.name", "h2"), s("r", 4*sec, "host.name", "h2"),
				s("r", 30*sec, "host.name", "h3"),
			},
			want: []got{{Rule: "few", Steps: []int{0, 1}, Group: map[string]string{"host.name": "h1"}, Time: sec, Entity: "h1/"}},
		},
		{
			name: "range: gt 2 and lte 3",
			rules: []Rule{{ID: "range", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"host.name"}, Timespan: 10 * sec,
				Condition: Condition{Ops: []Comparison{{GT, 2}, {LTE, 3}}}}},
			cfg: Config{Lateness: 5 * sec},
			steps: []step{
				at(0), at(sec), at(2 * sec), // 3: matches
				s("r", 0, "host.name", "h2"), s("r", sec, "host.name", "h2"), s("r", 2*sec, "host.name", "h2"), s("r", 3*sec, "host.name", "h2"), // 4
				s("r", 0, "host.name", "h3"), s("r", sec, "host.name", "h3"), // 2
				s("r", 12*sec, "host.name", "h1"), s("r", 20*sec, "host.name", "h4"), // closes the first windows; h1's second window stays open
			},
			want: []got{{Rule: "range", Steps: []int{0, 1, 2}, Group: map[string]string{"host.name": "h1"}, Time: 2 * sec, Entity: "h1/"}},
		},
		{
			name: "neq",
			rules: []Rule{{ID: "neq", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"host.name"}, Timespan: 10 * sec,
				Condition: Condition{Ops: []Comparison{{NEQ, 2}}}}},
			cfg: Config{Lateness: sec},
			steps: []step{
				at(0), at(sec), s("r", 0, "host.name", "h2"),
				s("r", 20*sec, "host.name", "h4"),
			},
			want: []got{{Rule: "neq", Steps: []int{2}, Group: map[string]string{"host.name": "h2"}, Time: 0, Entity: "h2/"}},
		},
		{
			name: "aliases spec: the same address as destination in one rule and source in the other",
			rules: []Rule{{ID: "alias", Type: Temporal, Rules: []string{"internal_error", "new_network_connection"},
				GroupBy: []string{"internal_ip", "remote_ip"}, Timespan: 10 * sec,
				Aliases: map[string]map[string]string{
					"internal_ip": {"internal_error": "destination.ip", "new_network_connection": "source.ip"},
					"remote_ip":   {"internal_error": "source.ip", "new_network_connection": "destination.ip"},
				}}},
			steps: []step{
				s("internal_error", 0, "source.ip", "1.2.3.4", "destination.ip", "10.0.0.1"),
				s("new_network_connection", sec, "source.ip", "1.2.3.4", "destination.ip", "10.0.0.1"), // not the same direction
				s("new_network_connection", 2*sec, "source.ip", "10.0.0.1", "destination.ip", "1.2.3.4"),
			},
			want: []got{{Rule: "alias", Steps: []int{0, 2}, Group: map[string]string{"internal_ip": "10.0.0.1", "remote_ip": "1.2.3.4"}, Time: 2 * sec, Entity: "/"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg, tc.rules...)
			h.feed(tc.steps...)
			if len(h.errs) > 0 {
				t.Errorf("Observe errors: %v", h.errs)
			}
			if diff := cmp.Diff(tc.want, h.alerts); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}
