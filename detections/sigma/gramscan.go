package sigma

import (
	"math/bits"
	"sort"
	"strings"
)

// gramScanner finds which of many patterns occur in a lower-cased text:
// anywhere, or at its start, its end or as the whole text. It
// indexes each pattern of four bytes or more by one of its 4-byte
// substrings (grams), the one the fewest other patterns share, and slides
// over the text testing the gram at each position against a bit filter
// small enough to stay in the first-level cache; only the positions that
// pass look the gram's patterns up and compare them. Patterns of two or
// three bytes are indexed the same way by their first two bytes, single
// bytes are searched for.
//
// An Aho-Corasick automaton over the tens of thousands of command-line
// literals of SigmaHQ has megabytes of rows that every byte of a command
// line steps through, a cache miss at a time; the filters are a few tens
// of kilobytes, and the patterns' buckets are read at few positions.
type gramScanner struct {
	quad   gramIndex // patterns of four bytes or more
	pair   gramIndex // patterns of two or three bytes
	odd    []string  // patterns of fewer than two bytes, or of 65,536 or more
	oddAt  []uint8
	oddIDs []int32
	minLen int // the shortest pattern of the indexes
}

// Where a pattern must be in a text, as bits of gramEntry.at.
const (
	atStart = 1 << iota
	atEnd
)

func anchorOf(k strKind) uint8 {
	switch k {
	case strPrefix:
		return atStart
	case strSuffix:
		return atEnd
	case strExact:
		return atStart | atEnd
	}
	return 0
}

// gramIndex maps grams (two or four bytes, little-endian) to the patterns
// indexed by them. A gram's hash selects a bit of the filter, which most
// grams of a text find clear, and the first slot of a linear probe for the
// gram's run of entries.
type gramIndex struct {
	filter []uint64
	fshift uint32 // filter bit: hash >> fshift
	slots  []gramSlot
	sshift uint32 // first slot: hash >> sshift
	ents   []gramEntry
	pats   []string // per entry: its pattern, read when longer than 16 bytes
}

// gramSlot holds a gram's entries, ents[first:end]; end is 0 in an empty
// slot.
type gramSlot struct {
	gram, first, end uint32
}

// gramEntry is a pattern in the run of its gram. head and tail hold its
// first and last eight bytes (or four, or two, as its length allows,
// little-endian), so that most comparisons are two loads of the text.
type gramEntry struct {
	head, tail uint64
	id         int32  // what scan reports
	n          uint16 // the pattern's length
	off        uint8  // where the gram starts in the pattern
	at         uint8  // atStart, atEnd: where it must be
}

// keyedEntry is an entry with its gram and pattern while an index is built.
type keyedEntry struct {
	gram uint32
	e    gramEntry
	p    string
}

func newGramEntry(p string, off int, at uint8, id int32) keyedEntry {
	e := gramEntry{id: id, n: uint16(len(p)), off: uint8(off), at: at}
	switch {
	case len(p) >= 8:
		e.head, e.tail = load64(p, 0), load64(p, len(p)-8)
	case len(p) >= 4:
		e.head, e.tail = uint64(load32(p, 0)), uint64(load32(p, len(p)-4))
	default:
		e.head, e.tail = uint64(load16(p, 0)), uint64(load16(p, len(p)-2))
	}
	if len(p) >= 4 {
		return keyedEntry{load32(p, off), e, p}
	}
	return keyedEntry{load16(p, 0), e, p}
}

// at reports whether the pattern of entry k starts text at start.
func (x *gramIndex) at(k int, text string, start int) bool {
	e := &x.ents[k]
	n := int(e.n)
	if start < 0 || start+n > len(text) || e.at&atStart != 0 && start != 0 || e.at&atEnd != 0 && start+n != len(text) {
		return false
	}
	switch {
	case n > 16:
		return load64(text, start) == e.head && load64(text, start+n-8) == e.tail &&
			text[start+8:start+n-8] == x.pats[k][8:n-8]
	case n >= 8:
		return load64(text, start) == e.head && load64(text, start+n-8) == e.tail
	case n >= 4:
		return uint64(load32(text, start)) == e.head && uint64(load32(text, start+n-4)) == e.tail
	}
	return uint64(load16(text, start)) == e.head && uint64(load16(text, start+n-2)) == e.tail
}

func load16(s string, i int) uint32 { return uint32(s[i]) | uint32(s[i+1])<<8 }

const (
	gramMul        = 0x9E3779B1
	gramFilterBits = 17 // most filter bits: 16 KiB
)

// newGramScanner indexes pats, of kinds strContains, strPrefix, strSuffix
// or strExact; scan reports the pattern pats[i] as ids[i].
func newGramScanner(pats []string, kinds []strKind, ids []int32) *gramScanner {
	s := &gramScanner{minLen: 1 << 30}
	// How many patterns hold each gram: the rarest gram of a pattern is
	// the one least likely to be in a text without the pattern.
	pop := map[uint32]int{}
	for _, p := range pats {
		seen := map[uint32]bool{}
		for i := 0; i+4 <= len(p); i++ {
			if g := load32(p, i); !seen[g] {
				seen[g] = true
				pop[g]++
			}
		}
	}
	var quads, pairs []keyedEntry
	for k, p := range pats {
		id, at := ids[k], anchorOf(kinds[k])
		if len(p) < 2 || len(p) > 0xFFFF {
			s.odd, s.oddAt, s.oddIDs = append(s.odd, p), append(s.oddAt, at), append(s.oddIDs, id)
			continue
		}
		switch {
		case len(p) < 4:
			pairs = append(pairs, newGramEntry(p, 0, at, id))
		default:
			best := 0
			for i := 1; i+4 <= len(p) && i <= 0xFF; i++ {
				if pop[load32(p, i)] < pop[load32(p, best)] {
					best = i
				}
			}
			quads = append(quads, newGramEntry(p, best, at, id))
		}
	}
	if len(pairs) <= maxOddPairs {
		// A pass over the text for a few short patterns costs more than
		// searching for each.
		for _, k := range pairs {
			s.odd, s.oddAt, s.oddIDs = append(s.odd, k.p), append(s.oddAt, k.e.at), append(s.oddIDs, k.e.id)
		}
		pairs = nil
	}
	for _, ks := range [][]keyedEntry{quads, pairs} {
		for _, k := range ks {
			s.minLen = min(s.minLen, len(k.p))
		}
	}
	s.quad = newGramIndex(quads)
	s.pair = newGramIndex(pairs)
	return s
}

// maxOddPairs is the most patterns of two or three bytes that are searched
// for one by one rather than indexed.
const maxOddPairs = 4

func newGramIndex(keyed []keyedEntry) gramIndex {
	grams := map[uint32]bool{}
	for _, k := range keyed {
		grams[k.gram] = true
	}
	if len(grams) == 0 {
		// A shift of 32 maps every hash to bit 0 of the filter, clear.
		return gramIndex{filter: make([]uint64, 1), fshift: 32}
	}
	lg := bits.Len(uint(len(grams))) // 2^lg > distinct grams
	fbits := min(max(lg+5, 6), gramFilterBits)
	sbits := lg + 1 // half the slots at most are taken
	x := gramIndex{
		filter: make([]uint64, 1<<fbits/64),
		fshift: uint32(32 - fbits),
		slots:  make([]gramSlot, 1<<sbits),
		sshift: uint32(32 - sbits),
	}
	sort.SliceStable(keyed, func(i, j int) bool { return keyed[i].gram < keyed[j].gram })
	for _, k := range keyed {
		x.ents = append(x.ents, k.e)
		x.pats = append(x.pats, k.p)
	}
	mask := uint32(len(x.slots) - 1)
	for i := 0; i < len(keyed); {
		g := keyed[i].gram
		j := i + 1
		for j < len(keyed) && keyed[j].gram == g {
			j++
		}
		h := g * gramMul
		b := h >> x.fshift
		x.filter[b>>6] |= 1 << (b & 63)
		s := h >> x.sshift
		for x.slots[s].end != 0 {
			s = (s + 1) & mask
		}
		x.slots[s] = gramSlot{gram: g, first: uint32(i), end: uint32(j)}
		i = j
	}
	return x
}

// find appends the ids of the patterns of gram g that occur in text with
// their gram at i.
func (x *gramIndex) find(g uint32, text string, i int, hits []int32) []int32 {
	mask := uint32(len(x.slots) - 1)
	for s := g * gramMul >> x.sshift; x.slots[s].end != 0; s = (s + 1) & mask {
		if sl := &x.slots[s]; sl.gram == g {
			for k := int(sl.first); k < int(sl.end); k++ {
				if x.at(k, text, i-int(x.ents[k].off)) {
					hits = append(hits, x.ents[k].id)
				}
			}
			break
		}
	}
	return hits
}

// scan appends the id of every pattern that occurs in text where it must,
// at least once per pattern (a pattern occurring twice may be reported
// twice). Patterns and text compare byte for byte: the caller lower-cases
// both.
func (s *gramScanner) scan(text string, hits []int32) []int32 {
	for k, p := range s.odd {
		var ok bool
		switch s.oddAt[k] {
		case 0:
			ok = strings.Contains(text, p)
		case atStart:
			ok = strings.HasPrefix(text, p)
		case atEnd:
			ok = strings.HasSuffix(text, p)
		default:
			ok = text == p
		}
		if ok {
			hits = append(hits, s.oddIDs[k])
		}
	}
	if len(text) < s.minLen {
		return hits
	}
	if q := &s.quad; len(q.ents) > 0 {
		for i := 0; i+4 <= len(text); i++ {
			g := load32(text, i)
			if b := g * gramMul >> q.fshift; q.filter[b>>6]&(1<<(b&63)) != 0 {
				hits = q.find(g, text, i, hits)
			}
		}
	}
	if p := &s.pair; len(p.ents) > 0 {
		for i := 0; i+2 <= len(text); i++ {
			g := load16(text, i)
			if b := g * gramMul >> p.fshift; p.filter[b>>6]&(1<<(b&63)) != 0 {
				hits = p.find(g, text, i, hits)
			}
		}
	}
	return hits
}
