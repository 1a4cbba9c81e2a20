package match

import (
	"sort"
	"unicode/utf8"
)

// The full-text part of the store is an FTS5 index with the tokenizer
// "unicode61 remove_diacritics 2" over foldText(text). This file
// reproduces it: a token is a run of token characters (FTS5's letters,
// numbers and private-use characters), which the diacritics that FTS5
// knows may continue but not start; every character is folded to lower
// case and stripped of its diacritics. Which characters are which, and
// what each folds to, are FTS5's own tables (tokentab.go), read from the
// SQLite that the store runs (TestTokenTable), not Go's unicode package:
// FTS5's Unicode is older than Go's.

// span is a range of code points, both ends included.
type span struct{ lo, hi uint32 }

func inSpans(spans []span, c uint32) bool {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].hi >= c })
	return i < len(spans) && spans[i].lo <= c
}

// foldRun maps the code points lo, lo+step, ... up to hi: to c+to, or to
// the code point to itself when fixed (0 drops the character).
type foldRun struct {
	lo, hi uint32
	step   uint32
	to     int32
	fixed  bool
}

// fold is FTS5's folding of a token character; 0 means it is dropped.
func fold(c uint32) uint32 {
	i := sort.Search(len(foldRuns), func(i int) bool { return foldRuns[i].hi >= c })
	if i == len(foldRuns) {
		return c
	}
	r := &foldRuns[i]
	if c < r.lo || (c-r.lo)%r.step != 0 {
		return c
	}
	if r.fixed {
		return uint32(r.to)
	}
	return uint32(int32(c) + r.to)
}

// tokens is the tokens of a text: token i is buf[ends[i-1]:ends[i]].
type tokens struct {
	buf  []byte
	ends []int
}

func (t *tokens) reset() {
	t.buf, t.ends = t.buf[:0], t.ends[:0]
}

func (t *tokens) token(i int) []byte {
	start := 0
	if i > 0 {
		start = t.ends[i-1]
	}
	return t.buf[start:t.ends[i]]
}

// decoder reads one code point of s at i and returns it and where the next
// starts.
type decoder func(s string, i int) (uint32, int)

// decodeText reads text as Go and the store's JSON encoder read it: an
// invalid byte is U+FFFD. The store folds đ and Đ to d before indexing
// (foldText), so it does here.
func decodeText(s string, i int) (uint32, int) {
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == 'đ' || r == 'Đ' {
		r = 'd'
	}
	return uint32(r), i + n
}

// utf8Trans1 is SQLite's table of the value bits of a UTF-8 lead byte from
// 0xc0 on.
var utf8Trans1 = [64]byte{
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x00, 0x01, 0x02, 0x03, 0x00, 0x01, 0x00, 0x00,
}

// decodeSQLite reads s as SQLite does a query's text, which may not be
// valid UTF-8: a lead byte takes every continuation byte after it, a lone
// continuation byte is the code point of its value, and an overlong form,
// a surrogate, U+FFFE and U+FFFF are U+FFFD.
func decodeSQLite(s string, i int) (uint32, int) {
	c := uint32(s[i])
	i++
	if c >= 0xc0 {
		c = uint32(utf8Trans1[c-0xc0])
		for i < len(s) && s[i]&0xc0 == 0x80 {
			c = c<<6 + uint32(s[i]&0x3f)
			i++
		}
		if c < 0x80 || c&0xFFFFF800 == 0xD800 || c&0xFFFFFFFE == 0xFFFE {
			c = 0xFFFD
		}
	}
	return c, i
}

// add appends the tokens of s, read with dec.
func (t *tokens) add(s string, dec decoder) {
	in := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				t.buf = append(t.buf, c)
			case c >= 'A' && c <= 'Z':
				t.buf = append(t.buf, c+'a'-'A')
			default:
				if in {
					t.ends = append(t.ends, len(t.buf))
					in = false
				}
				continue
			}
			in = true
			continue
		}
		var r uint32
		r, i = dec(s, i)
		// Past the last code point, where only a query's bytes that are
		// not UTF-8 lead, FTS5 finds no category, which it counts as a
		// letter.
		if r <= utf8.MaxRune && !inSpans(tokenSpans, r) && !(in && inSpans(joinSpans, r)) {
			if in {
				t.ends = append(t.ends, len(t.buf))
				in = false
			}
			continue
		}
		in = true
		if f := fold(r); f != 0 {
			t.buf = appendUTF8(t.buf, f)
		}
	}
	if in {
		t.ends = append(t.ends, len(t.buf))
	}
}

// appendUTF8 appends c in UTF-8 as FTS5 writes it: a code point past
// U+FFFF in four bytes, whatever its size.
func appendUTF8(b []byte, c uint32) []byte {
	switch {
	case c < 0x80:
		return append(b, byte(c))
	case c < 0x800:
		return append(b, 0xc0+byte(c>>6&0x1f), 0x80+byte(c&0x3f))
	case c < 0x10000:
		return append(b, 0xe0+byte(c>>12&0x0f), 0x80+byte(c>>6&0x3f), 0x80+byte(c&0x3f))
	}
	return append(b, 0xf0+byte(c>>18&0x07), 0x80+byte(c>>12&0x3f), 0x80+byte(c>>6&0x3f), 0x80+byte(c&0x3f))
}

// phrase is a full-text phrase: its tokens follow one another, the last
// one as a prefix when prefix is set.
type phrase struct {
	toks   []string
	prefix bool
}

// in reports whether the phrase occurs in t. A phrase without tokens
// occurs nowhere.
func (p *phrase) in(t *tokens) bool {
	n := len(p.toks)
	if n == 0 {
		return false
	}
	for i := 0; i+n <= len(t.ends); i++ {
		ok := true
		for j, want := range p.toks {
			got := t.token(i + j)
			if j == n-1 && p.prefix {
				ok = len(got) >= len(want) && string(got[:len(want)]) == want
			} else {
				ok = string(got) == want
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// newPhrase is the phrase of an FTS5 query string's text, already folded
// by foldText.
func newPhrase(text string, prefix bool) phrase {
	var t tokens
	t.add(text, decodeSQLite)
	p := phrase{prefix: prefix, toks: make([]string, len(t.ends))}
	for i := range t.ends {
		p.toks[i] = string(t.token(i))
	}
	return p
}
