package query

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds on what Parse accepts, so that a hostile query cannot exhaust the
// stack or a backend's limits.
const (
	MaxLen   = 8192 // bytes of query text
	MaxDepth = 64   // nested parentheses and NOTs
	MaxTerms = 512  // terms, ranges and exists tests
)

// Error is a query that does not parse, or that a backend cannot run.
type Error struct {
	// Offset is the byte offset of the problem in the query string; Column
	// the same place counted in characters from 1, for people.
	Offset int
	Column int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("query: column %d: %s", e.Column, e.Msg) }

// Errorf returns an *Error at byte offset off of query q. Backends use it to
// report what they cannot run at the place the user wrote it.
func Errorf(q string, off int, format string, args ...any) *Error {
	if off > len(q) {
		off = len(q)
	}
	if off < 0 {
		off = 0
	}
	return &Error{Offset: off, Column: utf8.RuneCountInString(q[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses a query string. The empty query matches everything.
func Parse(q string) (Node, error) {
	if len(q) > MaxLen {
		return nil, Errorf(q, MaxLen, "query is longer than %d bytes", MaxLen)
	}
	p := &parser{s: q}
	p.skipSpace()
	if p.eof() {
		return &MatchAll{Offset: p.pos}, nil
	}
	n, err := p.or("")
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		// or() stops only at a ")" it did not open.
		return nil, p.errf(p.pos, "unexpected %q with no matching \"(\"", p.s[p.pos])
	}
	return n, nil
}

type parser struct {
	s     string
	pos   int
	depth int
	terms int
}

func (p *parser) eof() bool { return p.pos >= len(p.s) }

func (p *parser) errf(off int, format string, args ...any) error {
	return Errorf(p.s, off, format, args...)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

// Word stop sets: where an unquoted word ends.
const (
	stopTerm  = "()\":<>"
	stopBound = "]}"
	stopCmp   = "()\""
)

// word is an unquoted word as scanned.
type word struct {
	start, end int
	literal    string // escapes resolved
	pattern    string // escapes kept for \ * ?
	escaped    bool   // held an escape
	wild       bool   // held an unescaped * or ?
}

// scan reads an unquoted word at p.pos without consuming it.
func (p *parser) scan(stops string) (word, error) {
	w := word{start: p.pos}
	var lit, pat strings.Builder
	i := p.pos
	for i < len(p.s) {
		c := p.s[i]
		if isSpace(c) || strings.IndexByte(stops, c) >= 0 {
			break
		}
		if c == '\\' {
			if i+1 >= len(p.s) {
				return w, p.errf(i, "a backslash at the end escapes nothing")
			}
			e := p.s[i+1]
			w.escaped = true
			lit.WriteByte(e)
			if e == '\\' || e == '*' || e == '?' {
				pat.WriteByte('\\')
			}
			pat.WriteByte(e)
			i += 2
			continue
		}
		if c == '*' || c == '?' {
			w.wild = true
		}
		lit.WriteByte(c)
		pat.WriteByte(c)
		i++
	}
	w.end = i
	w.literal, w.pattern = lit.String(), pat.String()
	return w, nil
}

// keyword reports the operator at p.pos, if any, and where it ends.
func (p *parser) keyword() (string, int) {
	if strings.HasPrefix(p.s[p.pos:], "&&") {
		return "AND", p.pos + 2
	}
	if strings.HasPrefix(p.s[p.pos:], "||") {
		return "OR", p.pos + 2
	}
	w, err := p.scan(stopTerm)
	if err != nil || w.escaped || w.end == w.start {
		return "", 0
	}
	if w.end < len(p.s) && p.s[w.end] == ':' {
		return "", 0 // a field that happens to be named like an operator
	}
	for _, k := range [...]string{"AND", "OR", "NOT"} {
		if strings.EqualFold(w.literal, k) {
			return k, w.end
		}
	}
	return "", 0
}

func (p *parser) enter(off int) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errf(off, "query nests deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) leaf(off int) error {
	p.terms++
	if p.terms > MaxTerms {
		return p.errf(off, "query has more than %d terms", MaxTerms)
	}
	return nil
}

// or parses a disjunction. field is the field of an enclosing field:( )
// group, whose bare values are values of that field.
func (p *parser) or(field string) (Node, error) {
	start := p.pos
	first, err := p.and(field)
	if err != nil {
		return nil, err
	}
	nodes := []Node{first}
	for {
		p.skipSpace()
		if p.eof() {
			break
		}
		k, end := p.keyword()
		if k != "OR" {
			break
		}
		p.pos = end
		n, err := p.and(field)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return &Or{Offset: start, Nodes: nodes}, nil
}

func (p *parser) and(field string) (Node, error) {
	p.skipSpace()
	start := p.pos
	first, err := p.unary(field)
	if err != nil {
		return nil, err
	}
	nodes := []Node{first}
	for {
		p.skipSpace()
		if p.eof() || p.s[p.pos] == ')' {
			break
		}
		k, end := p.keyword()
		if k == "OR" {
			break
		}
		if k == "AND" {
			p.pos = end
		}
		n, err := p.unary(field)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return &And{Offset: start, Nodes: nodes}, nil
}

func (p *parser) unary(field string) (Node, error) {
	p.skipSpace()
	start := p.pos
	if err := p.enter(start); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.eof() {
		return nil, p.errf(p.pos, "expected a term at the end of the query")
	}
	k, end := p.keyword()
	switch {
	case k == "NOT":
		p.pos = end
	case k != "":
		return nil, p.errf(start, "%s needs a term before it", k)
	case p.s[p.pos] == '-' && p.pos+1 < len(p.s) && !isSpace(p.s[p.pos+1]):
		p.pos++
	case p.s[p.pos] == '+' && p.pos+1 < len(p.s) && !isSpace(p.s[p.pos+1]):
		p.pos++
		return p.unary(field)
	default:
		return p.primary(field)
	}
	n, err := p.unary(field)
	if err != nil {
		return nil, err
	}
	return &Not{Offset: start, Node: n}, nil
}

func (p *parser) primary(field string) (Node, error) {
	start := p.pos
	switch c := p.s[p.pos]; c {
	case '(':
		return p.group(field)
	case ')':
		return nil, p.errf(start, "expected a term before \")\"")
	case '"':
		return p.phrase(field)
	case '[', '{':
		if field == "" {
			return nil, p.errf(start, "a range needs a field, as in @timestamp:[2026-01-01 TO 2026-02-01]")
		}
		return p.rangeExpr(field, start)
	case '<', '>':
		if field == "" {
			return nil, p.errf(start, "a comparison needs a field, as in db.response.rows >= 1000")
		}
		return p.compare(field, start)
	case ':':
		return nil, p.errf(start, "expected a field name before \":\"")
	}
	w, err := p.scan(stopTerm)
	if err != nil {
		return nil, err
	}
	p.pos = w.end
	// A word followed by ":" or a comparison is a field name.
	after := p.pos
	p.skipSpace()
	if !p.eof() && strings.IndexByte(":<>", p.s[p.pos]) >= 0 {
		if field != "" {
			return nil, p.errf(start, "a field inside %s:( ) takes values, not other fields", field)
		}
		if w.wild {
			return nil, p.errf(start, "wildcards in field names are not supported")
		}
		if p.s[p.pos] == ':' {
			p.pos++
			return p.fieldValue(w.literal, start)
		}
		return p.compare(w.literal, start)
	}
	p.pos = after
	return p.value(field, w)
}

// value makes the node for an unquoted word in field (or full text).
func (p *parser) value(field string, w word) (Node, error) {
	if err := p.leaf(w.start); err != nil {
		return nil, err
	}
	if w.wild && w.pattern == "*" {
		if field == "" {
			return &MatchAll{Offset: w.start}, nil
		}
		return &Exists{Offset: w.start, Field: field}, nil
	}
	if w.wild {
		return &Term{Offset: w.start, Field: field, Value: w.pattern, Wildcard: true}, nil
	}
	return &Term{Offset: w.start, Field: field, Value: w.literal}, nil
}

func (p *parser) group(field string) (Node, error) {
	open := p.pos
	if err := p.enter(open); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.pos++
	p.skipSpace()
	if !p.eof() && p.s[p.pos] == ')' {
		return nil, p.errf(open, "empty parentheses")
	}
	n, err := p.or(field)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.s[p.pos] != ')' {
		return nil, p.errf(open, "this \"(\" is never closed")
	}
	p.pos++
	return n, nil
}

func (p *parser) fieldValue(field string, start int) (Node, error) {
	p.skipSpace()
	if p.eof() {
		return nil, p.errf(p.pos, "expected a value after %s:", field)
	}
	switch p.s[p.pos] {
	case '(':
		return p.group(field)
	case '[', '{':
		return p.rangeExpr(field, start)
	case '<', '>':
		return p.compare(field, start)
	case '"':
		n, err := p.phrase(field)
		if err == nil {
			n.(*Term).Offset = start
		}
		return n, err
	case ')':
		return nil, p.errf(p.pos, "expected a value after %s:", field)
	case ':':
		return nil, p.errf(p.pos, "unexpected \":\" (quote the value or escape it as \\:)")
	}
	w, err := p.scan(stopTerm)
	if err != nil {
		return nil, err
	}
	p.pos = w.end
	n, err := p.value(field, w)
	if err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case *Term:
		n.Offset = start
	case *Exists:
		n.Offset = start
	}
	return n, nil
}

// quoted reads a double-quoted string at p.pos.
func (p *parser) quoted() (string, error) {
	open := p.pos
	var b strings.Builder
	for i := p.pos + 1; i < len(p.s); i++ {
		switch c := p.s[i]; c {
		case '\\':
			if i+1 < len(p.s) {
				i++
				b.WriteByte(p.s[i])
			}
		case '"':
			p.pos = i + 1
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errf(open, "this quote is never closed")
}

func (p *parser) phrase(field string) (Node, error) {
	start := p.pos
	if err := p.leaf(start); err != nil {
		return nil, err
	}
	s, err := p.quoted()
	if err != nil {
		return nil, err
	}
	return &Term{Offset: start, Field: field, Value: s, Phrase: true}, nil
}

// bound reads one bound of a range or comparison: quoted, or a word that
// ends at one of stops. An unquoted * is an open bound.
func (p *parser) bound(stops string) (string, bool, error) {
	if p.eof() {
		return "", false, p.errf(p.pos, "expected a value at the end of the query")
	}
	if p.s[p.pos] == '"' {
		s, err := p.quoted()
		return s, true, err
	}
	w, err := p.scan(stops)
	if err != nil {
		return "", false, err
	}
	if w.end == w.start {
		return "", false, p.errf(p.pos, "expected a value, found %q", p.s[p.pos])
	}
	p.pos = w.end
	if w.pattern == "*" {
		return "", false, nil
	}
	return w.literal, w.escaped, nil
}

func (p *parser) rangeExpr(field string, start int) (Node, error) {
	if err := p.leaf(start); err != nil {
		return nil, err
	}
	open := p.pos
	r := &Range{Offset: start, Field: field, IncludeLow: p.s[p.pos] == '['}
	p.pos++
	p.skipSpace()
	var err error
	if r.Low, _, err = p.bound(stopBound); err != nil {
		return nil, err
	}
	p.skipSpace()
	w, err := p.scan(stopBound)
	if err != nil {
		return nil, err
	}
	if w.escaped || !strings.EqualFold(w.literal, "TO") {
		return nil, p.errf(p.pos, "expected TO in the range, as in [2026-01-01 TO 2026-02-01]")
	}
	p.pos = w.end
	p.skipSpace()
	if r.High, _, err = p.bound(stopBound); err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || (p.s[p.pos] != ']' && p.s[p.pos] != '}') {
		return nil, p.errf(open, "this range is never closed with \"]\" or \"}\"")
	}
	r.IncludeHigh = p.s[p.pos] == ']'
	p.pos++
	return r, nil
}

func (p *parser) compare(field string, start int) (Node, error) {
	if err := p.leaf(start); err != nil {
		return nil, err
	}
	op := p.s[p.pos : p.pos+1]
	p.pos++
	if !p.eof() && p.s[p.pos] == '=' {
		op += "="
		p.pos++
	}
	p.skipSpace()
	at := p.pos
	v, quoted, err := p.bound(stopCmp)
	if err != nil {
		return nil, err
	}
	if v == "" {
		if quoted {
			return nil, p.errf(at, "a comparison needs a value")
		}
		return nil, p.errf(at, "a comparison with * is always true; use %s:* to test that the field exists", field)
	}
	r := &Range{Offset: start, Field: field}
	switch op {
	case ">":
		r.Low = v
	case ">=":
		r.Low, r.IncludeLow = v, true
	case "<":
		r.High = v
	case "<=":
		r.High, r.IncludeHigh = v, true
	}
	return r, nil
}
