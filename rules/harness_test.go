package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/danang-soc/vigil/correlate"
	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
)

// placeholders are the values the pack's placeholders get in its tests.
var placeholders = map[string][]string{
	"SensitiveTables":  {"secrets"},
	"BackupHosts":      {"10.0.0.250"},
	"OffHoursAccounts": {"backup"},
}

// loadPack loads the embedded pack; every rule must compile.
func loadPack(t testing.TB) *sigma.Ruleset {
	t.Helper()
	rs, errs := sigma.Load(sigma.Config{Placeholders: placeholders}, FS, "sigma")
	for _, err := range errs {
		t.Errorf("rule does not load: %v", err)
	}
	if rs == nil {
		t.Fatal("no ruleset")
	}
	return rs
}

// hit is one alert of a run: a base rule's match or a correlation's alert.
type hit struct {
	RuleID, Title string
	Level         event.Level
	Correlation   bool
	Event         int // index of the (last) event
}

// detector runs events through the Sigma rules and the correlations, as the
// server's detect stage does.
type detector struct {
	rs      *sigma.Ruleset
	eng     *correlate.Engine
	hits    []hit
	idx     map[event.ID]int
	last    time.Time
	n       int
	corrIDs map[string]sigma.Correlation
}

func newDetector(t testing.TB, rs *sigma.Ruleset) *detector {
	t.Helper()
	var crs []correlate.Rule
	d := &detector{rs: rs, idx: map[event.ID]int{}, corrIDs: map[string]sigma.Correlation{}}
	for _, c := range rs.Correlations() {
		typ, err := correlate.ParseType(c.Type)
		if err != nil {
			t.Fatalf("%s: %v", c.Path, err)
		}
		var cond correlate.Condition
		if c.Condition.Field != "" {
			cond.Field = []string{c.Condition.Field}
		}
		for _, o := range c.Condition.Ops {
			op, err := correlate.ParseOp(o.Op)
			if err != nil {
				t.Fatalf("%s: %v", c.Path, err)
			}
			cond.Ops = append(cond.Ops, correlate.Comparison{Op: op, Value: o.Value})
		}
		crs = append(crs, correlate.Rule{
			ID: c.ID, Name: c.Name, Title: c.Title, Level: c.Level, Tags: c.Tags, Type: typ,
			Rules: c.RuleIDs, GroupBy: c.GroupBy, Timespan: c.Timespan, Condition: cond,
			Aliases: c.Aliases, Generate: c.Generate,
		})
		d.corrIDs[c.ID] = *c
	}
	eng, err := correlate.New(correlate.Config{}, crs, nil, func() time.Time { return d.last })
	if err != nil {
		t.Fatalf("correlations do not compile: %v", err)
	}
	d.eng = eng
	return d
}

// feed runs one event; events without an ID or time get them.
func (d *detector) feed(t testing.TB, e *event.Event) {
	t.Helper()
	if e.Time.IsZero() {
		e.Time = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC).Add(time.Duration(d.n) * time.Millisecond)
	}
	e.Stamp(e.Time)
	d.idx[e.ID] = d.n
	if e.Time.After(d.last) {
		d.last = e.Time
	}
	d.rs.Match(e, func(r *sigma.Rule) {
		d.hits = append(d.hits, hit{RuleID: r.ID, Title: r.Title, Level: r.Level, Event: d.n})
		refs := []string{r.ID}
		if r.Name != "" {
			refs = append(refs, r.Name)
		}
		if err := d.eng.Observe(refs, e, d.alert); err != nil {
			t.Errorf("correlation of event %d: %v", d.n, err)
		}
	})
	d.n++
}

func (d *detector) alert(a event.Alert) {
	h := hit{RuleID: a.RuleID, Title: a.RuleTitle, Level: a.Level, Correlation: true, Event: -1}
	if n := len(a.EventIDs); n > 0 {
		h.Event = d.idx[a.EventIDs[n-1]]
	}
	d.hits = append(d.hits, h)
}

// finish closes every window.
func (d *detector) finish() {
	d.eng.Advance(d.last.Add(60*24*time.Hour), d.alert)
}

// readJSONL reads events, one JSON object per line.
func readJSONL(t testing.TB, path string) []event.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		e, err := event.DecodeJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		out = append(out, e)
	}
	return out
}

func (h hit) String() string {
	return fmt.Sprintf("%s %q (%s) at event %d", h.RuleID, h.Title, h.Level, h.Event)
}
