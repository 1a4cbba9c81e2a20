package sigma

import (
	"sort"
	"strings"
)

// acMatcher is an Aho-Corasick automaton over byte strings that reports
// which of its patterns occur in a text. States are numbered breadth first;
// the shallow ones, where a scan spends nearly all its time, get complete
// transition rows (a DFA), the deeper ones sparse edges and a failure
// link, which keeps memory small for tens of thousands of patterns.
type acMatcher struct {
	class  [256]uint8 // byte -> equivalence class (0: no pattern has it)
	nclass int
	ndense int
	// row holds the complete rows of the first ndense states, ndense*nclass
	// cells. A cell holds the target's row offset (target*nclass), so that
	// the scan's next index is one addition away, or, with acDeepFlag,
	// the number of a target without a row; acOutFlag marks targets with
	// outputs.
	row []uint32
	// sparse edges of every state: edgeStart[s]..edgeStart[s+1]
	edgeStart []uint32
	edgeClass []uint8
	edgeNext  []uint32
	fail      []uint32
	// outputs of each state, its own and inherited through failure links
	outStart []uint32
	outs     []int32
	// ascii: every pattern is ASCII, so a text without the few runes that
	// lower-case to ASCII can be scanned as is, upper case folded by the
	// byte classes.
	ascii bool
}

const acDenseBytes = 2 << 20 // budget for complete rows

// acOutFlag marks, in a complete row, a target state that has outputs, so
// that the scan loop looks outputs up only when there are some.
const (
	acOutFlag  = 1 << 31
	acDeepFlag = 1 << 30
	acFlags    = acOutFlag | acDeepFlag
)

func newACMatcher(patterns []string) *acMatcher { return newACMatcherBudget(patterns, acDenseBytes) }

func newACMatcherBudget(patterns []string, denseBytes int) *acMatcher {
	m := &acMatcher{}
	// Byte classes: one per byte that occurs in a pattern.
	var used [256]bool
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
	}
	m.ascii = true
	for b := 0x80; b < 256; b++ {
		if used[b] {
			m.ascii = false
		}
	}
	// One class per ASCII byte that a pattern uses, and a single class for
	// every byte above 0x7F: patterns with non-ASCII text then match a
	// little more than they should, which a prefilter may, and the rows
	// stay short (the windash and homoglyph rules use dozens of such
	// bytes).
	m.nclass = 1
	for b := 0; b < 0x80; b++ {
		if used[b] {
			m.class[b] = uint8(m.nclass)
			m.nclass++
		}
	}
	if !m.ascii {
		for b := 0x80; b < 256; b++ {
			m.class[b] = uint8(m.nclass)
		}
		m.nclass++
	}
	for b := 'A'; b <= 'Z'; b++ {
		m.class[b] = m.class[b+'a'-'A']
	}
	// Build the trie; children are short lists searched linearly.
	type tedge struct {
		c    uint8
		next uint32
	}
	type tnode struct {
		child []tedge
		out   []int32
	}
	trie := []tnode{{}}
	for pi, p := range patterns {
		s := uint32(0)
		for i := 0; i < len(p); i++ {
			c := m.class[p[i]]
			nx, ok := uint32(0), false
			for _, e := range trie[s].child {
				if e.c == c {
					nx, ok = e.next, true
					break
				}
			}
			if !ok {
				nx = uint32(len(trie))
				trie = append(trie, tnode{})
				trie[s].child = append(trie[s].child, tedge{c, nx})
			}
			s = nx
		}
		trie[s].out = append(trie[s].out, int32(pi))
	}
	// Breadth-first order and renumbering.
	n := len(trie)
	order := make([]uint32, 0, n)
	newID := make([]uint32, n)
	order = append(order, 0)
	for i := 0; i < len(order); i++ {
		s := order[i]
		newID[s] = uint32(i)
		ch := trie[s].child
		sort.Slice(ch, func(a, b int) bool { return ch[a].c < ch[b].c })
		for _, e := range ch {
			order = append(order, e.next)
		}
	}
	m.fail = make([]uint32, n)
	m.edgeStart = make([]uint32, n+1)
	for i, old := range order {
		m.edgeStart[i] = uint32(len(m.edgeClass))
		for _, e := range trie[old].child {
			m.edgeClass = append(m.edgeClass, e.c)
			m.edgeNext = append(m.edgeNext, newID[e.next])
		}
	}
	m.edgeStart[n] = uint32(len(m.edgeClass))
	// Failure links, breadth first.
	edge := func(s uint32, c uint8) (uint32, bool) {
		for e := m.edgeStart[s]; e < m.edgeStart[s+1]; e++ {
			if m.edgeClass[e] == c {
				return m.edgeNext[e], true
			}
		}
		return 0, false
	}
	for s := uint32(0); s < uint32(n); s++ {
		for e := m.edgeStart[s]; e < m.edgeStart[s+1]; e++ {
			c, t := m.edgeClass[e], m.edgeNext[e]
			if s == 0 {
				m.fail[t] = 0
				continue
			}
			f := m.fail[s]
			for {
				if nx, ok := edge(f, c); ok {
					m.fail[t] = nx
					break
				}
				if f == 0 {
					m.fail[t] = 0
					break
				}
				f = m.fail[f]
			}
		}
	}
	// Outputs, inherited along failure links (fail[s] < s in BFS order).
	outsOf := make([][]int32, n)
	for i, old := range order {
		o := append([]int32(nil), trie[old].out...)
		if i > 0 {
			o = append(o, outsOf[m.fail[i]]...)
		}
		outsOf[i] = o
	}
	m.outStart = make([]uint32, n+1)
	for i := range outsOf {
		m.outStart[i] = uint32(len(m.outs))
		m.outs = append(m.outs, outsOf[i]...)
	}
	m.outStart[n] = uint32(len(m.outs))
	// Complete rows for the first states.
	m.ndense = denseBytes / (4 * m.nclass)
	if m.ndense > n {
		m.ndense = n
	}
	if m.ndense < 1 {
		m.ndense = 1
	}
	nc := m.nclass
	dense := make([]uint32, m.ndense*nc) // target state numbers
	m.row = make([]uint32, m.ndense*nc)
	for s := 0; s < m.ndense; s++ {
		for c := 0; c < nc; c++ {
			var t uint32
			if nx, ok := edge(uint32(s), uint8(c)); ok {
				t = nx
			} else if s > 0 {
				t = dense[int(m.fail[s])*nc+c] // fail[s] < s: already complete
			}
			dense[s*nc+c] = t
			cell := t * uint32(nc)
			if int(t) >= m.ndense {
				cell = t | acDeepFlag
			}
			if m.outStart[t] != m.outStart[t+1] {
				cell |= acOutFlag
			}
			m.row[s*nc+c] = cell
		}
	}
	return m
}

// scan appends to hits the index of every pattern occurrence in text (a
// pattern occurring twice is reported twice), and, for patterns with bytes
// above 0x7F, of some that do not quite occur (see the byte classes).
func (m *acMatcher) scan(text string, hits []int32) []int32 {
	row := m.row
	nc := uint32(m.nclass)
	nd := uint32(m.ndense)
	off := uint32(0)
	for i := 0; i < len(text); i++ {
		t := row[off+uint32(m.class[text[i]])]
		if t&acFlags == 0 {
			off = t
			continue
		}
		if t&acDeepFlag == 0 {
			off = t &^ acOutFlag
			hits = m.emit(off/nc, hits)
			continue
		}
		// Deep states have sparse edges only: step through them until
		// the scan is back in a state with a row.
		s := t &^ acFlags
		hits = m.emit(s, hits)
		for s >= nd && i+1 < len(text) {
			i++
			s = m.sparseStep(s, m.class[text[i]])
			hits = m.emit(s, hits)
		}
		off = s * nc
	}
	return hits
}

func (m *acMatcher) emit(s uint32, hits []int32) []int32 {
	if a, b := m.outStart[s], m.outStart[s+1]; a != b {
		hits = append(hits, m.outs[a:b]...)
	}
	return hits
}

// sparseStep follows failure links from a deep state until a transition
// on c exists (a complete row always has one).
func (m *acMatcher) sparseStep(s uint32, c uint8) uint32 {
	nd := uint32(m.ndense)
	for s >= nd {
		for e := m.edgeStart[s]; e < m.edgeStart[s+1]; e++ {
			if m.edgeClass[e] == c {
				return m.edgeNext[e]
			}
		}
		s = m.fail[s]
	}
	t := m.row[s*uint32(m.nclass)+uint32(c)]
	if t&acDeepFlag != 0 {
		return t &^ acFlags
	}
	return (t &^ acFlags) / uint32(m.nclass)
}

// foldTrap reports whether s holds a rune that lower-cases to ASCII (U+0130,
// U+212A, and U+017F which fold maps to s): such a text must be lower-cased
// before an ASCII scan.
func foldTrap(s string) bool {
	if isASCII(s) {
		return false
	}
	return strings.IndexByte(s, 0xC4) >= 0 || strings.IndexByte(s, 0xC5) >= 0 || strings.IndexByte(s, 0xE2) >= 0
}

// isASCII reports whether s has no byte above 0x7F, eight bytes at a time.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
