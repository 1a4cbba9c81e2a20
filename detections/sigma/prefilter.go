package sigma

import (
	"maps"
	"slices"
	"sort"
	"strings"
)

// needle is a literal (lower-cased) that must occur in a field's value for
// some part of a rule to match.
type needle struct {
	slot int32
	kind strKind // strExact, strPrefix, strSuffix or strContains
	lit  string
}

// usableNeedle reports whether a literal is worth indexing: two bytes or
// more, or one punctuation byte that command lines seldom hold (` ^ %
// ...). A rule without usable literals is always evaluated.
func usableNeedle(lit string) bool {
	if len(lit) >= 2 {
		return true
	}
	return len(lit) == 1 && strings.IndexByte("`^~|{}[]$@!#;,%&*+<>=?", lit[0]) >= 0
}

// needlesOf computes a rule's prefilter: a set of needles at least one of
// which occurs in the event whenever n matches. ok is false when no such
// set is known (the rule is then always evaluated).
func (pl *planner) needlesOf(n node) (ns []needle, ok bool) {
	switch n := n.(type) {
	case andNode:
		var best []needle
		found := false
		for _, x := range n {
			xs, ok := pl.needlesOf(x)
			if !ok {
				continue
			}
			if !found || pl.cost(xs) < pl.cost(best) {
				best, found = xs, true
			}
		}
		return best, found
	case orNode:
		var all []needle
		for _, x := range n {
			xs, ok := pl.needlesOf(x)
			if !ok {
				return nil, false
			}
			all = append(all, xs...)
		}
		return dedupeNeedles(all), true
	case countNode:
		// At least n of them: any one of them is necessary.
		return pl.needlesOf(orNode(n.of))
	case constNode:
		if !n {
			return nil, true // never matches: nothing needed
		}
		return nil, false
	case *fieldNode:
		if n.mode == modeRegex && !n.neq {
			return regexFieldNeedles(n)
		}
		if n.neq || (n.mode != modeFold && n.mode != modeCased) {
			return nil, false
		}
		var out []needle
		for _, m := range n.strs {
			lit, kind := m.s, m.kind
			if m.kind == strGlob {
				lit, kind = globNeedle(m.glob)
			}
			if m.kind == strAny || !usableNeedle(lit) {
				if n.all {
					continue
				}
				return nil, false
			}
			nd := needle{slot: n.slot, kind: kind, lit: foldString(lit)}
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

// planner chooses each rule's needles. A rule is a candidate whenever one
// of its needles occurs, so the best set is the least likely to occur:
// few, long needles that few other rules use (the literals many rules share,
// such as \\powershell.exe, are the ones events are full of).
type planner struct {
	pop       map[needle]int // how many rules use each literal
	contained map[string]int // how many other literals contain each
	slotNames []string
}

// globNeedle picks a glob's needle: its leading literal as a prefix (an
// anchored test, and the start of a name says more than the ".exe" in the
// middle of '7z*.exe'), else its trailing literal as a suffix, else its
// longest literal anywhere.
func globNeedle(p pattern) (string, strKind) {
	if len(p) > 1 && p[0].wild == 0 && len(p[0].lit) >= 2 {
		return p[0].lit, strPrefix
	}
	if last := p[len(p)-1]; len(p) > 1 && last.wild == 0 && len(last.lit) >= 3 {
		return last.lit, strSuffix
	}
	return p.longestLit(), strContains
}

// lowCardinality lists fields whose values repeat across most events of a
// log source (a handful of integrity levels, the same vendor names): a
// needle there makes a rule a candidate for nearly every event.
var lowCardinality = map[string]bool{
	"IntegrityLevel": true, "Company": true, "Product": true, "Description": true, "FileVersion": true,
	"User": true, "ParentUser": true, "LogonId": true, "TerminalSessionId": true, "CurrentDirectory": true,
	"EventID": true, "Channel": true, "Provider_Name": true, "Level": true, "Task": true, "Opcode": true,
	"Signed": true, "SignatureStatus": true, "Signature": true, "Initiated": true, "Protocol": true,
	"EventType": true, "LogonType": true, "Status": true, "event.outcome": true, "event.action": true,
	"db.system": true, "db.operation": true,
}

func newPlanner(rules []*Rule, slotNames []string) *planner {
	pl := &planner{pop: map[needle]int{}, contained: map[string]int{}, slotNames: slotNames}
	for _, r := range rules {
		seen := map[needle]bool{}
		walkFields(r.expr, func(n *fieldNode) {
			xs, ok := pl.needlesOf(n)
			if !ok {
				return
			}
			for _, x := range xs {
				if !seen[x] {
					seen[x] = true
					pl.pop[x]++
				}
			}
		})
	}
	// A literal that many other literals contain ("\\windows\\",
	// "microsoft") is a common fragment of what rules look for, and of
	// events: count, with one automaton over them all, how many other
	// literals hold each.
	var lits []string
	idx := map[string]int{}
	for n := range pl.pop {
		if _, ok := idx[n.lit]; !ok {
			idx[n.lit] = len(lits)
			lits = append(lits, n.lit)
		}
	}
	sort.Strings(lits) // deterministic automaton, deterministic plans
	for i, l := range lits {
		idx[l] = i
	}
	if len(lits) > 0 {
		ac := newACMatcher(lits)
		var hits []int32
		seen := make([]int, len(lits))
		for i, l := range lits {
			hits = ac.scan(l, hits[:0])
			for _, h := range hits {
				if int(h) != i && seen[h] != i+1 {
					seen[h] = i + 1
					pl.contained[lits[h]]++
				}
			}
		}
	}
	return pl
}

func (pl *planner) cost(ns []needle) int {
	c := 0
	for _, n := range ns {
		l := len(n.lit)
		if l > 16 {
			l = 16
		}
		// Anchored needles are cheap to test and rarely hit by chance.
		k := 4
		switch n.kind {
		case strExact:
			k = 1
		case strPrefix, strSuffix:
			k = 2
		}
		w := 1
		if int(n.slot) < len(pl.slotNames) && lowCardinality[pl.slotNames[n.slot]] {
			w = 50
		}
		c += w * k * (1 + pl.pop[n] + pl.contained[n.lit]) * 64 / l
	}
	return c
}

// Bounds of a rule's confirming needle sets: how many, and how many
// needles in one (a long list costs more to check than it saves).
const (
	maxConfirmSets    = 4
	maxConfirmNeedles = 32
)

// confirmOf returns needle sets of the conjuncts of n other than the one
// whose needles nominate the rule (chosen): each is necessary too, so a
// candidate none of whose needles of one set occur cannot match. The
// cheapest (least likely to occur) come first.
func (pl *planner) confirmOf(n node, chosen []needle) [][]needle {
	var out [][]needle
	var walk func(n node)
	walk = func(n node) {
		if a, ok := n.(andNode); ok {
			for _, x := range a {
				walk(x)
			}
			return
		}
		ns, ok := pl.needlesOf(n)
		if !ok || len(ns) == 0 || len(ns) > maxConfirmNeedles || slices.Equal(ns, chosen) {
			return
		}
		for _, o := range out {
			if slices.Equal(ns, o) {
				return
			}
		}
		out = append(out, ns)
	}
	walk(n)
	sort.SliceStable(out, func(i, j int) bool { return pl.cost(out[i]) < pl.cost(out[j]) })
	if len(out) > maxConfirmSets {
		out = out[:maxConfirmSets]
	}
	return out
}

func walkFields(n node, f func(*fieldNode)) {
	switch n := n.(type) {
	case andNode:
		for _, x := range n {
			walkFields(x, f)
		}
	case orNode:
		for _, x := range n {
			walkFields(x, f)
		}
	case countNode:
		for _, x := range n.of {
			walkFields(x, f)
		}
	case notNode:
		walkFields(n.n, f)
	case *fieldNode:
		f(n)
	}
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

// slotScan finds the needles of one field in a value: exact values by
// hash, prefixes and suffixes by walking a trie from either end, and the
// rest with a gram scanner. Each finder maps its own pattern numbers to
// global needle ids.
type slotScan struct {
	slot     int32
	exact    map[string][]int32
	prefix   *trie
	suffix   *trie
	grams    *gramScanner
	needsLow bool // exact, prefix or suffix needles: scan lower-cased text
	// exactLens has bit n set when an exact needle is n bytes long (bit
	// 63: 63 or more): an ASCII value of another length is not looked up,
	// nor lower-cased for it.
	exactLens uint64
	// few: instead of grams, a handful of ASCII contains needles that
	// each have an anchor byte, found with a byte search on the raw text
	// (see containsFoldAnchored).
	few []anchoredNeedle
	// skip: the contains needles when all are long, instead of grams.
	skip *skipScanner
}

type anchoredNeedle struct {
	lit      string
	anchor   int
	trapFree bool
	id       int32
}

// minScannedLit is the shortest contains value that joins its field's
// gram scanner: shorter ones occur too often to be worth the extra outputs,
// and a short search is cheap anyway.
const minScannedLit = 5

// maxFew is the most contains needles a field checks one by one.
const maxFew = 4

// prefilter indexes every rule's needles per field.
type prefilter struct {
	scans       map[int32]*slotScan
	needleRules [][]int32 // global needle id -> rules
	needleSlot  []int32   // global needle id -> its slot
	litSlot     []int32   // contains literal id -> its slot
	nLits       int       // contains literals registered in gram scanners
}

func buildPrefilter(rules []*Rule, pl *planner) *prefilter {
	pf := &prefilter{scans: map[int32]*slotScan{}}
	ids := map[needle]int32{}
	type lits struct {
		pre, suf, con       []string
		preID, sufID, conID []int32
	}
	bySlot := map[int32]*lits{}
	gramSlots := map[int32]*lits{}
	idOf := func(n needle) int32 {
		if id, ok := ids[n]; ok {
			return id
		}
		id := int32(len(pf.needleRules))
		ids[n] = id
		pf.needleSlot = append(pf.needleSlot, n.slot)
		pf.needleRules = append(pf.needleRules, nil)
		sc := pf.scans[n.slot]
		if sc == nil {
			sc = &slotScan{slot: n.slot, exact: map[string][]int32{}}
			pf.scans[n.slot] = sc
			bySlot[n.slot] = &lits{}
		}
		l := bySlot[n.slot]
		switch n.kind {
		case strExact:
			sc.exact[n.lit] = append(sc.exact[n.lit], id)
			sc.exactLens |= 1 << min(len(n.lit), 63)
			sc.needsLow = true
		case strPrefix:
			l.pre, l.preID = append(l.pre, n.lit), append(l.preID, id)
			sc.needsLow = true
		case strSuffix:
			l.suf, l.sufID = append(l.suf, reverse(n.lit)), append(l.sufID, id)
			sc.needsLow = true
		default:
			l.con, l.conID = append(l.con, n.lit), append(l.conID, id)
		}
		return id
	}
	for _, r := range rules {
		for _, n := range r.needles {
			id := idOf(n)
			pf.needleRules[id] = append(pf.needleRules[id], int32(r.index))
		}
	}
	for slot, l := range bySlot {
		sc := pf.scans[slot]
		if len(l.pre) > 0 {
			sc.prefix = newTrie(l.pre, l.preID, true)
		}
		if len(l.suf) > 0 {
			sc.suffix = newTrie(l.suf, l.sufID, true)
		}
		if len(l.con) > 0 && len(l.con) <= maxFew {
			for i, lit := range l.con {
				a := foldAnchor(lit)
				if a < 0 {
					sc.few = nil
					break
				}
				sc.few = append(sc.few, anchoredNeedle{lit: lit, anchor: a, trapFree: !strings.ContainsAny(lit, "iks"), id: l.conID[i]})
			}
		}
		if len(l.con) > 0 && sc.few == nil {
			sc.skip = newSkipScanner(l.con, l.conID)
		}
		if len(l.con) > 0 && sc.few == nil && sc.skip == nil {
			gramSlots[slot] = l
		}
	}
	// Every contains value of every rule on a field that gets a gram
	// scanner joins it, so that evaluating a rule looks the value up
	// instead of searching for it again.
	litIDs := map[needle]int32{}
	register := func(slot int32, m *strMatcher, exact bool) {
		l, ok := gramSlots[slot]
		if !ok || m.kind != strContains || len(m.s) < minScannedLit {
			return
		}
		lit := foldString(m.s)
		key := needle{slot: slot, kind: strContains, lit: lit}
		id, ok := litIDs[key]
		if !ok {
			id = int32(pf.nLits)
			pf.nLits++
			pf.litSlot = append(pf.litSlot, slot)
			litIDs[key] = id
			// The scanner reports a literal as ^id, a needle as its id.
			l.con, l.conID = append(l.con, lit), append(l.conID, ^id)
		}
		m.lit = id + 1
		m.sure = exact && isASCII(lit)
	}
	for _, r := range rules {
		walkFields(r.expr, func(n *fieldNode) {
			if n.mode != modeFold && n.mode != modeCased {
				return
			}
			exact := n.mode == modeFold
			for i := range n.strs {
				register(n.slot, &n.strs[i], exact)
			}
			if n.set != nil {
				for i := range n.set.rest {
					register(n.slot, &n.set.rest[i], exact)
				}
			}
		})
	}
	// A rule's other conjuncts confirm a candidate with what the scans
	// find anyway: needles (which nominate no rule for it) and the
	// literals of gram scanners.
	for _, r := range rules {
		r.confirm = nil
		if r.needles == nil {
			continue // always evaluated
		}
	sets:
		for _, ns := range pl.confirmOf(r.expr, r.needles) {
			set := make([]int32, len(ns))
			for i, n := range ns {
				if id, ok := ids[n]; ok {
					set[i] = id
				} else if id, ok := litIDs[n]; ok {
					set[i] = ^id
				} else {
					continue sets
				}
			}
			r.confirm = append(r.confirm, set)
		}
	}
	for slot, l := range gramSlots {
		// The scanner finds the field's exact, prefix and suffix needles
		// too, where it must look at every position anyway: the value is
		// neither looked up nor walked from its ends.
		sc := pf.scans[slot]
		pats, ids := l.con, l.conID
		kinds := make([]strKind, len(pats), len(pats)+len(l.pre)+len(l.suf)+len(sc.exact))
		for i := range kinds {
			kinds[i] = strContains
		}
		for i, p := range l.pre {
			pats, kinds, ids = append(pats, p), append(kinds, strPrefix), append(ids, l.preID[i])
		}
		for i, p := range l.suf {
			pats, kinds, ids = append(pats, reverse(p)), append(kinds, strSuffix), append(ids, l.sufID[i])
		}
		for _, lit := range slices.Sorted(maps.Keys(sc.exact)) {
			for _, id := range sc.exact[lit] {
				pats, kinds, ids = append(pats, lit), append(kinds, strExact), append(ids, id)
			}
		}
		sc.grams = newGramScanner(pats, kinds, ids)
		sc.exact, sc.exactLens, sc.prefix, sc.suffix, sc.needsLow = nil, 0, nil, nil, false
	}
	return pf
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// trie is a byte trie walked from one end of a value: every pattern that
// is a prefix of the walk is found. A node with many edges (the root, the
// node after ".exe" in a trie of reversed file names) has a complete row of
// 256 targets; the others list their few edges. A node's fields sit
// together, and its edges next to each other, so that a step reads one or
// two cache lines.
type trie struct {
	bytes *[256]byte // foldByte for lower-case patterns, else identity
	nodes []trieNode
	edges []trieEdge
	rows  []int32 // complete rows: target per byte, or -1
	outs  []int32 // needle ids, per node
}

type trieNode struct {
	// edges[first:end], or, when end is -1, a complete row at
	// rows[first:first+256]
	first, end  int32
	out, outEnd int32 // outs[out:outEnd]: needle ids ending here
}

type trieEdge struct {
	b    byte
	next int32
}

// trieRowEdges is the number of edges from which a node gets a complete row.
const trieRowEdges = 8

// newTrie builds a trie of pats; fold says that the patterns are lower
// case and that the walks fold the ASCII upper case of their text.
func newTrie(pats []string, ids []int32, fold bool) *trie {
	type tn struct {
		kids map[byte]int32
		out  []int32
	}
	nodes := []tn{{kids: map[byte]int32{}}}
	for i, p := range pats {
		s := int32(0)
		for j := 0; j < len(p); j++ {
			nx, ok := nodes[s].kids[p[j]]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, tn{kids: map[byte]int32{}})
				nodes[s].kids[p[j]] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, ids[i])
	}
	t := &trie{bytes: &identityByte, nodes: make([]trieNode, len(nodes))}
	if fold {
		t.bytes = &foldByte
	}
	for i, n := range nodes {
		tn := &t.nodes[i]
		tn.out = int32(len(t.outs))
		t.outs = append(t.outs, n.out...)
		tn.outEnd = int32(len(t.outs))
		if len(n.kids) >= trieRowEdges {
			tn.first, tn.end = int32(len(t.rows)), -1
			for b := 0; b < 256; b++ {
				nx, ok := n.kids[byte(b)]
				if !ok {
					nx = -1
				}
				t.rows = append(t.rows, nx)
			}
			continue
		}
		keys := make([]int, 0, len(n.kids))
		for b := range n.kids {
			keys = append(keys, int(b))
		}
		sort.Ints(keys)
		tn.first = int32(len(t.edges))
		for _, b := range keys {
			t.edges = append(t.edges, trieEdge{byte(b), n.kids[byte(b)]})
		}
		tn.end = int32(len(t.edges))
	}
	return t
}

// step follows the edge for b, lower-cased when ASCII in a folding trie
// (so that raw ASCII text and lower-cased text walk alike).
func (t *trie) step(s int32, b byte) int32 {
	b = t.bytes[b]
	n := &t.nodes[s]
	if n.end < 0 {
		return t.rows[n.first+int32(b)]
	}
	for e := n.first; e < n.end; e++ {
		if t.edges[e].b == b {
			return t.edges[e].next
		}
	}
	return -1
}

// foldByte lower-cases ASCII upper case and leaves every other byte.
var foldByte = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

var identityByte = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	return t
}()

// hasOut reports whether patterns end at node s.
func (t *trie) hasOut(s int32) bool { n := &t.nodes[s]; return n.out != n.outEnd }

// walkPrefix appends the ids of the patterns that start v.
func (t *trie) walkPrefix(v string, hits []int32) []int32 {
	s := int32(0)
	for i := 0; i < len(v); i++ {
		if s = t.step(s, v[i]); s < 0 {
			break
		}
		if n := &t.nodes[s]; n.out != n.outEnd {
			hits = append(hits, t.outs[n.out:n.outEnd]...)
		}
	}
	return hits
}

// walkSuffix appends the ids of the (reversed) patterns that end v.
func (t *trie) walkSuffix(v string, hits []int32) []int32 {
	s := int32(0)
	for i := len(v) - 1; i >= 0; i-- {
		if s = t.step(s, v[i]); s < 0 {
			break
		}
		if n := &t.nodes[s]; n.out != n.outEnd {
			hits = append(hits, t.outs[n.out:n.outEnd]...)
		}
	}
	return hits
}

// find appends the global ids of the needles present in the field's values.
func (sc *slotScan) find(c *evalCtx, idx int, hits []int32) []int32 {
	if raw := c.raw(idx); sc.needsLow && len(raw) == 1 && isASCII(raw[0]) {
		// The tries fold ASCII as they walk: an ASCII value is lower-cased
		// only when an exact needle has its length.
		v := raw[0]
		if sc.exactLens&(1<<min(len(v), 63)) != 0 {
			if ids := sc.exact[c.lower(idx)[0]]; len(ids) > 0 {
				hits = append(hits, ids...)
			}
		}
		if sc.prefix != nil {
			hits = sc.prefix.walkPrefix(v, hits)
		}
		if sc.suffix != nil {
			hits = sc.suffix.walkSuffix(v, hits)
		}
	} else if sc.needsLow {
		for _, v := range c.lower(idx) {
			if ids := sc.exact[v]; len(ids) > 0 {
				hits = append(hits, ids...)
			}
			if sc.prefix != nil {
				hits = sc.prefix.walkPrefix(v, hits)
			}
			if sc.suffix != nil {
				hits = sc.suffix.walkSuffix(v, hits)
			}
		}
	}
	if sc.few != nil {
		vals := c.raw(idx)
		for _, n := range sc.few {
			hit, ok := containsFoldAnchored(vals, n.lit, n.anchor, n.trapFree)
			if !ok {
				hit = anyStr(&strMatcher{kind: strContains, s: n.lit}, c.lower(idx))
			}
			if hit {
				hits = append(hits, n.id)
			}
		}
		return hits
	}
	if sc.skip != nil {
		vals := c.raw(idx)
		if anyFoldTrap(vals) {
			vals = c.lower(idx)
		}
		for _, v := range vals {
			hits = sc.skip.scan(v, hits)
		}
		return hits
	}
	if sc.grams == nil {
		return hits
	}
	vals := c.lower(idx)
	for _, v := range vals {
		n := len(hits)
		hits = sc.grams.scan(v, hits)
		// Keep the needles; note the literals.
		k := n
		for _, h := range hits[n:] {
			if h >= 0 {
				hits[k] = h
				k++
			} else {
				c.litGen[^h] = c.gen
			}
		}
		hits = hits[:k]
	}
	if len(vals) == 1 {
		c.scanGen[sc.slot] = c.gen
	}
	return hits
}

// describeNeedles renders a rule's needles (for tests and debugging).
func describeNeedles(ns []needle, names []string) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = names[n.slot] + ":" + n.lit
	}
	return strings.Join(parts, " | ")
}

func regexFieldNeedles(n *fieldNode) ([]needle, bool) {
	var out []needle
	for _, lits := range n.reLits {
		if lits == nil {
			if n.all {
				continue
			}
			return nil, false
		}
		ns := make([]needle, len(lits))
		for i, l := range lits {
			ns[i] = needle{slot: n.slot, kind: strContains, lit: l}
		}
		if n.all {
			if out == nil || betterNeedles(ns, out) {
				out = ns
			}
			continue
		}
		out = append(out, ns...)
	}
	if len(out) == 0 {
		return nil, false
	}
	return dedupeNeedles(out), true
}

// slotOf returns the slot of a confirming id: a needle, or ^literal.
func (pf *prefilter) slotOf(id int32) int32 {
	if id < 0 {
		return pf.litSlot[^id]
	}
	return pf.needleSlot[id]
}
