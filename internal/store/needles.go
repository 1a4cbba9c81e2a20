package store

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
)

// A search reads many events that its query then rejects. Decoding one
// costs more than looking at its document, so a search first looks for
// needles: runs of text that the document of every event the query
// matches holds, ASCII case aside. An event without them is skipped
// undecoded; one with them is decoded and tested, so a needle only has to
// be necessary, never sufficient.
//
// That rests on how documents are written (event.AppendJSON, which ingest
// uses for every event): a string value appears in its document as its
// text, escaping only control characters, '"', '\\', '<', '>' and '&', and
// never \u escapes of other ASCII characters. A needle is therefore cut
// from the printable ASCII of a value that matching compares as text, and
// never from a value compared as a number or a time.
//
// Words of the full text are folded (case, diacritics, đ), so a word is a
// needle only for documents all in ASCII: there a word of the text is a
// run of ASCII letters and digits, folded by case alone, and the ASCII
// letters and digits of a query word are in the word it matches.

// minNeedle is the shortest needle worth a search.
const minNeedle = 3

// needle is a run of text, ASCII lower-case, that the document of a
// matching event holds; words only if the document is all ASCII.
type needle struct {
	text  []byte
	words bool
}

// needles returns what the document of every event that n matches holds;
// nil when nothing is known.
func needles(n query.Node) []needle {
	switch n := n.(type) {
	case *query.Term:
		return termNeedles(n)
	case *query.And:
		var out []needle
		for _, c := range n.Nodes {
			out = append(out, needles(c)...)
		}
		return out
	}
	return nil // Or, Not, ranges and exists promise nothing
}

func termNeedles(t *query.Term) []needle {
	switch t.Field {
	case event.KeyTime, event.KeyReceived, event.KeyID:
		return nil // times and IDs: not as written
	}
	if _, words := ftsExpr(t); words {
		return wordNeedles(t)
	}
	if t.Field == "" || strings.IndexByte(t.Value, 0) >= 0 {
		return nil // LIKE over message or statement; text compared up to a NUL
	}
	if _, text := textFields[t.Field]; !text && !t.Wildcard {
		// Equality: a number or a boolean equals only a query value that
		// reads as one.
		v := strings.TrimSpace(t.Value)
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return nil // 10 matches 1e1
		}
		switch strings.ToLower(t.Value) {
		case "true", "false", "null":
			return nil
		}
		return needleOf(t.Value)
	}
	// LIKE, a pattern or a substring of a text field, compares a number as
	// SQLite's text of it (1e3 as "1000.0") and a boolean as 1 or 0: a
	// needle must hold what no such text does.
	lits := []string{t.Value}
	if t.Wildcard {
		lits = lits[:0]
		for _, p := range query.SplitPattern(t.Value) {
			lits = append(lits, p.Literal)
		}
	}
	var out []needle
	for _, lit := range lits {
		for _, n := range needleOf(lit) {
			if !numberText(n.text) {
				out = append(out, n)
			}
		}
	}
	return out
}

// numberText reports whether SQLite's text of a number could hold s
// (lower-case): digits, '.', '+', '-', an exponent, "inf".
func numberText(s []byte) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789.+-einf", rune(c)) {
			return false
		}
	}
	return true
}

// wordNeedles returns the runs of ASCII letters and digits of a full-text
// term (a word, a phrase, or a prefix), as needles for ASCII documents.
func wordNeedles(t *query.Term) []needle {
	value := t.Value
	if t.Wildcard {
		value = query.SplitPattern(value)[0].Literal // ftsExpr took it: a prefix
	}
	var out []needle
	start := 0
	for i := 0; i <= len(value); i++ {
		if i < len(value) && isAlnumASCII(value[i]) {
			continue
		}
		if i-start >= minNeedle {
			out = append(out, needle{text: lowerASCII(nil, []byte(value[start:i])), words: true})
		}
		start = i + 1
	}
	return out
}

func isAlnumASCII(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// needleOf returns the longest run of s that a document holds as it is,
// lower-cased, if it is long enough.
func needleOf(s string) []needle {
	best, start := "", 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && verbatim(s[i]) {
			continue
		}
		if i-start > len(best) {
			best = s[start:i]
		}
		start = i + 1
	}
	if len(best) < minNeedle {
		return nil
	}
	return []needle{{text: lowerASCII(nil, []byte(best))}}
}

// verbatim reports whether AppendJSON writes the byte as it is.
func verbatim(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// lowerASCII appends s to dst with ASCII letters in lower case, eight
// bytes at a time.
func lowerASCII(dst, s []byte) []byte {
	dst, _ = lowerASCIIOnly(dst, s)
	return dst
}

// lowerASCIIOnly is lowerASCII that also reports whether s is all ASCII.
func lowerASCIIOnly(dst, s []byte) ([]byte, bool) {
	n := len(dst)
	dst = slices.Grow(dst, len(s))[:n+len(s)]
	out := dst[n:]
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	var seen uint64 // the high bits of every byte
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		seen |= x
		// High bit of each byte set where the byte is 'A' to 'Z': at least
		// 'A' and not above 'Z', among bytes below 0x80.
		low := x &^ highs
		ge := low + (0x80-'A')*ones
		gt := low + (0x80-'Z'-1)*ones
		upper := (ge &^ gt) &^ x & highs
		binary.LittleEndian.PutUint64(out[i:], x|upper>>2)
	}
	for ; i < len(s); i++ {
		c := s[i]
		seen |= uint64(c)
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return dst, seen&highs == 0
}

// holdsNeedles reports whether doc holds every needle, ASCII case aside
// (the needles of words only if doc is all ASCII); scratch is a buffer for
// its lower-case copy, returned for reuse.
func holdsNeedles(doc []byte, ns []needle, scratch []byte) (bool, []byte) {
	if len(ns) == 0 {
		return true, scratch
	}
	scratch, ascii := lowerASCIIOnly(scratch[:0], doc)
	for _, n := range ns {
		if (ascii || !n.words) && !bytes.Contains(scratch, n.text) {
			return false, scratch
		}
	}
	return true, scratch
}

// hostSets returns the hosts a query requires: for each top-level
// condition that is a host, or an OR of hosts, the set of them (ASCII
// lower-case), one of which an event's host must be. A block that holds
// none of a set is not read (blockHosts).
func hostSets(n query.Node) [][]string {
	nodes := []query.Node{n}
	if and, ok := n.(*query.And); ok {
		nodes = and.Nodes
	}
	var out [][]string
	for _, c := range nodes {
		if set, ok := hostSet(c); ok {
			out = append(out, set)
		}
	}
	return out
}

// hostSet returns the hosts of a host term, or of an OR of host terms.
func hostSet(n query.Node) ([]string, bool) {
	switch n := n.(type) {
	case *query.Term:
		if n.Field != event.FieldHost || n.Wildcard || strings.IndexByte(n.Value, 0) >= 0 {
			return nil, false
		}
		return []string{string(lowerASCII(nil, []byte(n.Value)))}, true
	case *query.Or:
		var out []string
		for _, c := range n.Nodes {
			set, ok := hostSet(c)
			if !ok {
				return nil, false
			}
			out = append(out, set...)
		}
		return out, true
	}
	return nil, false
}

// hostsOnly reports whether a query asks nothing but hosts (each a host
// term or an OR of them, as hostSets takes them) and times of events
// (ranges and terms on @timestamp, which its time bounds give exactly).
func hostsOnly(n query.Node) bool {
	nodes := []query.Node{n}
	if and, ok := n.(*query.And); ok {
		nodes = and.Nodes
	}
	hosts := false
	for _, c := range nodes {
		switch c := c.(type) {
		case *query.Range:
			if c.Field != event.KeyTime || c.Low == "" && c.High == "" {
				return false // [* TO *] asks for a time, which bounds do not
			}
			continue
		case *query.Term:
			if c.Field == event.KeyTime && !c.Wildcard {
				continue
			}
		}
		if _, ok := hostSet(c); !ok {
			return false
		}
		hosts = true
	}
	return hosts
}
