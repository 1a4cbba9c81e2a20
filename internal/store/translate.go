package store

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
)

// How fields are stored, for the translation of queries:
//   - the event's typed parts and host.name have their own columns (the
//     column holds the first host when an event names several);
//   - message and db.statement are text fields, indexed word by word in
//     events_fts: a term matches a word or a phrase in them;
//   - a few fields that analysts filter on most (hotFields) are copied into
//     columns at write time, which a scan compares without parsing JSON;
//   - every other field is read from the stored JSON with json_each, whose
//     path is a bound parameter, so that a list matches when any of its
//     values does. A hot field whose value is not a string or a number (a
//     list, a boolean, null) holds listMark in its column, and is read
//     from the JSON like the others.
//
// Values match case-insensitively for ASCII letters (NOCASE, LIKE), and
// with full case and diacritic folding in the text fields.

type colKind uint8

const (
	colText colKind = iota
	colTime
	colID
)

type column struct {
	name string
	kind colKind
}

var columns = map[string]column{
	event.KeyTime:     {"e.time", colTime},
	event.KeyReceived: {"e.received", colTime},
	event.KeyID:       {"e.id", colID},
	event.KeyProduct:  {"e.product", colText},
	event.KeyCategory: {"e.category", colText},
	event.KeyService:  {"e.service", colText},
	event.FieldHost:   {"e.host", colText},
}

// hotFields are the fields copied into their own column of events, in the
// order of the columns (migration 5).
var hotFields = []struct{ field, col string }{
	{"user.name", "user_name"},
	{"source.ip", "source_ip"},
	{"event.action", "event_action"},
	{"event.outcome", "event_outcome"},
	{"db.name", "db_name"},
	{"db.user", "db_user"},
	{"db.operation", "db_operation"},
	{"db.response.rows", "db_rows"},
}

var hotColumn = func() map[string]string {
	m := make(map[string]string, len(hotFields))
	for _, h := range hotFields {
		m[h.field] = "e." + h.col
	}
	return m
}()

// listMark is the hot column's value for a field that is not a single
// string or number: read it from the JSON.
const listMark = "\x01json"

// hotValue is what the hot column of a field holds.
func hotValue(v event.Value, ok bool) any {
	switch {
	case !ok:
		return nil
	case v.Kind == event.KindString:
		return v.Str
	case v.Kind == event.KindNumber:
		if n, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
			return n
		}
		if f, err := strconv.ParseFloat(v.Str, 64); err == nil {
			return f
		}
		return v.Str
	}
	return listMark
}

// textFields maps the text fields to their full-text columns.
var textFields = map[string]string{
	event.FieldMessage: "message",
	FieldStatement:     "statement",
}

// translator turns a parsed query into a WHERE clause over events e. Every
// user value becomes a bound argument; the SQL text holds only column names
// from the tables above.
type translator struct {
	q    string    // the query, for error positions
	now  time.Time // for "now-1h"
	args []any
	// matches are the full-text expressions used; common those of them
	// that match many events.
	matches []string
	common  map[string]bool
	// minSeq, when not 0, bounds the common expressions to the events of a
	// window (see Store.window).
	minSeq int64
}

// arg binds v and returns its numbered placeholder, which the SQL may use
// more than once. Every placeholder made must appear in the SQL: a plain ?
// after the clause takes the number after the largest one seen.
func (t *translator) arg(v any) string {
	t.args = append(t.args, v)
	return "?" + strconv.Itoa(len(t.args))
}

func (t *translator) node(n query.Node) (string, error) {
	switch n := n.(type) {
	case *query.MatchAll:
		return "1", nil
	case *query.And:
		return t.bool(n.Nodes, " AND ")
	case *query.Or:
		return t.bool(n.Nodes, " OR ")
	case *query.Not:
		s, err := t.node(n.Node)
		if err != nil {
			return "", err
		}
		return "NOT (" + s + ")", nil
	case *query.Term:
		return t.term(n)
	case *query.Range:
		return t.rangeExpr(n)
	case *query.Exists:
		return t.exists(n)
	}
	return "", query.Errorf(t.q, n.Pos(), "unsupported query node %T", n)
}

// bool joins children; full-text terms among them are merged into one
// MATCH, which FTS5 answers far faster than one subquery each.
func (t *translator) bool(nodes []query.Node, op string) (string, error) {
	var parts, fts []string
	for _, c := range nodes {
		if f, ok := ftsExpr(c); ok {
			fts = append(fts, f)
			continue
		}
		s, err := t.node(c)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+s+")")
	}
	switch len(fts) {
	case 0:
	case 1:
		parts = append(parts, t.match(fts[0]))
	default:
		parts = append(parts, t.match("("+strings.Join(fts, ")"+op+"(")+")"))
	}
	return strings.Join(parts, op), nil
}

// match is the condition of one full-text expression. How SQLite should
// run it depends on how many events match, which it cannot know: a rare
// expression should drive the query (look up its few events, sort them by
// time), a common one should only filter a newest-first scan of the time
// index, which stops at the page's end. Events counts each expression first
// (t.common) and the unary + keeps SQLite from driving by a common one.
func (t *translator) match(expr string) string {
	t.matches = append(t.matches, expr)
	lhs := "e.seq"
	if t.common[expr] {
		lhs = "+e.seq"
	}
	cond := lhs + " IN (SELECT rowid FROM events_fts WHERE events_fts MATCH " + t.arg(expr)
	if t.common[expr] && t.minSeq > 0 {
		cond += " AND rowid >= " + t.arg(t.minSeq)
	}
	return cond + ")"
}

// ftsExpr is the FTS5 expression of a term on a text field, when the term
// is one FTS5 can answer: a word, a phrase, or a prefix.
func ftsExpr(n query.Node) (string, bool) {
	term, ok := n.(*query.Term)
	if !ok {
		return "", false
	}
	col, text := "", term.Field == ""
	if !text {
		col, text = textFields[term.Field]
	}
	if !text {
		return "", false
	}
	value, prefix := term.Value, false
	if term.Wildcard {
		parts := query.SplitPattern(term.Value)
		if len(parts) != 2 || parts[0].Literal == "" || !parts[1].Any {
			return "", false
		}
		value, prefix = parts[0].Literal, true
	}
	if strings.IndexFunc(value, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
		return "", false // no word in it: FTS5 would see an empty phrase
	}
	// FTS5 reads its query as a C string: a NUL would end it early.
	value = strings.ReplaceAll(foldText(value), "\x00", " ")
	expr := `"` + strings.ReplaceAll(value, `"`, `""`) + `"`
	if prefix {
		expr += " *"
	}
	if col != "" {
		expr = col + " : " + expr
	}
	return expr, true
}

func (t *translator) term(n *query.Term) (string, error) {
	if f, ok := ftsExpr(n); ok {
		return t.match(f), nil
	}
	if n.Field == "" {
		// Full text that FTS5 cannot answer (inner wildcards, no word): a
		// scan of the text fields.
		var ors []string
		for _, f := range []string{event.FieldMessage, FieldStatement} {
			s, err := t.term(&query.Term{Offset: n.Offset, Field: f, Value: n.Value, Phrase: n.Phrase, Wildcard: n.Wildcard})
			if err != nil {
				return "", err
			}
			ors = append(ors, s)
		}
		return strings.Join(ors, " OR "), nil
	}
	if c, ok := columns[n.Field]; ok {
		return t.columnTerm(n, c)
	}
	var cond func(value, typ string) string
	if _, text := textFields[n.Field]; text || n.Wildcard {
		// A text field without words ("-", "*.*") is matched as a substring.
		pattern := likePattern(n)
		if !n.Wildcard {
			pattern = "%" + pattern + "%"
		}
		p := t.arg(pattern)
		cond = func(value, _ string) string { return value + " LIKE " + p + ` ESCAPE '\'` }
	} else {
		v, num := t.arg(n.Value), ""
		if f, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64); err == nil {
			num = t.arg(f)
		}
		lit := strings.ToLower(n.Value)
		cond = func(value, typ string) string {
			c := value + " = " + v + " COLLATE NOCASE"
			if num != "" {
				c += " OR (" + typ + " IN ('integer', 'real') AND " + value + " = " + num + ")"
			}
			switch lit {
			case "true", "false", "null":
				c += " OR " + typ + " = '" + lit + "'" // a constant, not the user's text
			}
			return c
		}
	}
	return t.field(n.Field, n.Offset, cond)
}

// field is the condition that some value of field satisfies cond, which is
// given SQL expressions for the value and its JSON type.
func (t *translator) field(name string, off int, cond func(value, typ string) string) (string, error) {
	path, err := t.path(name, off)
	if err != nil {
		return "", err
	}
	fromJSON := "EXISTS (SELECT 1 FROM json_each(e.doc, " + t.arg(path) + ") WHERE " + cond("value", "type") + ")"
	col, hot := hotColumn[name]
	if !hot {
		return fromJSON, nil
	}
	// NULL (the field is absent) must read as false, not unknown, so that
	// NOT works.
	mark := t.arg(listMark)
	return col + " IS NOT NULL AND ((" + col + " <> " + mark + " AND (" + cond(col, "typeof("+col+")") + ")) OR (" +
		col + " = " + mark + " AND " + fromJSON + "))", nil
}

func (t *translator) columnTerm(n *query.Term, c column) (string, error) {
	switch c.kind {
	case colID:
		if n.Wildcard {
			return "", query.Errorf(t.q, n.Offset, "%s takes a whole event id, not a wildcard", n.Field)
		}
		id, err := event.ParseID(n.Value)
		if err != nil {
			return "", query.Errorf(t.q, n.Offset, "%s: %v", n.Field, err)
		}
		return c.name + " = " + t.arg(id[:]), nil
	case colTime:
		if n.Wildcard {
			return "", query.Errorf(t.q, n.Offset, "%s takes a time or a range, not a wildcard", n.Field)
		}
		start, end, err := t.time(n.Value, n.Field, n.Offset)
		if err != nil {
			return "", err
		}
		if end == start {
			return c.name + " = " + t.arg(start), nil
		}
		return c.name + " >= " + t.arg(start) + " AND " + c.name + " < " + t.arg(end), nil
	}
	if n.Wildcard {
		return c.name + " LIKE " + t.arg(likePattern(n)) + ` ESCAPE '\'`, nil
	}
	return c.name + " = " + t.arg(n.Value), nil
}

// likePattern is the LIKE pattern of a term: its wildcards become % and _,
// its literal text is escaped with a backslash.
func likePattern(n *query.Term) string {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	if !n.Wildcard {
		return esc.Replace(n.Value)
	}
	var b strings.Builder
	for _, p := range query.SplitPattern(n.Value) {
		switch {
		case p.Any:
			b.WriteByte('%')
		case p.One:
			b.WriteByte('_')
		default:
			b.WriteString(esc.Replace(p.Literal))
		}
	}
	return b.String()
}

func (t *translator) exists(n *query.Exists) (string, error) {
	if c, ok := columns[n.Field]; ok {
		switch c.kind {
		case colText:
			return c.name + " <> ''", nil
		case colTime:
			return c.name + " <> 0", nil
		}
		return "1", nil
	}
	if col, hot := hotColumn[n.Field]; hot {
		return col + " IS NOT NULL", nil
	}
	path, err := t.path(n.Field, n.Offset)
	if err != nil {
		return "", err
	}
	return "json_type(e.doc, " + t.arg(path) + ") IS NOT NULL", nil
}

func (t *translator) rangeExpr(n *query.Range) (string, error) {
	c, hot := columns[n.Field]
	if hot && c.kind == colID {
		return "", query.Errorf(t.q, n.Offset, "%s takes a whole event id, not a range", n.Field)
	}
	if hot && c.kind == colTime {
		lo, hi, err := t.timeRange(n)
		if err != nil {
			return "", err
		}
		var conds []string
		if lo != math.MinInt64 {
			conds = append(conds, c.name+" >= "+t.arg(lo))
		}
		if hi != math.MaxInt64 {
			conds = append(conds, c.name+" < "+t.arg(hi))
		}
		if len(conds) == 0 {
			return c.name + " <> 0", nil
		}
		return strings.Join(conds, " AND "), nil
	}
	// Numbers compare as numbers when every bound is one; else as text.
	var lo, hi any
	numeric := true
	for _, b := range []string{n.Low, n.High} {
		if b == "" {
			continue
		}
		if _, err := strconv.ParseFloat(b, 64); err != nil {
			numeric = false
		}
	}
	bound := func(s string) any {
		if f, err := strconv.ParseFloat(s, 64); err == nil && numeric {
			return f
		}
		return s
	}
	if n.Low != "" {
		lo = bound(n.Low)
	}
	if n.High != "" {
		hi = bound(n.High)
	}
	collate := ""
	if !numeric && !hot {
		collate = " COLLATE NOCASE"
	}
	var ops []string // operator and placeholder pairs
	if lo != nil {
		op := " > "
		if n.IncludeLow {
			op = " >= "
		}
		ops = append(ops, op+t.arg(lo)+collate)
	}
	if hi != nil {
		op := " < "
		if n.IncludeHigh {
			op = " <= "
		}
		ops = append(ops, op+t.arg(hi)+collate)
	}
	if hot {
		if len(ops) == 0 {
			return c.name + " <> ''", nil
		}
		return c.name + strings.Join(ops, " AND "+c.name), nil
	}
	return t.field(n.Field, n.Offset, func(value, typ string) string {
		conds := []string{typ + " = 'text'"}
		if numeric {
			conds[0] = typ + " IN ('integer', 'real')"
		}
		for _, op := range ops {
			conds = append(conds, value+op)
		}
		return strings.Join(conds, " AND ")
	})
}

// timeRange is a range on a time column as the half-open interval
// [lo, hi) of Unix nanoseconds; an open side is MinInt64 or MaxInt64. A
// date alone covers its whole day: [2026-01-01 TO 2026-01-31] ends at the
// end of the 31st, {2026-01-01 TO ...} starts on the 2nd.
func (t *translator) timeRange(n *query.Range) (lo, hi int64, err error) {
	lo, hi = math.MinInt64, math.MaxInt64
	if n.Low != "" {
		start, end, err := t.time(n.Low, n.Field, n.Offset)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case n.IncludeLow:
			lo = start
		case end != start:
			lo = end // after the whole day
		default:
			lo = start + 1
		}
	}
	if n.High != "" {
		start, end, err := t.time(n.High, n.Field, n.Offset)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case n.IncludeHigh && end != start:
			hi = end // through the whole day
		case n.IncludeHigh:
			hi = start + 1
		default:
			hi = start
		}
	}
	return lo, hi, nil
}

// topTimeRange is the interval of event times that a query's top-level
// @timestamp ranges allow, for bounding the search windows.
func (t *translator) topTimeRange(n query.Node) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	nodes := []query.Node{n}
	if and, ok := n.(*query.And); ok {
		nodes = and.Nodes
	}
	for _, c := range nodes {
		r, ok := c.(*query.Range)
		if !ok || r.Field != event.KeyTime {
			continue
		}
		l, h, err := t.timeRange(r)
		if err != nil {
			continue // reported by the translation itself
		}
		lo, hi = max(lo, l), min(hi, h)
	}
	return lo, hi
}

// path is the JSON path of a field in the stored document, where fields
// are flat keys with dots.
func (t *translator) path(field string, off int) (string, error) {
	for _, r := range field {
		if r == '"' || r == '\\' || unicode.IsControl(r) {
			return "", query.Errorf(t.q, off, "field name %q holds a character that field names cannot have", field)
		}
	}
	return `$."` + field + `"`, nil
}

// time parses a time in a query: RFC 3339, a date and time without zone
// (UTC), a date alone (the whole day: end is the next midnight), or "now"
// with an optional -/+ offset in s, m, h, d or w ("now-15m"). For an instant,
// end equals start.
func (t *translator) time(s, field string, off int) (start, end int64, err error) {
	if strings.HasPrefix(strings.ToLower(s), "now") {
		at := t.now
		if rest := s[3:]; rest != "" {
			d, ok := parseOffset(rest)
			if !ok {
				return 0, 0, query.Errorf(t.q, off, "%s: %q is not now±N with s, m, h, d or w", field, s)
			}
			at = at.Add(d)
		}
		return at.UnixNano(), at.UnixNano(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm.UnixNano(), tm.UnixNano(), nil
		}
	}
	if tm, err := time.Parse("2006-01-02", s); err == nil {
		return tm.UnixNano(), tm.AddDate(0, 0, 1).UnixNano(), nil
	}
	return 0, 0, query.Errorf(t.q, off, "%s: %q is not a time (want 2026-01-31, 2026-01-31T10:00:00Z or now-1h)", field, s)
}

func parseOffset(s string) (time.Duration, bool) {
	if len(s) < 3 || (s[0] != '-' && s[0] != '+') {
		return 0, false
	}
	n, err := strconv.Atoi(s[1 : len(s)-1])
	if err != nil || n < 0 || n > 100000 {
		return 0, false
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, false
	}
	d := time.Duration(n) * unit
	if s[0] == '-' {
		d = -d
	}
	return d, true
}
