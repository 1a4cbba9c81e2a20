package rules

import (
	"gopkg.in/yaml.v3"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
)

// ruleFiles maps each rule file stem to the ids of the rules and
// correlations it holds.
func ruleFiles(t *testing.T, rs *sigma.Ruleset) map[string][]string {
	t.Helper()
	files := map[string][]string{}
	for _, r := range rs.Rules() {
		stem := strings.TrimSuffix(path.Base(r.Path), ".yml")
		files[stem] = append(files[stem], r.ID)
	}
	for _, c := range rs.Correlations() {
		stem := strings.TrimSuffix(path.Base(c.Path), ".yml")
		files[stem] = append(files[stem], c.ID)
	}
	return files
}

var attackTechnique = regexp.MustCompile(`^attack\.t\d{4}(\.\d{3})?$`)

func TestPackLoads(t *testing.T) {
	rs := loadPack(t)
	n := len(rs.Rules()) + len(rs.Correlations())
	if n < 30 {
		t.Errorf("the pack has %d rules, want at least 30", n)
	}
	entries, err := fs.ReadDir(FS, "sigma")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(ruleFiles(t, rs)); got != len(entries) {
		t.Errorf("%d rule files loaded, %d in sigma/", got, len(entries))
	}
	check := func(where string, tags []string, level event.Level) {
		var technique bool
		for _, tg := range tags {
			technique = technique || attackTechnique.MatchString(tg)
		}
		if !technique {
			t.Errorf("%s has no ATT&CK technique tag: %v", where, tags)
		}
	}
	for _, r := range rs.Rules() {
		check(r.Path, r.Tags, r.Level)
		ls := r.LogSource
		if ls.Category != "database" && ls.Product != "postgresql" && ls.Product != "mysql" {
			t.Errorf("%s: log source %+v is not a database one", r.Path, ls)
		}
	}
	for _, c := range rs.Correlations() {
		check(c.Path, c.Tags, c.Level)
	}
}

// TestPackSamples checks every rule file against its samples: each event of
// <stem>.pos.jsonl makes a rule of the file fire (for a correlation file:
// the events together), no event of <stem>.neg.jsonl does.
func TestPackSamples(t *testing.T) {
	rs := loadPack(t)
	if !timeModifiersWork(rs) {
		t.Error("the Sigma engine does not give |hour the event's time for @timestamp")
	}
	for stem, ids := range ruleFiles(t, rs) {
		t.Run(stem, func(t *testing.T) {
			pos := readJSONL(t, path.Join("testdata", stem+".pos.jsonl"))
			neg := readJSONL(t, path.Join("testdata", stem+".neg.jsonl"))
			if len(pos) == 0 || len(neg) == 0 {
				t.Fatalf("want positive and negative samples, have %d and %d", len(pos), len(neg))
			}
			mine := map[string]bool{}
			for _, id := range ids {
				mine[id] = true
			}
			_, isCorr := correlationOf(rs, ids)
			if isCorr {
				d := newDetector(t, rs)
				for i := range pos {
					d.feed(t, &pos[i])
				}
				d.finish()
				if !firedAny(d, mine) {
					t.Errorf("positive samples raised no alert of %s; raised %v", stem, d.hits)
				}
				d = newDetector(t, rs)
				for i := range neg {
					d.feed(t, &neg[i])
				}
				d.finish()
				for _, h := range d.hits {
					if mine[h.RuleID] {
						t.Errorf("negative samples raised %v", h)
					}
				}
				return
			}
			for i := range pos {
				d := newDetector(t, rs)
				d.feed(t, &pos[i])
				if !firedAny(d, mine) {
					t.Errorf("positive sample %d did not fire: %s", i+1, pos[i].AppendJSON(nil))
				}
			}
			for i := range neg {
				d := newDetector(t, rs)
				d.feed(t, &neg[i])
				for _, h := range d.hits {
					if mine[h.RuleID] {
						t.Errorf("negative sample %d fired %v: %s", i+1, h, neg[i].AppendJSON(nil))
					}
				}
			}
		})
	}
}

func firedAny(d *detector, ids map[string]bool) bool {
	for _, h := range d.hits {
		if ids[h.RuleID] {
			return true
		}
	}
	return false
}

func correlationOf(rs *sigma.Ruleset, ids []string) (*sigma.Correlation, bool) {
	for _, c := range rs.Correlations() {
		for _, id := range ids {
			if c.ID == id {
				return c, true
			}
		}
	}
	return nil, false
}

// timeModifiersWork reports whether the engine gives |hour the event's time
// when a rule names @timestamp.
func timeModifiersWork(rs *sigma.Ruleset) bool {
	e := event.Event{
		Time:   time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC),
		Source: event.LogSource{Product: "postgresql", Category: "database"},
		Fields: event.Fields{{Key: "event.action", Value: event.String("ddl")}},
	}
	var ok bool
	rs.Match(&e, func(r *sigma.Rule) { ok = ok || strings.HasSuffix(r.Path, "db_activity_off_hours.yml") })
	return ok
}

// TestDefaultPlaceholders checks that the shipped placeholder defaults
// resolve every placeholder of the pack.
func TestDefaultPlaceholders(t *testing.T) {
	b, err := fs.ReadFile(FS, "placeholders.yml")
	if err != nil {
		t.Fatal(err)
	}
	var ph map[string][]string
	if err := yaml.Unmarshal(b, &ph); err != nil {
		t.Fatalf("placeholders.yml: %v", err)
	}
	for name := range placeholders {
		if len(ph[name]) == 0 {
			t.Errorf("placeholders.yml gives %s no value", name)
		}
	}
	_, errs := sigma.Load(sigma.Config{Placeholders: ph}, FS, "sigma")
	for _, err := range errs {
		t.Errorf("with the default placeholders: %v", err)
	}
}
