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

// Searches test every event they read with the compiled query
// (internal/query/match). The store only chooses which blocks to read: by
// the time range the query and the caller allow (translator.topTimeRange),
// and by the full-text index of message and db.statement (ftsExpr), whose
// expressions hold the user's words as quoted strings of a bound
// parameter, never SQL.

// textFields maps the text fields to their full-text columns.
var textFields = map[string]string{
	event.FieldMessage: "message",
	FieldStatement:     "statement",
}

// translator reads the time ranges of a query.
type translator struct {
	q   string    // the query, for error positions
	now time.Time // for "now-1h"
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
