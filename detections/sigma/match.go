package sigma

import (
	"encoding/binary"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/danang-soc/vigil/event"
)

// node is one compiled piece of a condition.
type node interface {
	eval(c *evalCtx) bool
}

type andNode []node
type orNode []node
type notNode struct{ n node }
type constNode bool

func (n andNode) eval(c *evalCtx) bool {
	for _, x := range n {
		if !x.eval(c) {
			return false
		}
	}
	return true
}

func (n orNode) eval(c *evalCtx) bool {
	for _, x := range n {
		if x.eval(c) {
			return true
		}
	}
	return false
}

func (n notNode) eval(c *evalCtx) bool { return !n.n.eval(c) }
func (n constNode) eval(*evalCtx) bool { return bool(n) }

// fieldMode is how a field's values are compared; every value under one
// key shares the key's modifiers, hence one mode per field node.
type fieldMode uint8

const (
	modeFold     fieldMode = iota // case-insensitive strings (the default)
	modeCased                     // |cased
	modeRegex                     // |re
	modeNum                       // |lt |lte |gt |gte
	modeCIDR                      // |cidr
	modeNull                      // value null: absent or null
	modeExists                    // |exists
	modeFieldRef                  // |fieldref
	modeTime                      // |minute |hour |day |week |month |year
)

// numOp is a numeric comparison with a rule value.
type numOp struct {
	op  string // lt lte gt gte eq
	val float64
}

func (o numOp) holds(f float64) bool {
	switch o.op {
	case "lt":
		return f < o.val
	case "lte":
		return f <= o.val
	case "gt":
		return f > o.val
	case "gte":
		return f >= o.val
	}
	return f == o.val
}

// fieldNode tests one field against the values of one detection key.
type fieldNode struct {
	slot   int32
	name   string
	mode   fieldMode
	all    bool // |all: every value must match
	neq    bool // |neq: the field is present and matches none
	exists bool
	cased  bool         // modeFieldRef: compare case-sensitively
	strs   []strMatcher // modeFold (lower-cased), modeCased, modeFieldRef (kind only)
	set    *strSet      // strs as a set, for long lists without |all
	res    []*regexp.Regexp
	reLits [][]string   // per regex: prefilter literals (nil: none known)
	reMin  []int        // per regex: the shortest value it can match
	reSeq  [][]string   // per regex: literals every match holds, in order
	reRuns [][]classRun // per regex: long class runs every match holds
	nums   []numOp
	nets   []netip.Prefix
	refs   []int32 // modeFieldRef: slots of the referenced fields
	part   string  // modeTime
}

func (n *fieldNode) eval(c *evalCtx) bool {
	idx := c.field(n.slot)
	switch n.mode {
	case modeNull:
		return idx < 0 || c.e.Fields[idx].Value.Kind == event.KindNull
	case modeExists:
		return (idx >= 0) == n.exists
	}
	if idx < 0 {
		if n.mode == modeTime && n.name == timestampField && !c.e.Time.IsZero() {
			// The event's own time is not among its fields (event.Event.Time):
			// a rule on @timestamp reads it, in the zone the collector
			// gave it (the log's, or the source's configured time zone).
			ok := n.matchNum([]event.Value{{Kind: event.KindString, Str: c.e.Time.Format(time.RFC3339Nano)}})
			return ok != n.neq
		}
		return false
	}
	v := &c.e.Fields[idx].Value
	if v.Kind == event.KindNull {
		return false
	}
	var ok bool
	switch n.mode {
	case modeFold:
		ok = n.matchStrs(c, c.lower(idx))
	case modeCased:
		ok = n.matchStrs(c, c.raw(idx))
	case modeRegex:
		ok = n.matchRegex(c.raw(idx))
	case modeNum, modeTime:
		ok = n.matchNum(elems(v))
	case modeCIDR:
		ok = n.matchCIDR(elems(v))
	case modeFieldRef:
		ok = n.matchRef(c, idx)
	}
	if n.neq {
		return !ok
	}
	return ok
}

// elems returns a value's elements: the list, or the scalar itself.
func elems(v *event.Value) []event.Value {
	if v.Kind == event.KindList {
		return v.List
	}
	return unsafe.Slice(v, 1)
}

func (n *fieldNode) matchStrs(c *evalCtx, vals []string) bool {
	if c.scanGen[n.slot] == c.gen {
		// The field's gram scanner has seen its one value: contains
		// literals are looked up, not searched.
		v := vals[0]
		if n.set != nil {
			return n.set.matchScanned(c, v)
		}
		if n.all {
			for i := range n.strs {
				if !c.matchScanned(&n.strs[i], v) {
					return false
				}
			}
			return len(n.strs) > 0
		}
		for i := range n.strs {
			if c.matchScanned(&n.strs[i], v) {
				return true
			}
		}
		return false
	}
	if n.set != nil {
		for _, v := range vals {
			if n.set.match(v) {
				return true
			}
		}
		return false
	}
	return matchStrs(n.strs, n.all, vals)
}

// matchScanned is m.match(v) for a value the field's gram scanner scanned.
func (c *evalCtx) matchScanned(m *strMatcher, v string) bool {
	if m.lit != 0 {
		if c.litGen[m.lit-1] != c.gen {
			return false
		}
		if m.sure {
			return true
		}
	}
	return m.match(v)
}

func matchStrs(ms []strMatcher, all bool, vals []string) bool {
	if all {
		for i := range ms {
			if !anyStr(&ms[i], vals) {
				return false
			}
		}
		return len(ms) > 0
	}
	for _, v := range vals {
		for i := range ms {
			if ms[i].match(v) {
				return true
			}
		}
	}
	return false
}

func anyStr(m *strMatcher, vals []string) bool {
	for _, v := range vals {
		if m.match(v) {
			return true
		}
	}
	return false
}

func (n *fieldNode) matchRegex(vals []string) bool {
	for i, re := range n.res {
		hit := false
		for _, v := range vals {
			if len(v) >= n.reMin[i] && hasSeq(v, n.reSeq[i]) && hasRuns(v, n.reRuns[i]) && re.MatchString(v) {
				hit = true
				break
			}
		}
		if hit && !n.all {
			return true
		}
		if !hit && n.all {
			return false
		}
	}
	return n.all && len(n.res) > 0
}

func (n *fieldNode) matchNum(vals []event.Value) bool {
	hits := 0
	for _, op := range n.nums {
		hit := false
		for i := range vals {
			var f float64
			var ok bool
			if n.mode == modeTime {
				f, ok = timePart(vals[i].Str, n.part)
			} else {
				f, ok = vals[i].Float()
			}
			if ok && op.holds(f) {
				hit = true
				break
			}
		}
		if hit {
			if !n.all {
				return true
			}
			hits++
		} else if n.all {
			return false
		}
	}
	return n.all && hits > 0
}

func (n *fieldNode) matchCIDR(vals []event.Value) bool {
	for i := range vals {
		a, err := netip.ParseAddr(strings.TrimSpace(vals[i].Str))
		if err != nil {
			continue
		}
		a = a.Unmap()
		for _, p := range n.nets {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func (n *fieldNode) matchRef(c *evalCtx, idx int) bool {
	cased := n.cased
	var vals []string
	if cased {
		vals = c.raw(idx)
	} else {
		vals = c.lower(idx)
	}
	hits := 0
	for i, slot := range n.refs {
		j := c.field(slot)
		hit := false
		if j >= 0 {
			var others []string
			if cased {
				others = c.raw(j)
			} else {
				others = c.lower(j)
			}
			kind := n.strs[i].kind
			for _, o := range others {
				m := strMatcher{kind: kind, s: o}
				if anyStr(&m, vals) {
					hit = true
					break
				}
			}
		}
		if hit {
			if !n.all {
				return true
			}
			hits++
		} else if n.all {
			return false
		}
	}
	return n.all && hits > 0
}

// timestampField is the field name by which rules read the event's time.
const timestampField = "@timestamp"

// timePart extracts a time modifier's number from a timestamp.
func timePart(s, part string) (float64, bool) {
	t, ok := parseTime(strings.TrimSpace(s))
	if !ok {
		return 0, false
	}
	switch part {
	case "minute":
		return float64(t.Minute()), true
	case "hour":
		return float64(t.Hour()), true
	case "day":
		return float64(t.Day()), true
	case "week":
		_, w := t.ISOWeek()
		return float64(w), true
	case "month":
		return float64(t.Month()), true
	case "year":
		return float64(t.Year()), true
	}
	return 0, false
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// keywordNode searches every field value (and the raw record) for its
// values, as the rules spec's keyword lists do.
type keywordNode struct {
	strs  []strMatcher
	all   bool
	cased bool
	// anchors[i] is the position in strs[i].s of a byte that case folding
	// leaves alone (a backslash, a dot, a digit), or -1: with one, a
	// contains search runs on the raw text without lower-casing every
	// field of the event.
	anchors []int
	// trapFree[i]: strs[i] has no i, k or s, the letters that runes
	// outside ASCII fold to, so raw text needs no check for such runes.
	trapFree []bool
	// minRaw[i] is the fewest raw bytes a value that matches strs[i] can
	// have (lower-casing may turn two bytes into three): most fields of
	// an event (ids, levels, flags) are too short to be searched at all.
	minRaw []int
}

func (n *keywordNode) eval(c *evalCtx) bool {
	if n.all {
		for i := range n.strs {
			if !n.one(c, i) {
				return false
			}
		}
		return len(n.strs) > 0
	}
	for i := range n.strs {
		if n.one(c, i) {
			return true
		}
	}
	return false
}

func (n *keywordNode) one(c *evalCtx, i int) bool {
	m := &n.strs[i]
	anchor := -1
	if !n.cased && m.kind == strContains {
		anchor = n.anchors[i]
	}
	need := n.minRaw[i]
	for idx := range c.e.Fields {
		switch v := &c.e.Fields[idx].Value; v.Kind {
		case event.KindNull:
			continue
		case event.KindList:
		default:
			if len(v.Str) < need {
				continue
			}
			if anchor >= 0 {
				// One value: searched in place, without the per-field
				// slices of raw.
				hit, ok := containsFoldAnchoredIn(v.Str, m.s, anchor, n.trapFree[i])
				if hit {
					return true
				}
				if ok {
					continue
				}
			}
		}
		if anchor >= 0 {
			hit, ok := containsFoldAnchored(c.raw(idx), m.s, anchor, n.trapFree[i])
			if hit {
				return true
			}
			if ok {
				continue
			}
		}
		var vals []string
		if n.cased {
			vals = c.raw(idx)
		} else {
			vals = c.lower(idx)
		}
		if anyStr(m, vals) {
			return true
		}
	}
	if c.e.Raw != "" {
		if n.cased {
			return m.match(c.e.Raw)
		}
		return m.match(c.lowerRaw())
	}
	return false
}

// evalCtx is the per-call scratch of one Match: which event field each
// rule field resolves to and each value lower-cased, each computed at most
// once. Generation counters make resetting it O(1).
type evalCtx struct {
	e    *event.Event
	keys []int32 // per slot: the directory id of the event key it reads
	gen  uint32

	// per directory id (a field name some rule or mapping reads): the
	// event field index holding it, valid when idGen matches gen
	idGen   []uint32
	idIdx   []int32
	shapes  keyCache // the directory ids of the fields of recent events
	loGen   []uint32 // per event field index
	lo      [][]string
	rawGen  []uint32
	rawS    [][]string
	rawLo   string
	rawLoOK bool
	buf     []byte

	entries []int // log-source mapping entries of the event
	srcVals []string
	srcHas  []bool
	srcKey  []byte
	// the mapping-field values of the last event without a log source
	// (see logsource.go's appendValues) and its bucket
	srcSeen, srcLast []byte
	srcBucket        *bucket
	// prefilter state
	needleGen []uint32
	litGen    []uint32 // per contains literal: found in this event
	scanGen   []uint32 // per slot: its single value was scanned
	cands     []int32
	hits      []int32
}

func newEvalCtx(ids, needles, lits, slots int) *evalCtx {
	return &evalCtx{
		idGen:     make([]uint32, ids),
		idIdx:     make([]int32, ids),
		needleGen: make([]uint32, needles),
		litGen:    make([]uint32, lits),
		scanGen:   make([]uint32, slots),
	}
}

// reset starts the evaluation of e: every field the rules or the log-source
// mapping read is located in one pass over the event.
func (c *evalCtx) reset(e *event.Event, dir *keyTable) {
	c.e = e
	c.gen++
	if c.gen == 0 { // wrapped: clear every stamp once
		clear(c.idGen)
		clear(c.loGen)
		clear(c.rawGen)
		clear(c.needleGen)
		clear(c.litGen)
		clear(c.scanGen)
		c.gen = 1
	}
	if n := len(e.Fields); n > len(c.loGen) {
		c.loGen = append(c.loGen, make([]uint32, n-len(c.loGen))...)
		c.rawGen = append(c.rawGen, make([]uint32, n-len(c.rawGen))...)
		c.lo = append(c.lo, make([][]string, n-len(c.lo))...)
		c.rawS = append(c.rawS, make([][]string, n-len(c.rawS))...)
	}
	c.buf = c.buf[:0]
	c.rawLoOK = false
	c.cands = c.cands[:0]
	for i, id := range c.shapes.ids(e.Fields, dir) {
		if id >= 0 && c.idGen[id] != c.gen { // the first of duplicate keys wins
			c.idGen[id] = c.gen
			c.idIdx[id] = int32(i)
		}
	}
}

// byID returns the event field index of a directory id, or -1.
func (c *evalCtx) byID(id int32) int {
	if c.idGen[id] == c.gen {
		return int(c.idIdx[id])
	}
	return -1
}

// field resolves a rule field slot to an event field index, or -1.
func (c *evalCtx) field(slot int32) int { return c.byID(c.keys[slot]) }

// lower returns the lower-cased text of each element of field idx.
func (c *evalCtx) lower(idx int) []string {
	if c.loGen[idx] == c.gen {
		return c.lo[idx]
	}
	out := c.lo[idx][:0]
	for _, el := range elems(&c.e.Fields[idx].Value) {
		out = append(out, c.fold(el.Str))
	}
	c.lo[idx] = out
	c.loGen[idx] = c.gen
	return out
}

// raw returns the text of each element of field idx.
func (c *evalCtx) raw(idx int) []string {
	if c.rawGen[idx] == c.gen {
		return c.rawS[idx]
	}
	out := c.rawS[idx][:0]
	for _, el := range elems(&c.e.Fields[idx].Value) {
		out = append(out, el.Str)
	}
	c.rawS[idx] = out
	c.rawGen[idx] = c.gen
	return out
}

func (c *evalCtx) lowerRaw() string {
	if !c.rawLoOK {
		c.rawLo = strings.ToLower(c.e.Raw)
		c.rawLoOK = true
	}
	return c.rawLo
}

// fold lower-cases s into the scratch buffer; the result stays valid for
// this evaluation (a grown buffer leaves earlier strings on the old one).
// ASCII text is handled eight bytes at a time.
func (c *evalCtx) fold(s string) string {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if w := load64(s, i); w&hiBits != 0 || upperBits(w) != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		b := s[i]
		if b >= utf8.RuneSelf || ('A' <= b && b <= 'Z') {
			break
		}
	}
	if i == len(s) {
		return s // already lower case: no copy
	}
	start := len(c.buf)
	c.buf = append(c.buf, s...) // room for the ASCII case; runes may grow it
	out := c.buf[start:]
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		if w&hiBits != 0 {
			break
		}
		binary.LittleEndian.PutUint64(out[i:], w|upperBits(w)>>2)
	}
	for ; i < len(s); i++ {
		b := s[i]
		if b < utf8.RuneSelf {
			out[i] = lowerASCII[b]
			continue
		}
		// Leave the fast path: finish rune by rune with append.
		c.buf = c.buf[:start+i]
		for ; i < len(s); i++ {
			b := s[i]
			if b < utf8.RuneSelf {
				c.buf = append(c.buf, lowerASCII[b])
				continue
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				c.buf = append(c.buf, b)
				continue
			}
			lr, _ := foldsSpecially(r)
			c.buf = utf8.AppendRune(c.buf, lr)
			i += size - 1
		}
		return bufString(c.buf[start:])
	}
	return bufString(c.buf[start:])
}

const hiBits = 0x8080808080808080

// upperBits has the top bit set in every byte of w (all of them ASCII)
// that is an upper-case letter: shifted right by two, it is the bit that
// lower-cases it.
func upperBits(w uint64) uint64 {
	geA := w + 0x3f3f3f3f3f3f3f3f // top bit set from 'A' (0x41) up
	gtZ := w + 0x2525252525252525 // top bit set from '[' (0x5B) up
	return geA &^ gtZ & hiBits
}

var lowerASCII = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

// foldString lower-cases at compile time exactly as fold does at match time.
func foldString(s string) string {
	var c evalCtx
	return strings.Clone(c.fold(s))
}

// foldAnchor returns the position of a byte of lit that no case folding
// changes and that no other byte folds to (ASCII punctuation and digits),
// preferring the bytes values hold least often (a backslash is in every
// Windows path, a digit or a '%' is not), or -1. lit must be ASCII.
func foldAnchor(lit string) int {
	best, bestRank := -1, 0
	for i := 0; i < len(lit); i++ {
		b := lit[i]
		if b >= utf8.RuneSelf {
			return -1
		}
		if ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') {
			continue
		}
		rank := 4 // rare punctuation and digits
		switch b {
		case '\\', '/', ' ':
			rank = 1
		case '.', '-', ':', '_':
			rank = 2
		}
		if rank > bestRank {
			best, bestRank = i, rank
		}
	}
	return best
}

// containsFoldAnchored reports whether a value holds lit (lower-case ASCII)
// ignoring case, finding candidates with a fast byte search for the anchor
// byte. ok is false when a value holds a rune that folds to ASCII; the
// caller then uses the lower-cased text.
func containsFoldAnchored(vals []string, lit string, anchor int, trapFree bool) (hit, ok bool) {
	for _, v := range vals {
		hit, ok := containsFoldAnchoredIn(v, lit, anchor, trapFree)
		if hit || !ok {
			return hit, ok
		}
	}
	return false, true
}

// containsFoldAnchoredIn is containsFoldAnchored for one value.
func containsFoldAnchoredIn(v, lit string, anchor int, trapFree bool) (hit, ok bool) {
	if !trapFree && foldTrap(v) {
		return false, false
	}
	a := lit[anchor]
	for off := 0; ; {
		j := strings.IndexByte(v[off:], a)
		if j < 0 {
			return false, true
		}
		start := off + j - anchor
		if start >= 0 && start+len(lit) <= len(v) && asciiEqualFold(v[start:start+len(lit)], lit) {
			return true, true
		}
		off += j + 1
	}
}

// asciiEqualFold compares s with lower-case ASCII lit, folding s's ASCII
// upper case.
func asciiEqualFold(s, lit string) bool {
	for i := 0; i < len(lit); i++ {
		b := s[i]
		if b < utf8.RuneSelf {
			b = lowerASCII[b]
		}
		if b != lit[i] {
			return false
		}
	}
	return true
}
