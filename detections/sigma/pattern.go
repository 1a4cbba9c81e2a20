package sigma

import (
	"strings"
	"unicode/utf8"
)

// A pattern is one Sigma string value after escape processing: literal text
// and the wildcards * (any run of characters) and ? (exactly one character).
type pattern []piece

// piece is either literal text (wild == 0) or one wildcard ('*' or '?').
type piece struct {
	lit  string
	wild byte
}

// parsePattern reads a Sigma string: a backslash escapes a following *, ?
// or backslash; any other backslash is literal (rules spec, "Escape
// Character").
func parsePattern(s string) pattern {
	var p pattern
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			p = append(p, piece{lit: b.String()})
			b.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteByte(c)
		case '*', '?':
			flush()
			p = append(p, piece{wild: c})
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return p.normalize()
}

// literalPattern is text without wildcards.
func literalPattern(s string) pattern {
	if s == "" {
		return pattern{}
	}
	return pattern{{lit: s}}
}

// normalize merges adjacent literals and runs of stars.
func (p pattern) normalize() pattern {
	out := p[:0:0]
	for _, x := range p {
		if len(out) > 0 {
			last := &out[len(out)-1]
			if x.wild == 0 && last.wild == 0 {
				last.lit += x.lit
				continue
			}
			if x.wild == '*' && last.wild == '*' {
				continue
			}
		}
		if x.wild == 0 && x.lit == "" {
			continue
		}
		out = append(out, x)
	}
	return out
}

// plain reports whether p has no wildcard, and its text.
func (p pattern) plain() (string, bool) {
	var b strings.Builder
	for _, x := range p {
		if x.wild != 0 {
			return "", false
		}
		b.WriteString(x.lit)
	}
	return b.String(), true
}

// text renders p back as Sigma text (for messages).
func (p pattern) text() string {
	var b strings.Builder
	for _, x := range p {
		if x.wild != 0 {
			b.WriteByte(x.wild)
			continue
		}
		for i := 0; i < len(x.lit); i++ {
			if c := x.lit[i]; c == '*' || c == '?' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(x.lit[i])
		}
	}
	return b.String()
}

func (p pattern) withStar(front, back bool) pattern {
	q := make(pattern, 0, len(p)+2)
	if front {
		q = append(q, piece{wild: '*'})
	}
	q = append(q, p...)
	if back {
		q = append(q, piece{wild: '*'})
	}
	return q.normalize()
}

// mapLit applies f to every literal piece.
func (p pattern) mapLit(f func(string) string) pattern {
	q := make(pattern, len(p))
	for i, x := range p {
		if x.wild == 0 {
			x.lit = f(x.lit)
		}
		q[i] = x
	}
	return q
}

// longestLit is the longest literal piece: the best prefilter needle.
func (p pattern) longestLit() string {
	var best string
	for _, x := range p {
		if x.wild == 0 && len(x.lit) > len(best) {
			best = x.lit
		}
	}
	return best
}

// strKind is how a compiled string matcher tests a value.
type strKind uint8

const (
	strExact strKind = iota
	strPrefix
	strSuffix
	strContains
	strAny // "*": any value, even empty
	strGlob
)

// strMatcher matches one string value: the fast forms for the common shapes
// of a pattern, a glob for the rest. Case folding is done by the caller,
// which lower-cases both the pattern (at compile time) and the value (once
// per evaluation).
type strMatcher struct {
	kind strKind
	s    string
	glob pattern
	// lit is 1 + the id of this contains literal in its field's gram
	// scanner (0: none): when the scanner saw the field's single value for
	// this event, an absent literal means no match without a search, and,
	// with sure, a present one means a match.
	lit  int32
	sure bool
}

func newStrMatcher(p pattern) strMatcher {
	n := len(p)
	switch {
	case n == 0:
		return strMatcher{kind: strExact}
	case n == 1 && p[0].wild == 0:
		return strMatcher{kind: strExact, s: p[0].lit}
	case n == 1 && p[0].wild == '*':
		return strMatcher{kind: strAny}
	case n == 2 && p[0].wild == 0 && p[1].wild == '*':
		return strMatcher{kind: strPrefix, s: p[0].lit}
	case n == 2 && p[0].wild == '*' && p[1].wild == 0:
		return strMatcher{kind: strSuffix, s: p[1].lit}
	case n == 3 && p[0].wild == '*' && p[1].wild == 0 && p[2].wild == '*':
		return strMatcher{kind: strContains, s: p[1].lit}
	}
	return strMatcher{kind: strGlob, glob: p}
}

// minBytes is the fewest bytes a value that matches can have.
func (m *strMatcher) minBytes() int {
	if m.kind != strGlob {
		return len(m.s)
	}
	n := 0
	for _, x := range m.glob {
		switch x.wild {
		case 0:
			n += len(x.lit)
		case '?':
			n++
		}
	}
	return n
}

func (m *strMatcher) match(v string) bool {
	switch m.kind {
	case strExact:
		return v == m.s
	case strPrefix:
		return strings.HasPrefix(v, m.s)
	case strSuffix:
		return strings.HasSuffix(v, m.s)
	case strContains:
		return strings.Contains(v, m.s)
	case strAny:
		return true
	}
	return globMatch(m.glob, v)
}

// globMatch matches v against p with backtracking to the last star: linear
// in practice, O(len(p)*len(v)) at worst.
func globMatch(p pattern, v string) bool {
	pi, vi := 0, 0
	starP, starV := -1, 0
	for {
		if pi < len(p) {
			x := p[pi]
			switch x.wild {
			case 0:
				if strings.HasPrefix(v[vi:], x.lit) {
					// A literal just after a star may match further on:
					// the star backtracking below retries.
					pi++
					vi += len(x.lit)
					continue
				}
			case '?':
				if vi < len(v) {
					_, size := utf8.DecodeRuneInString(v[vi:])
					pi++
					vi += size
					continue
				}
			case '*':
				if pi == len(p)-1 {
					return true
				}
				starP, starV = pi, vi
				pi++
				// Jump to the next occurrence of the literal that follows.
				if pi < len(p) && p[pi].wild == 0 {
					j := strings.Index(v[vi:], p[pi].lit)
					if j < 0 {
						return false
					}
					vi += j
					starV = vi
				}
				continue
			}
		} else if vi == len(v) {
			return true
		}
		if starP < 0 || starV >= len(v) {
			return false
		}
		_, size := utf8.DecodeRuneInString(v[starV:])
		starV += size
		pi, vi = starP+1, starV
		if pi < len(p) && p[pi].wild == 0 {
			j := strings.Index(v[vi:], p[pi].lit)
			if j < 0 {
				return false
			}
			vi += j
			starV = vi
		}
	}
}
