package sigma

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// processCreationFiles lists SigmaHQ's Windows process_creation rules
// (proc_creation_win_*.yml in every rule folder).
func processCreationFiles(t testing.TB) []string {
	t.Helper()
	root := testenv.Corpus(t, "sigma")
	var files []string
	for _, d := range corpusDirs {
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

// regressionEvents reads every event of the regression samples.
func regressionEvents(t testing.TB) []event.Event {
	t.Helper()
	dir := testenv.Corpus(t, "sigma", "regression", "events")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for _, e := range ents {
		evs = append(evs, readEvents(t, filepath.Join(dir, e.Name()))...)
	}
	return evs
}

// BenchmarkProcessCreation runs SigmaHQ's whole Windows process_creation
// set over the regression events; events/s is the figure to watch (goal:
// 300,000 on one core, go test -cpu 1).
func BenchmarkProcessCreation(b *testing.B) {
	rs, errs := LoadPaths(Config{Placeholders: testPlaceholders()}, processCreationFiles(b)...)
	evs := regressionEvents(b)
	b.Logf("%d rules (%d rejected), %d events", rs.Len(), len(errs), len(evs))
	matches := 0
	fn := func(*Rule) { matches++ }
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		for i := range evs {
			rs.Match(&evs[i], fn)
		}
	}
	cpu := testenv.CPUTime() - cpu0
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	// The machine may be shared: events per CPU second is the steadier figure.
	b.ReportMetric(float64(b.N*len(evs))/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
}

// BenchmarkLoadCorpus compiles every SigmaHQ rule folder, as a reload does.
func BenchmarkLoadCorpus(b *testing.B) {
	root := testenv.Corpus(b, "sigma")
	var paths []string
	for _, d := range corpusDirs {
		paths = append(paths, filepath.Join(root, d))
	}
	for b.Loop() {
		rs, _ := LoadPaths(Config{Placeholders: testPlaceholders()}, paths...)
		if rs.Len() == 0 {
			b.Fatal("no rules")
		}
	}
}
