package correlate

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The Engine agrees with a direct reading of event_count on random
// in-order streams: per key, the events of the last timespan; when there
// are N, they make an alert and are consumed.
func TestEventCountMatchesReference(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 42))
		n := 2 + rng.IntN(5)
		span := time.Duration(1+rng.IntN(30)) * sec
		keys := 1 + rng.IntN(8)
		rule := Rule{ID: "c", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"k"}, Timespan: span, Condition: gte(float64(n))}
		var steps []step
		at := time.Duration(0)
		for range 400 {
			at += time.Duration(rng.IntN(7)) * 500 * time.Millisecond // often exactly a timespan apart
			steps = append(steps, s("r", at, "k", fmt.Sprint(rng.IntN(keys))))
		}
		// The reference.
		var want []got
		live := map[string][]int{}
		for i, st := range steps {
			k := st.fields[1]
			var kept []int
			for _, j := range live[k] {
				if st.at-steps[j].at <= span {
					kept = append(kept, j)
				}
			}
			kept = append(kept, i)
			if len(kept) == n {
				want = append(want, got{Rule: "c", Steps: kept, Group: map[string]string{"k": k}, Time: st.at, Entity: "/"})
				kept = nil
			}
			live[k] = kept
		}
		h := newHarness(t, Config{}, rule)
		h.feed(steps...)
		if diff := cmp.Diff(want, h.alerts); diff != "" {
			t.Errorf("seed %d (n %d, span %v, keys %d): alerts (-reference +engine):\n%s", seed, n, span, keys, diff)
		}
	}
}

// Likewise for temporal: the newest event of each referenced rule within
// the timespan; when all rules are there, an alert.
func TestTemporalMatchesReference(t *testing.T) {
	refs := []string{"a", "b", "c"}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		span := time.Duration(1+rng.IntN(20)) * sec
		rule := Rule{ID: "t", Type: Temporal, Rules: refs, GroupBy: []string{"k"}, Timespan: span}
		var steps []step
		at := time.Duration(0)
		for range 400 {
			at += time.Duration(rng.IntN(9)) * 500 * time.Millisecond
			steps = append(steps, s(refs[rng.IntN(3)], at, "k", fmt.Sprint(rng.IntN(3))))
		}
		var want []got
		live := map[string]map[string]int{}
		for i, st := range steps {
			k := st.fields[1]
			m := live[k]
			if m == nil {
				m = map[string]int{}
				live[k] = m
			}
			for r, j := range m {
				if st.at-steps[j].at > span {
					delete(m, r)
				}
			}
			m[st.rule] = i
			if len(m) == len(refs) {
				var idx []int
				for _, j := range m {
					idx = append(idx, j)
				}
				sortInts(idx)
				want = append(want, got{Rule: "t", Steps: idx, Group: map[string]string{"k": k}, Time: st.at, Entity: "/"})
				live[k] = nil
			}
		}
		h := newHarness(t, Config{}, rule)
		h.feed(steps...)
		if diff := cmp.Diff(want, h.alerts); diff != "" {
			t.Errorf("seed %d (span %v): alerts (-reference +engine):\n%s", seed, span, diff)
		}
	}
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
