package sigma

// skipScanner finds long ASCII needles (Wu-Manber): it looks at the last q
// bytes of an m-byte window and, when no needle has those bytes near the
// end of its first m bytes, slides the window by up to m-q+1 bytes without
// looking at the bytes in between. On a field whose needles are all long
// (the hash values of indicator rules) it reads a fraction of the text an
// automaton must read.
type skipScanner struct {
	m       int // window: the shortest needle's length
	shift   []uint8
	buckets map[uint16][]int32 // gram hash at a window's end -> needles
	pats    []string           // lower-case ASCII
	ids     []int32
}

const (
	skipQ       = 4
	skipMinLen  = 8  // shortest needle worth a skip scan
	skipMaxSize = 64 // the shift table stores shifts up to 255
)

func skipHash(b0, b1, b2, b3 byte) uint16 {
	h := uint32(lowerASCII[b0&0x7f])<<12 ^ uint32(lowerASCII[b1&0x7f])<<8 ^ uint32(lowerASCII[b2&0x7f])<<4 ^ uint32(lowerASCII[b3&0x7f])
	h ^= uint32(b0&0x80) << 8 // keep non-ASCII bytes apart from ASCII ones
	return uint16(h*0x9E37 ^ h>>7)
}

// newSkipScanner returns nil unless every pattern is ASCII and at least
// skipMinLen bytes long.
func newSkipScanner(pats []string, ids []int32) *skipScanner {
	m := 1 << 30
	for _, p := range pats {
		if len(p) < skipMinLen {
			return nil
		}
		for i := 0; i < len(p); i++ {
			if p[i] >= 0x80 {
				return nil
			}
		}
		m = min(m, len(p))
	}
	m = min(m, skipMaxSize)
	s := &skipScanner{m: m, shift: make([]uint8, 1<<16), buckets: map[uint16][]int32{}, pats: pats, ids: ids}
	def := uint8(m - skipQ + 1)
	for i := range s.shift {
		s.shift[i] = def
	}
	for k, p := range pats {
		for j := skipQ - 1; j < m; j++ {
			h := skipHash(p[j-3], p[j-2], p[j-1], p[j])
			if sh := uint8(m - 1 - j); sh < s.shift[h] {
				s.shift[h] = sh
			}
		}
		h := skipHash(p[m-4], p[m-3], p[m-2], p[m-1])
		s.buckets[h] = append(s.buckets[h], int32(k))
	}
	return s
}

// scan appends the ids of the needles that occur in text, which must hold
// no rune that lower-cases to ASCII (see foldTrap).
func (s *skipScanner) scan(text string, hits []int32) []int32 {
	m := s.m
	for i := m - 1; i < len(text); {
		h := skipHash(text[i-3], text[i-2], text[i-1], text[i])
		if sh := s.shift[h]; sh > 0 {
			i += int(sh)
			continue
		}
		start := i - m + 1
		for _, k := range s.buckets[h] {
			p := s.pats[k]
			if start+len(p) <= len(text) && asciiEqualFold(text[start:start+len(p)], p) {
				hits = append(hits, s.ids[k])
			}
		}
		i++
	}
	return hits
}
