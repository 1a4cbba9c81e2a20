package sigma

import "strings"

// needle is a literal (lower-cased) that must occur in a field's value for
// some part of a rule to match.
type needle struct {
	slot int32
	lit  string
}

// minNeedle is the shortest literal worth indexing; a rule whose best
// literal is shorter is always evaluated.
const minNeedle = 3

// needlesOf computes a rule's prefilter: a set of needles at least one of
// which occurs in the event whenever n matches. ok is false when no such
// set is known (the rule is then always evaluated).
func needlesOf(n node) (ns []needle, ok bool) {
	switch n := n.(type) {
	case andNode:
		var best []needle
		found := false
		for _, x := range n {
			xs, ok := needlesOf(x)
			if !ok {
				continue
			}
			if !found || betterNeedles(xs, best) {
				best, found = xs, true
			}
		}
		return best, found
	case orNode:
		var all []needle
		for _, x := range n {
			xs, ok := needlesOf(x)
			if !ok {
				return nil, false
			}
			all = append(all, xs...)
		}
		return dedupeNeedles(all), true
	case countNode:
		// At least n of them: any one of them is necessary.
		return needlesOf(orNode(n.of))
	case constNode:
		if !n {
			return nil, true // never matches: nothing needed
		}
		return nil, false
	case *fieldNode:
		if n.neq || (n.mode != modeFold && n.mode != modeCased) {
			return nil, false
		}
		var out []needle
		for _, m := range n.strs {
			lit := m.s
			if m.kind == strGlob {
				lit = m.glob.longestLit()
			}
			if m.kind == strAny || len(lit) < minNeedle {
				if n.all {
					continue
				}
				return nil, false
			}
			nd := needle{slot: n.slot, lit: foldString(lit)}
			if n.all {
				// Every value must match: the longest one is enough.
				if len(out) == 0 || len(nd.lit) > len(out[0].lit) {
					out = []needle{nd}
				}
				continue
			}
			out = append(out, nd)
		}
		if len(out) == 0 {
			return nil, false
		}
		return dedupeNeedles(out), true
	}
	return nil, false
}

// betterNeedles prefers the set whose shortest needle is longer (fewer
// false candidates), then the smaller set.
func betterNeedles(a, b []needle) bool {
	ma, mb := minLen(a), minLen(b)
	if ma != mb {
		return ma > mb
	}
	return len(a) < len(b)
}

func minLen(ns []needle) int {
	m := 1 << 30
	for _, n := range ns {
		if len(n.lit) < m {
			m = len(n.lit)
		}
	}
	return m
}

func dedupeNeedles(ns []needle) []needle {
	seen := map[needle]bool{}
	out := ns[:0:0]
	for _, n := range ns {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// slotScan is the automaton over the needles of one field.
type slotScan struct {
	slot int32
	ac   *acMatcher
	ids  []int32 // automaton pattern -> global needle id
}

// prefilter indexes every rule's needles: one automaton per field.
type prefilter struct {
	scans       map[int32]*slotScan
	needleRules [][]int32 // global needle id -> rules
}

func buildPrefilter(rules []*Rule) *prefilter {
	pf := &prefilter{scans: map[int32]*slotScan{}}
	ids := map[needle]int32{}
	bySlot := map[int32][]string{}
	byslotIDs := map[int32][]int32{}
	for _, r := range rules {
		for _, n := range r.needles {
			id, ok := ids[n]
			if !ok {
				id = int32(len(pf.needleRules))
				ids[n] = id
				pf.needleRules = append(pf.needleRules, nil)
				bySlot[n.slot] = append(bySlot[n.slot], n.lit)
				byslotIDs[n.slot] = append(byslotIDs[n.slot], id)
			}
			pf.needleRules[id] = append(pf.needleRules[id], int32(r.index))
		}
	}
	for slot, lits := range bySlot {
		pf.scans[slot] = &slotScan{slot: slot, ac: newACMatcher(lits), ids: byslotIDs[slot]}
	}
	return pf
}

// describeNeedles renders a rule's needles (for tests and debugging).
func describeNeedles(ns []needle, names []string) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = names[n.slot] + ":" + n.lit
	}
	return strings.Join(parts, " | ")
}
