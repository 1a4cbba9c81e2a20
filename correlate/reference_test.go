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

// Whatever the order of arrival within the lateness bound, every alert is
// made of N distinct events of one key at most a timespan apart, and no
// event makes two alerts.
func TestOutOfOrderInvariants(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		n, span := 2+rng.IntN(4), time.Duration(2+rng.IntN(20))*sec
		rule := Rule{ID: "c", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"k"}, Timespan: span, Condition: gte(float64(n))}
		var steps []step
		at := time.Duration(0)
		for range 500 {
			at += time.Duration(rng.IntN(5)) * 500 * time.Millisecond
			steps = append(steps, s("r", at, "k", fmt.Sprint(rng.IntN(4))))
		}
		inOrder := newHarness(t, Config{}, rule)
		inOrder.feed(steps...)
		// Displace events by up to 10 places: at most 25s, within the
		// default lateness of 5m.
		for i := range steps {
			j := min(len(steps)-1, i+rng.IntN(10))
			steps[i], steps[j] = steps[j], steps[i]
		}
		h := newHarness(t, Config{}, rule)
		h.feed(steps...)
		if len(h.errs) > 0 {
			t.Fatalf("seed %d: %v", seed, h.errs)
		}
		if len(h.alerts) == 0 && len(inOrder.alerts) > 0 {
			t.Errorf("seed %d: no alert out of order, %d in order", seed, len(inOrder.alerts))
		}
		used := map[int]bool{}
		for _, a := range h.alerts {
			lo, hi := time.Duration(1<<62), time.Duration(0)
			for _, i := range a.Steps {
				if used[i] {
					t.Errorf("seed %d: event %d in two alerts", seed, i)
				}
				used[i] = true
				if steps[i].fields[1] != a.Group["k"] {
					t.Errorf("seed %d: event %d of key %s in an alert for %s", seed, i, steps[i].fields[1], a.Group["k"])
				}
				lo, hi = min(lo, steps[i].at), max(hi, steps[i].at)
			}
			if len(a.Steps) != n || hi-lo > span || a.Time != hi {
				t.Errorf("seed %d: alert of %d events over %v at %v, want %d within %v at %v", seed, len(a.Steps), hi-lo, a.Time, n, span, hi)
			}
		}
	}
}
