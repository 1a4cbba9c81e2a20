package sigma

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentMatch: many goroutines matching at once see exactly what
// one goroutine sees (run with -race).
func TestConcurrentMatch(t *testing.T) {
	rs, _ := loadCorpus(t)
	evs := regressionEvents(t)
	want := make([][]string, len(evs))
	for i := range evs {
		rs.Match(&evs[i], func(r *Rule) { want[i] = append(want[i], r.ID) })
	}
	// A fresh ruleset, so that routing buckets are built concurrently too.
	rs2, _ := LoadPaths(Config{Placeholders: testPlaceholders()}, processCreationFiles(t)...)
	var wantPC [][]string
	for i := range evs {
		var ids []string
		rs2.Match(&evs[i], func(r *Rule) { ids = append(ids, r.ID) })
		wantPC = append(wantPC, ids)
	}
	rs3, _ := LoadPaths(Config{Placeholders: testPlaceholders()}, processCreationFiles(t)...)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range evs {
				i := (k + g*17) % len(evs)
				var got, got3 []string
				rs.Match(&evs[i], func(r *Rule) { got = append(got, r.ID) })
				rs3.Match(&evs[i], func(r *Rule) { got3 = append(got3, r.ID) })
				if !slices.Equal(got, want[i]) || !slices.Equal(got3, wantPC[i]) {
					t.Errorf("event %d: concurrent matches differ", i)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
