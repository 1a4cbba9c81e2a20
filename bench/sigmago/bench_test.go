package sigmago

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

var ruleDirs = []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"}

// processCreationFiles lists SigmaHQ's Windows process_creation rules.
func processCreationFiles(t testing.TB) []string {
	t.Helper()
	root := testenv.Corpus(t, "sigma")
	var files []string
	for _, d := range ruleDirs {
		filepath.WalkDir(filepath.Join(root, d), func(p string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() && strings.HasPrefix(de.Name(), "proc_creation_win_") && strings.HasSuffix(p, ".yml") {
				files = append(files, p)
			}
			return nil
		})
	}
	sort.Strings(files)
	return files
}

// regressionLines reads every event line of the regression samples.
func regressionLines(t testing.TB, files ...string) [][]byte {
	t.Helper()
	dir := testenv.Corpus(t, "sigma", "regression", "events")
	if len(files) == 0 {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			files = append(files, e.Name())
		}
	}
	var lines [][]byte
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			lines = append(lines, []byte(l))
		}
	}
	return lines
}

func vigilEvents(t testing.TB, lines [][]byte) []event.Event {
	t.Helper()
	evs := make([]event.Event, len(lines))
	for i, l := range lines {
		e, err := event.DecodeJSON(l)
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = e
	}
	return evs
}

func mapEvents(t testing.TB, lines [][]byte) []map[string]any {
	t.Helper()
	evs := make([]map[string]any, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal(l, &evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

// sigmaGoRules parses and compiles every file with sigma-go; rules it
// rejects are counted.
func sigmaGoRules(t testing.TB, files []string) (evs []*evaluator.RuleEvaluator, rejected int) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := sigmago.ParseRule(data)
		if err != nil {
			rejected++
			continue
		}
		evs = append(evs, evaluator.ForRule(r))
	}
	return evs, rejected
}

// BenchmarkVigil: vigil's engine, the process_creation set, every
// regression event.
func BenchmarkVigil(b *testing.B) {
	rs, errs := sigma.LoadPaths(sigma.Config{}, processCreationFiles(b)...)
	evs := vigilEvents(b, regressionLines(b))
	b.Logf("vigil: %d rules accepted, %d rejected; %d events", rs.Len(), len(errs), len(evs))
	fn := func(*sigma.Rule) {}
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		for i := range evs {
			rs.Match(&evs[i], fn)
		}
	}
	cpu := testenv.CPUTime() - cpu0
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N*len(evs))/cpu.Seconds(), "events/cpu-s")
}

// BenchmarkSigmaGo: sigma-go v0.6.6, each accepted rule's evaluator over
// every regression event (its per-rule API; its bundle API caches results
// by string pointer without bound, which a repeated benchmark would turn
// into a lookup of the previous answer).
func BenchmarkSigmaGo(b *testing.B) {
	rules, rejected := sigmaGoRules(b, processCreationFiles(b))
	evs := mapEvents(b, regressionLines(b))
	b.Logf("sigma-go: %d rules accepted, %d rejected; %d events", len(rules), rejected, len(evs))
	ctx := context.Background()
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		for _, e := range evs {
			for _, r := range rules {
				r.Matches(ctx, e)
			}
		}
	}
	cpu := testenv.CPUTime() - cpu0
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N*len(evs))/cpu.Seconds(), "events/cpu-s")
}

type regressionCase struct {
	RuleID     string `json:"rule_id"`
	RulePath   string `json:"rule_path"`
	EventsFile string `json:"events_file"`
	MatchCount int    `json:"match_count"`
}

func regressionCases(t testing.TB) []regressionCase {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.Corpus(t, "sigma", "regression"), "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []regressionCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c regressionCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.MatchCount == 0 {
			c.MatchCount = 1
		}
		cases = append(cases, c)
	}
	return cases
}

// TestCoverage reports, for both engines, how many rules of the SigmaHQ
// folders each accepts and how many regression cases each passes (a case
// passes when the rule matches at least match_count of its events). vigil
// runs the whole corpus with its built-in log-source mapping; sigma-go
// runs the case's own rule on the case's own events, detection only (it
// has no thor.yml-style mapping).
func TestCoverage(t *testing.T) {
	root := testenv.Corpus(t, "sigma")
	var files []string
	for _, d := range ruleDirs {
		filepath.WalkDir(filepath.Join(root, d), func(p string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() && strings.HasSuffix(p, ".yml") {
				files = append(files, p)
			}
			return nil
		})
	}
	rs, errs := sigma.LoadPaths(sigma.Config{}, files...)
	_, goRejected := sigmaGoRules(t, files)
	t.Logf("rules: %d files; vigil accepts %d (rejects %d, placeholders unconfigured); sigma-go accepts %d",
		len(files), rs.Len(), len(errs), len(files)-goRejected)

	ctx := context.Background()
	pc := processCreationFiles(t)
	pcRS, pcErrs := sigma.LoadPaths(sigma.Config{}, pc...)
	pcGo, pcGoRejected := sigmaGoRules(t, pc)
	// A rule sigma-go parses may still fail at evaluation (unsupported
	// modifiers): count the ones that evaluate every event without error.
	evs := mapEvents(t, regressionLines(t))
	supported := 0
	for _, r := range pcGo {
		ok := true
		for _, e := range evs {
			if _, err := r.Matches(ctx, e); err != nil {
				ok = false
				break
			}
		}
		if ok {
			supported++
		}
	}
	t.Logf("process_creation: %d files; vigil accepts %d (rejects %d); sigma-go parses %d and evaluates %d without error",
		len(pc), pcRS.Len(), len(pcErrs), len(pc)-pcGoRejected, supported)

	cases := regressionCases(t)
	vigilPass, goPass := 0, 0
	for _, c := range cases {
		lines := regressionLines(t, c.EventsFile)
		n := 0
		for _, e := range vigilEvents(t, lines) {
			rs.Match(&e, func(r *sigma.Rule) {
				if r.ID == c.RuleID {
					n++
				}
			})
		}
		if n >= c.MatchCount {
			vigilPass++
		} else {
			t.Errorf("vigil fails %s (%s)", c.RuleID, c.RulePath)
		}
		data, err := os.ReadFile(filepath.Join(root, c.RulePath))
		if err != nil {
			t.Fatal(err)
		}
		r, err := sigmago.ParseRule(data)
		if err != nil {
			continue
		}
		ev := evaluator.ForRule(r)
		n = 0
		for _, e := range mapEvents(t, lines) {
			if res, err := ev.Matches(ctx, e); err == nil && res.Match {
				n++
			}
		}
		if n >= c.MatchCount {
			goPass++
		}
	}
	t.Logf("regression cases: %d; vigil passes %d, sigma-go passes %d", len(cases), vigilPass, goPass)
}
