// Package match owns the evaluation of a parsed query (internal/query) on
// one event in Go, with the semantics that the SQLite store's translation
// of the query gives against its stored events: the same fields, the same
// case and diacritic folding, the same full-text words, the same errors.
// A store that keeps events outside SQL tests each candidate with it, so
// any difference from the SQL result is a bug in search; the tests compare
// the two on many queries and events.
//
// Concurrency: Compile is a pure function; a Matcher is immutable and any
// number of goroutines may call Match at once.
package match

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
)

// Matcher is a compiled query.
type Matcher struct {
	root cond
	// reads are the keys of the stored document that Match looks at.
	reads map[string]bool
	// lo and hi bound the event times it can match.
	lo, hi int64
}

// TimeBounds returns the interval of event times, [lo, hi) in Unix
// nanoseconds, outside which Match is false, as the query's top-level
// conditions on @timestamp give it; an open side is math.MinInt64 or
// math.MaxInt64. An event without a time counts as time 0.
func (m *Matcher) TimeBounds() (lo, hi int64) { return m.lo, m.hi }

// Reads reports whether Match looks at the field of the event that key
// names in its stored document (its flat JSON key, such as "user.name",
// "@timestamp" or "event.original"): an event decoded with those keys
// alone matches as the whole event does.
func (m *Matcher) Reads(key string) bool { return m.reads[key] }

// Match reports whether the event matches the query.
func (m *Matcher) Match(e *event.Event) bool {
	st := statePool.Get().(*state)
	st.e = e
	st.text = 0
	ok := m.root(st) == triTrue
	st.e = nil
	statePool.Put(st)
	return ok
}

// cond is a compiled condition on the event in the state.
type cond func(st *state) tri

// state is what one Match call reads from its event: the event, and its
// full-text tokens once a condition needs them.
type state struct {
	e    *event.Event
	text uint8 // bit i: toks[i] holds the tokens of textColumns[i]
	toks [2]tokens
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// textColumns are the fields indexed for full text, in the order of the
// store's columns: a term without a field looks in both.
var textColumns = [2]string{event.FieldMessage, fieldStatement}

const fieldStatement = "db.statement"

// tokens returns the full-text tokens of text column i, as the store
// indexes them: the field's text (a list's values joined with ", ").
func (st *state) tokens(i int) *tokens {
	t := &st.toks[i]
	if st.text&(1<<i) == 0 {
		t.reset()
		t.add(st.e.Fields.Str(textColumns[i]), decodeText)
		st.text |= 1 << i
	}
	return t
}

// Compile prepares a query for matching; now is the time "now-1h" refers
// to. src is the query text the node was parsed from, for the positions of
// errors: a query the store cannot run is a *query.Error, the one the
// store gives.
func Compile(node query.Node, src string, now time.Time) (*Matcher, error) {
	c := compiler{src: src, now: now}
	root, err := c.node(node)
	if err != nil {
		return nil, err
	}
	reads := map[string]bool{}
	for _, f := range query.Fields(node) {
		if f == "" {
			for _, c := range textColumns {
				reads[c] = true
			}
			continue
		}
		reads[f] = true
	}
	lo, hi := c.timeBounds(node)
	return &Matcher{root: root, reads: reads, lo: lo, hi: hi}, nil
}

type compiler struct {
	src string
	now time.Time
}

func always(*state) tri { return triTrue }

func (c *compiler) node(n query.Node) (cond, error) {
	switch n := n.(type) {
	case *query.MatchAll:
		return always, nil
	case *query.And:
		return c.bool(n.Nodes, and3, triFalse)
	case *query.Or:
		return c.bool(n.Nodes, or3, triTrue)
	case *query.Not:
		inner, err := c.node(n.Node)
		if err != nil {
			return nil, err
		}
		return func(st *state) tri { return not3(inner(st)) }, nil
	case *query.Term:
		return c.term(n)
	case *query.Range:
		return c.rangeCond(n)
	case *query.Exists:
		return c.exists(n)
	}
	return nil, query.Errorf(c.src, n.Pos(), "unsupported query node %T", n)
}

// bool combines the children with op, stopping at the value that decides.
func (c *compiler) bool(nodes []query.Node, op func(a, b tri) tri, decides tri) (cond, error) {
	conds := make([]cond, len(nodes))
	for i, n := range nodes {
		var err error
		if conds[i], err = c.node(n); err != nil {
			return nil, err
		}
	}
	return func(st *state) tri {
		v := conds[0](st)
		for _, cd := range conds[1:] {
			if v == decides {
				return v
			}
			v = op(v, cd(st))
		}
		return v
	}, nil
}

// ftsPhrase is the phrase and the columns of a term that the store answers
// with its full-text index: a word, a phrase or a prefix, without a field
// or on a text field, with at least one letter or digit.
func ftsPhrase(n *query.Term) (phrase, []int, bool) {
	var cols []int
	switch n.Field {
	case "":
		cols = []int{0, 1}
	case event.FieldMessage:
		cols = []int{0}
	case fieldStatement:
		cols = []int{1}
	default:
		return phrase{}, nil, false
	}
	value, prefix := n.Value, false
	if n.Wildcard {
		parts := query.SplitPattern(n.Value)
		if len(parts) != 2 || parts[0].Literal == "" || !parts[1].Any {
			return phrase{}, nil, false
		}
		value, prefix = parts[0].Literal, true
	}
	if strings.IndexFunc(value, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
		return phrase{}, nil, false
	}
	return newPhrase(foldText(value), prefix), cols, true
}

// foldText is the store's folding of text before FTS5 sees it: the
// Vietnamese đ is a letter of its own for FTS5, which analysts type as d.
func foldText(s string) string {
	if !strings.ContainsAny(s, "đĐ") {
		return s
	}
	return strings.NewReplacer("đ", "d", "Đ", "D").Replace(s)
}

func (c *compiler) term(n *query.Term) (cond, error) {
	if p, cols, ok := ftsPhrase(n); ok {
		return func(st *state) tri {
			for _, i := range cols {
				if p.in(st.tokens(i)) {
					return triTrue
				}
			}
			return triFalse
		}, nil
	}
	if n.Field == "" {
		// Full text that FTS5 cannot answer (inner wildcards, no word): a
		// scan of the text fields.
		var ors []cond
		for _, f := range textColumns {
			cd, err := c.term(&query.Term{Offset: n.Offset, Field: f, Value: n.Value, Phrase: n.Phrase, Wildcard: n.Wildcard})
			if err != nil {
				return nil, err
			}
			ors = append(ors, cd)
		}
		return func(st *state) tri { return or3(ors[0](st), ors[1](st)) }, nil
	}
	if col, ok := columns[n.Field]; ok {
		return c.columnTerm(n, col)
	}
	var vc valueCond
	if n.Field == event.FieldMessage || n.Field == fieldStatement || n.Wildcard {
		// A text field without words ("-", "*.*") is matched as a substring.
		pattern := likePattern(n)
		if !n.Wildcard {
			pattern = "%" + pattern + "%"
		}
		items := compileLike(pattern)
		vc = func(v sqlValue) tri {
			s, ok := v.text()
			if !ok {
				return triNull
			}
			return triOf(like(items, s))
		}
	} else {
		vc = equalCond(n.Value)
	}
	return c.field(n.Field, n.Offset, vc)
}

// equalCond is a field's equality with a query value: the text compares
// with NOCASE, a number numerically too, and the literals true, false and
// null match JSON's.
func equalCond(value string) valueCond {
	num, isNum := 0.0, false
	if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
		num, isNum = f, true
	}
	var lit sqlKind = 255
	switch strings.ToLower(value) {
	case "true":
		lit = sqlTrue
	case "false":
		lit = sqlFalse
	case "null":
		lit = sqlNull
	}
	return func(v sqlValue) tri {
		var r tri
		switch v.kind {
		case sqlNull:
			r = triNull
		case sqlText, sqlArray:
			r = triOf(compareNocase(v.s, value) == 0)
		}
		if isNum && v.numeric() {
			if math.IsNaN(num) {
				r = or3(r, triNull) // NaN is bound as NULL
			} else {
				r = or3(r, triOf(compareNumber(&v, num) == 0))
			}
		}
		if v.kind == lit {
			r = triTrue
		}
		return r
	}
}

// valueCond is a condition on one value of a field.
type valueCond func(v sqlValue) tri

// field is the condition that some value of a field satisfies vc. A hot
// field is compared in its column, unless it is not one string or number;
// any other is read from the document, where a list matches when any of
// its values does, and an absent field is false, never NULL.
func (c *compiler) field(name string, off int, vc valueCond) (cond, error) {
	if err := c.checkPath(name, off); err != nil {
		return nil, err
	}
	fromJSON := func(v event.Value) tri {
		if v.Kind == event.KindList {
			for i := range v.List {
				if vc(jsonValue(&v.List[i])) == triTrue {
					return triTrue
				}
			}
			return triFalse
		}
		return triOf(vc(jsonValue(&v)) == triTrue)
	}
	if hotFields[name] {
		return func(st *state) tri {
			v, ok := st.e.Fields.Get(name)
			if !ok {
				return triFalse
			}
			if hv, ok := hotValue(&v); ok {
				return vc(hv)
			}
			return fromJSON(v)
		}, nil
	}
	return func(st *state) tri {
		v, ok := docField(st.e, name)
		if !ok {
			return triFalse
		}
		return fromJSON(v)
	}, nil
}

// docField is a field as the stored document holds it: its first value,
// or the event's original record, which the document keeps last.
func docField(e *event.Event, name string) (event.Value, bool) {
	if v, ok := e.Fields.Get(name); ok {
		return v, true
	}
	if name == event.KeyOriginal && e.Raw != "" {
		return event.String(e.Raw), true
	}
	return event.Value{}, false
}

// checkPath rejects a field name that the store cannot put in a JSON path.
func (c *compiler) checkPath(field string, off int) error {
	for _, r := range field {
		if r == '"' || r == '\\' || unicode.IsControl(r) {
			return query.Errorf(c.src, off, "field name %q holds a character that field names cannot have", field)
		}
	}
	return nil
}

// hotFields are the fields that the store copies into columns of their
// own, whose values it compares there.
var hotFields = map[string]bool{
	"user.name": true, "source.ip": true, "event.action": true, "event.outcome": true,
	"db.name": true, "db.user": true, "db.operation": true, "db.response.rows": true,
}

// colKind is how the store keeps one of the event's typed parts.
type colKind uint8

const (
	colText colKind = iota
	colTime
	colID
)

// columns are the event's typed parts and host.name, which the store keeps
// in columns of their own.
var columns = map[string]colKind{
	event.KeyTime:     colTime,
	event.KeyReceived: colTime,
	event.KeyID:       colID,
	event.KeyProduct:  colText,
	event.KeyCategory: colText,
	event.KeyService:  colText,
	event.FieldHost:   colText,
}

// columnText is the value of a text column.
func columnText(e *event.Event, field string) string {
	switch field {
	case event.KeyProduct:
		return e.Source.Product
	case event.KeyCategory:
		return e.Source.Category
	case event.KeyService:
		return e.Source.Service
	}
	return Host(e)
}

// Host is the host that a term on host.name compares: the field's first
// value when the event names several. The store names the hosts of its
// blocks by it.
func Host(e *event.Event) string {
	v, ok := e.Fields.Get(event.FieldHost)
	if !ok {
		return ""
	}
	if v.Kind == event.KindList {
		if len(v.List) == 0 {
			return ""
		}
		return v.List[0].Str
	}
	return v.Str
}

func columnTime(e *event.Event, field string) int64 {
	if field == event.KeyTime {
		return nanos(e.Time)
	}
	return nanos(e.Received)
}

func (c *compiler) columnTerm(n *query.Term, kind colKind) (cond, error) {
	field := n.Field
	switch kind {
	case colID:
		if n.Wildcard {
			return nil, query.Errorf(c.src, n.Offset, "%s takes a whole event id, not a wildcard", n.Field)
		}
		id, err := event.ParseID(n.Value)
		if err != nil {
			return nil, query.Errorf(c.src, n.Offset, "%s: %v", n.Field, err)
		}
		return func(st *state) tri { return triOf(st.e.ID == id) }, nil
	case colTime:
		if n.Wildcard {
			return nil, query.Errorf(c.src, n.Offset, "%s takes a time or a range, not a wildcard", n.Field)
		}
		start, end, err := c.parseTime(n.Value, n.Field, n.Offset)
		if err != nil {
			return nil, err
		}
		if end == start {
			return func(st *state) tri { return triOf(columnTime(st.e, field) == start) }, nil
		}
		return func(st *state) tri {
			t := columnTime(st.e, field)
			return triOf(t >= start && t < end)
		}, nil
	}
	if n.Wildcard {
		items := compileLike(likePattern(n))
		return func(st *state) tri { return triOf(like(items, columnText(st.e, field))) }, nil
	}
	value := n.Value
	return func(st *state) tri { return triOf(compareNocase(columnText(st.e, field), value) == 0) }, nil
}

func (c *compiler) exists(n *query.Exists) (cond, error) {
	field := n.Field
	if kind, ok := columns[field]; ok {
		switch kind {
		case colText:
			return func(st *state) tri { return triOf(columnText(st.e, field) != "") }, nil
		case colTime:
			return func(st *state) tri { return triOf(columnTime(st.e, field) != 0) }, nil
		}
		return always, nil
	}
	if hotFields[field] {
		return func(st *state) tri {
			_, ok := st.e.Fields.Get(field)
			return triOf(ok)
		}, nil
	}
	if err := c.checkPath(field, n.Offset); err != nil {
		return nil, err
	}
	return func(st *state) tri {
		_, ok := docField(st.e, field)
		return triOf(ok)
	}, nil
}

// bound is one side of a range: a number when every bound of the range is
// one, else text. A NaN is bound as NULL, which compares as unknown.
type bound struct {
	set, incl bool
	null      bool
	num       float64
	text      string
}

// holds reports, given the comparison of a value with the bound, as the
// bound's operator wants it: the low bound wants x above, the high below.
func (b *bound) holds(x int, low bool) bool {
	switch {
	case low && b.incl:
		return x >= 0
	case low:
		return x > 0
	case b.incl:
		return x <= 0
	}
	return x < 0
}

func (c *compiler) rangeCond(n *query.Range) (cond, error) {
	field := n.Field
	kind, isColumn := columns[field]
	if isColumn && kind == colID {
		return nil, query.Errorf(c.src, n.Offset, "%s takes a whole event id, not a range", n.Field)
	}
	if isColumn && kind == colTime {
		lo, hi, err := c.timeRange(n)
		if err != nil {
			return nil, err
		}
		if lo == math.MinInt64 && hi == math.MaxInt64 {
			return func(st *state) tri { return triOf(columnTime(st.e, field) != 0) }, nil
		}
		return func(st *state) tri {
			t := columnTime(st.e, field)
			return triOf((lo == math.MinInt64 || t >= lo) && (hi == math.MaxInt64 || t < hi))
		}, nil
	}
	// Numbers compare as numbers when every bound is one; else as text.
	numeric := true
	for _, b := range []string{n.Low, n.High} {
		if b == "" {
			continue
		}
		if _, err := strconv.ParseFloat(b, 64); err != nil {
			numeric = false
		}
	}
	mk := func(s string, incl bool) bound {
		if s == "" {
			return bound{}
		}
		b := bound{set: true, incl: incl, text: s}
		if numeric {
			b.num, _ = strconv.ParseFloat(s, 64)
			b.null = math.IsNaN(b.num)
			if isColumn && !b.null {
				// The column's text affinity turns the number into text.
				b.text = realText(b.num)
			}
		}
		return b
	}
	lo, hi := mk(n.Low, n.IncludeLow), mk(n.High, n.IncludeHigh)
	if isColumn {
		if !lo.set && !hi.set {
			return func(st *state) tri { return triOf(columnText(st.e, field) != "") }, nil
		}
		bounds := []struct {
			b   bound
			low bool
		}{{lo, true}, {hi, false}}
		return func(st *state) tri {
			v := columnText(st.e, field)
			r := triTrue
			for _, x := range bounds {
				if !x.b.set {
					continue
				}
				r = and3(r, x.b.compareText(v, x.low))
			}
			return r
		}, nil
	}
	return c.field(field, n.Offset, func(v sqlValue) tri {
		if numeric && !v.numeric() || !numeric && v.kind != sqlText {
			return triFalse
		}
		r := triTrue
		for _, x := range [2]struct {
			b   *bound
			low bool
		}{{&lo, true}, {&hi, false}} {
			b := x.b
			switch {
			case !b.set:
			case b.null:
				r = and3(r, triNull)
			case numeric:
				r = and3(r, triOf(b.holds(compareNumber(&v, b.num), x.low)))
			default:
				r = and3(r, triOf(b.holds(compareNocase(v.s, b.text), x.low)))
			}
		}
		return r
	})
}

// compareText is a text column's comparison with the bound, under the
// column's NOCASE collation.
func (b *bound) compareText(v string, low bool) tri {
	if b.null {
		return triNull
	}
	return triOf(b.holds(compareNocase(v, b.text), low))
}
