// Package query owns the analyst query language of vigil: the query string
// in the style analysts know from Kibana (KQL and Lucene), parsed into a
// small backend-neutral syntax tree. Store backends (SQLite in
// internal/store, Elasticsearch later) translate the tree; this package knows
// nothing of SQL.
//
// The language:
//
//	failed login              bare words: full text on the message (implicit AND)
//	"permission denied"       a phrase
//	user.name:postgres        a field equals a value
//	db.statement:"DROP TABLE" a field holds a phrase (text fields) or equals it
//	host.name:db-*  user:?dm* wildcards: * any run, ? one character, \ escapes
//	source.ip:*               the field exists
//	a AND b, a OR b, NOT a    boolean operators, any case; also && || and -a
//	(a OR b) AND c            parentheses; NOT binds tighter than AND, AND than OR
//	user.name:(alice OR bob)  several values for one field
//	@timestamp:[2026-01-01 TO 2026-02-01]   inclusive range; {} exclusive, * open
//	db.response.rows >= 1000  comparisons (also db.response.rows:>=1000)
//
// Values match case-insensitively, as Sigma rules do. Errors are *Error
// values that carry the position in the query string.
//
// The tree maps one to one onto Elasticsearch's query DSL: And, Or and Not
// are a bool query's filter, should (minimum 1) and must_not; a Term is a
// term query with case_insensitive (a match_phrase on text fields such as
// message, a wildcard query when Wildcard is set, whose pattern syntax is
// the same), a Range a range query, Exists an exists query, MatchAll
// match_all; a Term without a field is a match_phrase on the text fields.
//
// Concurrency: Parse is a pure function; a parsed tree is immutable data
// that any number of goroutines may read.
package query

import (
	"strings"
)

// Node is one node of a parsed query.
type Node interface {
	// Pos is the byte offset in the query string where the node starts.
	Pos() int
	// String renders the node in canonical query syntax; parsing the result
	// gives back an equal tree.
	String() string
	node()
}

// MatchAll matches everything: the empty query or "*".
type MatchAll struct{ Offset int }

// And matches when every node matches.
type And struct {
	Offset int
	Nodes  []Node
}

// Or matches when any node matches.
type Or struct {
	Offset int
	Nodes  []Node
}

// Not matches when its node does not.
type Not struct {
	Offset int
	Node   Node
}

// Term matches a value in a field, or in the full text when Field is empty.
type Term struct {
	Offset int
	// Field is the field name, "" for full text.
	Field string
	// Value is the literal value; when Wildcard is set it is a pattern in
	// which * matches any run of characters, ? one character, and a
	// backslash makes the next character literal (the syntax of
	// Elasticsearch's wildcard query).
	Value string
	// Phrase is set when the value was quoted: for text fields it is a
	// phrase of words; a quoted value is never a wildcard.
	Phrase   bool
	Wildcard bool
}

// Range matches values between two bounds. An empty bound is open. Bounds
// are text as the user wrote them; backends decide whether a field compares
// as a time, a number or text.
type Range struct {
	Offset      int
	Field       string
	Low, High   string
	IncludeLow  bool
	IncludeHigh bool
}

// Exists matches when the field is present.
type Exists struct {
	Offset int
	Field  string
}

func (n *MatchAll) Pos() int { return n.Offset }
func (n *And) Pos() int      { return n.Offset }
func (n *Or) Pos() int       { return n.Offset }
func (n *Not) Pos() int      { return n.Offset }
func (n *Term) Pos() int     { return n.Offset }
func (n *Range) Pos() int    { return n.Offset }
func (n *Exists) Pos() int   { return n.Offset }

func (*MatchAll) node() {}
func (*And) node()      {}
func (*Or) node()       {}
func (*Not) node()      {}
func (*Term) node()     {}
func (*Range) node()    {}
func (*Exists) node()   {}

func (n *MatchAll) String() string { return "*" }

func (n *And) String() string { return join(n.Nodes, " AND ") }

func (n *Or) String() string { return join(n.Nodes, " OR ") }

func join(nodes []Node, op string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range nodes {
		if i > 0 {
			b.WriteString(op)
		}
		b.WriteString(c.String())
	}
	b.WriteByte(')')
	return b.String()
}

func (n *Not) String() string { return "NOT " + n.Node.String() }

func (n *Term) String() string {
	var b strings.Builder
	if n.Field != "" {
		b.WriteString(escapeWord(n.Field))
		b.WriteByte(':')
	}
	switch {
	case n.Phrase:
		b.WriteString(quote(n.Value))
	case n.Wildcard:
		b.WriteString(escapePattern(n.Value))
	default:
		b.WriteString(escapeWord(n.Value))
	}
	return b.String()
}

func (n *Range) String() string {
	var b strings.Builder
	b.WriteString(escapeWord(n.Field))
	b.WriteByte(':')
	if n.IncludeLow {
		b.WriteByte('[')
	} else {
		b.WriteByte('{')
	}
	b.WriteString(bound(n.Low))
	b.WriteString(" TO ")
	b.WriteString(bound(n.High))
	if n.IncludeHigh {
		b.WriteByte(']')
	} else {
		b.WriteByte('}')
	}
	return b.String()
}

func bound(s string) string {
	if s == "" {
		return "*"
	}
	return quote(s)
}

func (n *Exists) String() string { return escapeWord(n.Field) + ":*" }

// special reports whether c must be escaped in an unquoted word.
func special(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '(', ')', '"', ':', '<', '>', '\\', '*', '?', '[', ']', '{', '}':
		return true
	}
	return false
}

// escapeWord renders a literal as an unquoted word. A word that would read
// as an operator, or that starts with a character with a meaning at the
// start of a word, gets its first character escaped.
func escapeWord(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if special(c) || (i == 0 && (c == '-' || c == '+' || c == '!' || c == '=' || isOperator(s) || strings.HasPrefix(s, "&&") || strings.HasPrefix(s, "||"))) {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// escapePattern renders a wildcard pattern: its escapes are kept, its
// wildcards left bare, anything else special escaped.
func escapePattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte('\\')
			b.WriteByte(p[i+1])
			i++
		case c == '*' || c == '?':
			b.WriteByte(c)
		case special(c) || (i == 0 && (c == '-' || c == '+' || c == '!' || c == '=' || strings.HasPrefix(p, "&&") || strings.HasPrefix(p, "||"))):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isOperator(w string) bool {
	return strings.EqualFold(w, "AND") || strings.EqualFold(w, "OR") || strings.EqualFold(w, "NOT") || strings.EqualFold(w, "TO")
}

// Fields returns the field names a query refers to, in order of first use,
// without duplicates; full-text terms are reported as "".
func Fields(n Node) []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	var walk func(Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *And:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *Or:
			for _, c := range n.Nodes {
				walk(c)
			}
		case *Not:
			walk(n.Node)
		case *Term:
			add(n.Field)
		case *Range:
			add(n.Field)
		case *Exists:
			add(n.Field)
		}
	}
	walk(n)
	return out
}

// PatternPart is one piece of a wildcard pattern: a literal run, or one
// wildcard.
type PatternPart struct {
	Literal string
	// Any is a * wildcard, One a ? wildcard; both false for a literal.
	Any, One bool
}

// SplitPattern splits a Term's wildcard pattern into literals and wildcards,
// with its escapes resolved.
func SplitPattern(pattern string) []PatternPart {
	var parts []PatternPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, PatternPart{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\' && i+1 < len(pattern):
			lit.WriteByte(pattern[i+1])
			i++
		case c == '*':
			flush()
			parts = append(parts, PatternPart{Any: true})
		case c == '?':
			flush()
			parts = append(parts, PatternPart{One: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts
}
