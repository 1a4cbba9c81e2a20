package sigma

// strSet matches a value against many patterns at once (a field with a long
// list of values, as `Image|endswith: [50 names]`): whole values by hash,
// prefixes and suffixes by walking a trie from either end of the value, the
// rest one by one.
type strSet struct {
	exact  map[string]struct{}
	prefix *trie
	suffix *trie
	rest   []strMatcher
}

// minSetSize is the list length from which a set beats trying each value.
const minSetSize = 6

// newStrSet builds the set of ms; cased says they are not lower case.
func newStrSet(ms []strMatcher, cased bool) *strSet {
	s := &strSet{exact: map[string]struct{}{}}
	var pre, suf []string
	for _, m := range ms {
		switch m.kind {
		case strExact:
			s.exact[m.s] = struct{}{}
		case strPrefix:
			pre = append(pre, m.s)
		case strSuffix:
			suf = append(suf, reverse(m.s))
		default:
			s.rest = append(s.rest, m)
		}
	}
	ids := func(n int) []int32 { return make([]int32, n) }
	if len(pre) > 0 {
		s.prefix = newTrie(pre, ids(len(pre)), !cased)
	}
	if len(suf) > 0 {
		s.suffix = newTrie(suf, ids(len(suf)), !cased)
	}
	return s
}

func (s *strSet) match(v string) bool {
	if _, ok := s.exact[v]; ok {
		return true
	}
	if s.suffix != nil && s.suffix.endsOne(v) {
		return true
	}
	if s.prefix != nil && s.prefix.startsOne(v) {
		return true
	}
	for i := range s.rest {
		if s.rest[i].match(v) {
			return true
		}
	}
	return false
}

// matchScanned is match for a value its field's gram scanner scanned.
func (s *strSet) matchScanned(c *evalCtx, v string) bool {
	if _, ok := s.exact[v]; ok {
		return true
	}
	if s.suffix != nil && s.suffix.endsOne(v) {
		return true
	}
	if s.prefix != nil && s.prefix.startsOne(v) {
		return true
	}
	for i := range s.rest {
		if c.matchScanned(&s.rest[i], v) {
			return true
		}
	}
	return false
}

// startsOne reports whether a pattern of the trie starts v.
func (t *trie) startsOne(v string) bool {
	n := int32(0)
	for i := 0; i < len(v); i++ {
		if n = t.step(n, v[i]); n < 0 {
			return false
		}
		if t.hasOut(n) {
			return true
		}
	}
	return false
}

// endsOne reports whether a (reversed) pattern of the trie ends v.
func (t *trie) endsOne(v string) bool {
	n := int32(0)
	for i := len(v) - 1; i >= 0; i-- {
		if n = t.step(n, v[i]); n < 0 {
			return false
		}
		if t.hasOut(n) {
			return true
		}
	}
	return false
}
