package match

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
)

// nanos is a time column's value: Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// parseTime reads a time in a query, as the store does: RFC 3339, a date
// and time without zone (UTC), a date alone (the whole day: end is the next
// midnight), or "now" with an optional -/+ offset in s, m, h, d or w. For
// an instant, end equals start.
func (c *compiler) parseTime(s, field string, off int) (start, end int64, err error) {
	if strings.HasPrefix(strings.ToLower(s), "now") {
		at := c.now
		if rest := s[3:]; rest != "" {
			d, ok := parseOffset(rest)
			if !ok {
				return 0, 0, query.Errorf(c.src, off, "%s: %q is not now±N with s, m, h, d or w", field, s)
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
	return 0, 0, query.Errorf(c.src, off, "%s: %q is not a time (want 2026-01-31, 2026-01-31T10:00:00Z or now-1h)", field, s)
}

func parseOffset(s string) (time.Duration, bool) {
	if len(s) < 3 || (s[0] != '-' && s[0] != '+') {
		return 0, false
	}
	n, err := strconv.Atoi(s[1 : len(s)-1])
	if err != nil || n < 0 || n > 100000 {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 's':
		unit = time.Second
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	default:
		return 0, false
	}
	d := time.Duration(n) * unit
	if s[0] == '-' {
		d = -d
	}
	return d, true
}

// timeRange is a range on a time column as the half-open interval [lo, hi)
// of Unix nanoseconds; an open side is MinInt64 or MaxInt64. A date alone
// covers its whole day.
func (c *compiler) timeRange(n *query.Range) (lo, hi int64, err error) {
	lo, hi = math.MinInt64, math.MaxInt64
	if n.Low != "" {
		start, end, err := c.parseTime(n.Low, n.Field, n.Offset)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case n.IncludeLow:
			lo = start
		case end != start:
			lo = end
		default:
			lo = start + 1
		}
	}
	if n.High != "" {
		start, end, err := c.parseTime(n.High, n.Field, n.Offset)
		if err != nil {
			return 0, 0, err
		}
		switch {
		case n.IncludeHigh && end != start:
			hi = end
		case n.IncludeHigh:
			hi = start + 1
		default:
			hi = start
		}
	}
	return lo, hi, nil
}

// timeBounds is the interval of event times, [lo, hi) in Unix nanoseconds,
// outside which the query matches nothing: the intersection of its
// top-level conditions on @timestamp (the query, or the parts of a
// top-level AND). An open side is MinInt64 or MaxInt64.
func (c *compiler) timeBounds(n query.Node) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	nodes := []query.Node{n}
	if and, ok := n.(*query.And); ok {
		nodes = and.Nodes
	}
	for _, n := range nodes {
		var l, h int64
		var err error
		switch n := n.(type) {
		case *query.Range:
			if n.Field != event.KeyTime {
				continue
			}
			l, h, err = c.timeRange(n)
		case *query.Term:
			if n.Field != event.KeyTime || n.Wildcard {
				continue
			}
			if l, h, err = c.parseTime(n.Value, n.Field, n.Offset); h == l {
				h++ // an instant
			}
		default:
			continue
		}
		if err == nil {
			lo, hi = max(lo, l), min(hi, h)
		}
	}
	return lo, hi
}
