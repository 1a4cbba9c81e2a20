package correlate

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/danang-soc/vigil/event"
)

// EngineName is the Engine field of the alerts the Engine raises.
const EngineName = "correlation"

// ErrLate is matched (errors.Is) by the error Observe returns for an event
// older than the watermark; the event was not evaluated.
var ErrLate = errors.New("event arrived later than the correlation lateness bound")

// LateError reports an event that arrived too late to be evaluated.
type LateError struct {
	Event     event.ID
	Time      time.Time
	Watermark time.Time
}

func (e *LateError) Error() string {
	return fmt.Sprintf("event %s at %s is older than the correlation watermark %s: not evaluated",
		e.Event, e.Time.Format(time.RFC3339Nano), e.Watermark.Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, ErrLate) true.
func (e *LateError) Is(target error) bool { return target == ErrLate }

// Engine evaluates correlation rules over base-rule matches. See the package
// documentation for its concurrency contract.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	rules   []*compiled
	byRef   map[string][]target  // referenced rule id or name → correlations using it
	self    map[string]*compiled // correlation id or name → rule
	maxSpan int64

	mu        sync.Mutex
	started   bool  // a watermark exists
	watermark int64 // Unix ns; events older are late
	nextWork  int64 // watermark at which some rule has work (sweep, window close)
	chained   map[event.ID]*event.Alert
	keyBuf    []byte
	tbuf      []target
	observed  uint64
	late      uint64
	alerts    uint64
}

// target is a correlation rule and the index of the referenced rule in it.
type target struct {
	r *compiled
	i int
}

// entry is one event in a key's window, 32 bytes.
type entry struct {
	t  int64    // event time, Unix ns
	id event.ID // the event, or for a chained correlation its alert
	x  uint64   // per type: referenced rule index, value hash or float64 bits
}

type compiled struct {
	Rule
	ref         string
	fingerprint uint64
	groupFields [][]string // [referenced rule][group-by] → field
	valFields   [][]string // [referenced rule][condition field] → field
	span        int64
	atClose     bool // judged when the window closes, not on each arrival
	maxEvents   int
	emitted     bool // its alerts go to emit (see Engine.Generates)
	parents     []target

	keys      *keyTable
	due       dueHeap
	nextSweep int64

	alerts, evicted, expired, truncated, missing uint64
}

// New compiles rules. log and now may be nil (discard, time.Now).
func New(cfg Config, rules []Rule, log *slog.Logger, now func() time.Time) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	e := &Engine{cfg: cfg, log: log, now: now, byRef: map[string][]target{}, chained: map[event.ID]*event.Alert{}}
	self := map[string]*compiled{}
	e.self = self
	var errs []error
	for i := range rules {
		r := rules[i]
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		c := compile(r, cfg)
		for _, n := range []string{r.ID, r.Name} {
			if n == "" {
				continue
			}
			if self[n] != nil && self[n] != c {
				errs = append(errs, fmt.Errorf("correlation rule %s: %q is also the id or name of %s", c.ref, n, self[n].ref))
			}
			self[n] = c
		}
		e.rules = append(e.rules, c)
		e.maxSpan = max(e.maxSpan, c.span)
		for j, ref := range r.Rules {
			e.byRef[ref] = append(e.byRef[ref], target{c, j})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, c := range e.rules {
		c.emitted = e.Generates(c.ID, c.Name)
		for _, n := range []string{c.ID, c.Name} {
			if n != "" {
				c.parents = append(c.parents, e.byRef[n]...)
			}
		}
		c.parents = dedupTargets(c.parents)
	}
	if err := checkCycles(e.rules, self); err != nil {
		return nil, err
	}
	return e, nil
}

func dedupTargets(ts []target) []target {
	out := ts[:0]
	for _, t := range ts {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func checkCycles(rules []*compiled, self map[string]*compiled) error {
	const (
		visiting = 1
		done     = 2
	)
	state := map[*compiled]int{}
	var visit func(c *compiled, path []string) error
	visit = func(c *compiled, path []string) error {
		switch state[c] {
		case visiting:
			return fmt.Errorf("correlation rules reference each other in a cycle: %v", append(path, c.ref))
		case done:
			return nil
		}
		state[c] = visiting
		for _, ref := range c.Rules {
			if d := self[ref]; d != nil {
				if err := visit(d, append(path, c.ref)); err != nil {
					return err
				}
			}
		}
		state[c] = done
		return nil
	}
	for _, c := range rules {
		if err := visit(c, nil); err != nil {
			return err
		}
	}
	return nil
}

func compile(r Rule, cfg Config) *compiled {
	c := &compiled{Rule: r, ref: r.Ref(), span: int64(r.Timespan), keys: newKeyTable()}
	c.groupFields = make([][]string, len(r.Rules))
	c.valFields = make([][]string, len(r.Rules))
	for i := range r.Rules {
		for _, g := range r.GroupBy {
			c.groupFields[i] = append(c.groupFields[i], r.fieldFor(g, i))
		}
		for _, f := range r.Condition.Field {
			c.valFields[i] = append(c.valFields[i], r.fieldFor(f, i))
		}
	}
	switch r.Type {
	case ValueAvg, ValuePercentile:
		c.atClose = true
	default:
		c.atClose = r.Condition.upperBounded()
	}
	c.maxEvents = cfg.MaxEventsPerKey
	switch {
	case !c.atClose && (r.Type == EventCount || r.Type == ValueCount):
		// Reaching the threshold fires and empties the window, so in
		// order a key holds fewer; the slack serves out-of-order events.
		c.maxEvents = max(2*r.Condition.lowerBound(), 8)
	case c.atClose && (r.Type == EventCount || r.Type == ValueCount):
		// Keep one more than the largest bound so that counts above it show.
		for _, cmp := range r.Condition.Ops {
			if v := cmp.Value; v >= 0 && v < 1<<20 {
				c.maxEvents = max(c.maxEvents, int(v)+2)
			}
		}
	}
	c.fingerprint = fingerprint(&r)
	return c
}

// fingerprint hashes what the meaning of saved state depends on, so that a
// snapshot is not restored into a rule that has changed since.
func fingerprint(r *Rule) uint64 {
	h := fnv.New64a()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	w(r.Type.String())
	for _, s := range r.Rules {
		w(s)
	}
	w("|")
	for _, s := range r.GroupBy {
		w(s)
	}
	w("|")
	w(strconv.FormatInt(int64(r.Timespan), 10))
	w(r.Condition.String())
	for _, s := range r.Condition.Field {
		w(s)
	}
	w(strconv.FormatFloat(r.Condition.Percentile, 'g', -1, 64))
	aliases := make([]string, 0, len(r.Aliases))
	for a, per := range r.Aliases {
		for ref, f := range per {
			aliases = append(aliases, a+"\x00"+ref+"\x00"+f)
		}
	}
	sort.Strings(aliases)
	for _, s := range aliases {
		w(s)
	}
	return h.Sum64()
}

// Generates reports whether alerts of the rule known by refs (its id and
// name; a correlation's other identifier is added by the Engine) are
// raised on their own: true unless correlations reference it and none of
// them sets generate. The server drops base-rule alerts for which it is
// false; the Engine applies it to the correlations it chains.
func (e *Engine) Generates(refs ...string) bool {
	referenced := false
	for _, ref := range refs {
		names := []string{ref}
		if c := e.self[ref]; c != nil {
			names = []string{c.ID, c.Name}
		}
		for _, n := range names {
			for _, t := range e.byRef[n] {
				if n == "" {
					continue
				}
				referenced = true
				if t.r.Generate {
					return true
				}
			}
		}
	}
	return !referenced
}

// References reports whether any correlation references ref, so that the
// caller can skip Observe for rules that no correlation uses.
func (e *Engine) References(ref string) bool { return len(e.byRef[ref]) > 0 }

// Observe feeds one base-rule match: refs are the id and name of the rule
// that matched e (either may be omitted), e the event, in stream order.
// Alerts of the correlations it completes are passed to emit before
// Observe returns, chained correlations included. An event older than the
// watermark is not evaluated: Observe returns a *LateError (errors.Is
// ErrLate) and counts it in Stats.Late. Observing the same event for the
// same rule twice counts it once.
func (e *Engine) Observe(refs []string, ev *event.Event, emit func(event.Alert)) error {
	used := false
	for _, ref := range refs {
		used = used || len(e.byRef[ref]) > 0 // byRef is fixed after New: no lock
	}
	if !used {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := e.tbuf[:0]
	for _, ref := range refs {
		for _, t := range e.byRef[ref] {
			if !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	e.tbuf = ts
	if len(ts) == 0 {
		return nil
	}
	e.observed++
	t := ev.Time.UnixNano()
	if e.started && t < e.watermark {
		e.late++
		return &LateError{Event: ev.ID, Time: ev.Time, Watermark: time.Unix(0, e.watermark).UTC()}
	}
	e.advance(t-int64(e.cfg.Lateness), emit)
	o := obs{t: t, id: ev.ID, ev: ev}
	for _, tg := range ts {
		e.add(tg, &o, emit)
	}
	return nil
}

// Advance moves the watermark to t minus the lateness bound when that is
// later than it is, closing the windows that end before it (value_avg,
// value_percentile and conditions with an upper bound are judged when their
// window closes). A server calls it when the stream is idle; events older
// than the new watermark will then be late.
func (e *Engine) Advance(t time.Time, emit func(event.Alert)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(t.UnixNano()-int64(e.cfg.Lateness), emit)
}

// Flush judges every window still open as if the stream had ended, for
// a finite input such as `vigil hunt`; windows judged on arrival need no
// flush. State of the other rules is kept.
func (e *Engine) Flush(emit func(event.Alert)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.watermark
	e.watermark = math.MaxInt64
	for _, r := range e.rules {
		if r.atClose {
			e.closeDue(r, emit)
		}
	}
	e.watermark = w
}

func (e *Engine) advance(w int64, emit func(event.Alert)) {
	if e.started && w <= e.watermark {
		return
	}
	e.watermark, e.started = w, true
	if w < e.nextWork {
		return
	}
	next := int64(math.MaxInt64)
	for _, r := range e.rules {
		if r.atClose {
			e.closeDue(r, emit)
			if len(r.due) > 0 {
				next = min(next, r.due[0].at+1)
			}
			continue
		}
		if w >= r.nextSweep {
			e.sweep(r)
			r.nextSweep = w + max(r.span, int64(time.Second))
		}
		next = min(next, r.nextSweep)
	}
	if len(e.chained) > 0 {
		for id, a := range e.chained {
			if a.Time.UnixNano() < w-e.maxSpan {
				delete(e.chained, id)
			}
		}
		next = min(next, w+max(e.maxSpan, int64(time.Second)))
	}
	e.nextWork = next
}

// sweep deletes the keys whose newest event can no longer share a window
// with an event that is not late.
func (e *Engine) sweep(r *compiled) {
	limit := e.watermark - r.span
	r.keys.all(func(st *keyState) bool {
		if st.es[len(st.es)-1].t < limit {
			r.keys.remove(st)
			r.expired++
		}
		return true
	})
}

// obs is one observation: a base event, or the alert of a chained
// correlation.
type obs struct {
	t     int64
	id    event.ID
	ev    *event.Event
	alert *event.Alert
}

func (o *obs) get(name string) (string, bool) {
	if o.ev != nil {
		v, ok := o.ev.Fields.Get(name)
		if !ok || v.IsNull() {
			return "", false
		}
		return v.Text(), true
	}
	if v, ok := o.alert.Group[name]; ok {
		return v, true
	}
	return "", false
}

func (e *Engine) buildKey(fields []string, o *obs) bool {
	b := e.keyBuf[:0]
	if len(fields) == 1 {
		v, ok := o.get(fields[0])
		if !ok {
			return false
		}
		b = append(b, v...)
	} else {
		for _, f := range fields {
			v, ok := o.get(f)
			if !ok {
				return false
			}
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	e.keyBuf = b
	return true
}

// decodeKey returns the group-by values of a key.
func decodeKey(groupBy []string, key string) map[string]string {
	if len(groupBy) == 0 {
		return nil
	}
	m := make(map[string]string, len(groupBy))
	if len(groupBy) == 1 {
		m[groupBy[0]] = key
		return m
	}
	b := []byte(key)
	for _, g := range groupBy {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			break
		}
		m[g] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	return m
}

// value returns the entry payload of an observation for rule r.
func (r *compiled) value(i int, o *obs) (uint64, bool) {
	switch r.Type {
	case Temporal, TemporalOrdered:
		return uint64(i), true
	case EventCount:
		return 0, true
	case ValueCount:
		h := uint64(14695981039346656037)
		for j, f := range r.valFields[i] {
			v, ok := o.get(f)
			if !ok {
				return 0, false
			}
			if j > 0 {
				h = (h ^ 0) * 1099511628211
			}
			for k := 0; k < len(v); k++ {
				h = (h ^ uint64(v[k])) * 1099511628211
			}
		}
		return h, true
	case ValuePercentile:
		v, ok := o.get(r.valFields[i][0])
		if !ok {
			return 0, false
		}
		if r.Condition.Percentile == 0 {
			h := uint64(14695981039346656037)
			for k := 0; k < len(v); k++ {
				h = (h ^ uint64(v[k])) * 1099511628211
			}
			return h, true
		}
		f, ok := event.String(v).Float()
		return math.Float64bits(f), ok
	default: // ValueSum, ValueAvg
		v, ok := o.get(r.valFields[i][0])
		if !ok {
			return 0, false
		}
		f, ok := event.String(v).Float()
		return math.Float64bits(f), ok
	}
}

func (e *Engine) add(tg target, o *obs, emit func(event.Alert)) {
	r := tg.r
	if !e.buildKey(r.groupFields[tg.i], o) {
		r.missing++
		return
	}
	x, ok := r.value(tg.i, o)
	if !ok {
		r.missing++
		return
	}
	st := r.keys.get(e.keyBuf)
	if st == nil {
		if r.keys.len() >= e.cfg.MaxKeysPerRule {
			e.evict(r)
		}
		st = r.keys.add(e.keyBuf)
	}
	firstBefore := int64(math.MaxInt64)
	if len(st.es) > 0 {
		firstBefore = st.es[0].t
	}
	p, ok := st.insert(entry{t: o.t, id: o.id, x: x}, r.Type)
	if !ok {
		return // seen already
	}
	if !r.atClose {
		if n := cutBefore(st.es, e.watermark-r.span); n > 0 {
			st.es = append(st.es[:0], st.es[n:]...)
			p -= n
		}
	}
	if n := len(st.es) - r.maxEvents; n > 0 {
		st.es = append(st.es[:0], st.es[n:]...)
		r.truncated += uint64(n)
		p -= n
		if p < 0 {
			return // the new entry itself was the oldest
		}
	}
	if r.atClose {
		if st.es[0].t != firstBefore { // a new window start: older items are stale
			heap.Push(&r.due, due{at: st.es[0].t + r.span, key: st.key()})
			e.nextWork = min(e.nextWork, st.es[0].t+r.span+1)
		}
		return
	}
	// Judge every window [s, s+span] that holds the new entry.
	es := st.es
	end := p
	for s := cutBefore(es, es[p].t-r.span); s <= p; s++ {
		for end+1 < len(es) && es[end+1].t <= es[s].t+r.span {
			end++
		}
		if r.holds(es[s : end+1]) {
			key := st.key()
			win := r.members(es[s : end+1])
			st.es = append(es[:s], es[end+1:]...)
			if len(st.es) == 0 {
				r.keys.remove(st)
			}
			e.fire(r, key, win, o, emit)
			return
		}
		if end == len(es)-1 {
			break
		}
	}
}

// cutBefore returns the number of leading entries older than t.
func cutBefore(es []entry, t int64) int {
	return sort.Search(len(es), func(i int) bool { return es[i].t >= t })
}

// insert adds en in time order and returns its position; false when the
// same event is already there. value_count keeps the newest event of each
// value, temporal the newest of each referenced rule.
func (st *keyState) insert(en entry, typ Type) (int, bool) {
	if typ == ValueCount || typ == Temporal {
		for i, old := range st.es {
			if old.x == en.x {
				if old.t > en.t || old.t == en.t && old.id == en.id {
					return 0, false
				}
				st.es = append(st.es[:i], st.es[i+1:]...)
				break
			}
		}
	}
	i := len(st.es)
	for i > 0 && st.es[i-1].t > en.t {
		i--
	}
	for j := i - 1; j >= 0 && st.es[j].t == en.t; j-- {
		if st.es[j].id == en.id && st.es[j].x == en.x && !en.id.IsZero() {
			return 0, false
		}
	}
	st.es = slices.Insert(st.es, i, en)
	return i, true
}

// measure aggregates a window into the number the condition compares.
func (r *compiled) measure(es []entry) float64 {
	switch r.Type {
	case EventCount:
		return float64(len(es))
	case ValueCount:
		return float64(distinct(es))
	case Temporal:
		var seen uint64
		for _, en := range es {
			seen |= 1 << en.x
		}
		n := 0
		for ; seen != 0; seen &= seen - 1 {
			n++
		}
		return float64(n)
	case TemporalOrdered:
		k := uint64(0)
		for _, en := range es {
			if en.x == k {
				k++
			}
		}
		return float64(k)
	case ValueSum, ValueAvg:
		var sum float64
		for _, en := range es {
			sum += math.Float64frombits(en.x)
		}
		if r.Type == ValueAvg {
			return sum / float64(len(es))
		}
		return sum
	case ValuePercentile:
		vs := make([]float64, len(es))
		for i, en := range es {
			vs[i] = math.Float64frombits(en.x)
		}
		slices.Sort(vs)
		rank := int(math.Ceil(r.Condition.Percentile / 100 * float64(len(vs))))
		return vs[max(rank, 1)-1]
	}
	return 0
}

// members returns a copy of the entries of a matching window that make
// the alert: for temporal_ordered the earliest chain in order, else all.
func (r *compiled) members(es []entry) []entry {
	if r.Type != TemporalOrdered {
		return slices.Clone(es)
	}
	var out []entry
	k := uint64(0)
	for _, en := range es {
		if en.x == k {
			out = append(out, en)
			k++
		}
	}
	return out
}

func distinct(es []entry) int {
	n := 0
	for i, en := range es {
		if !slices.ContainsFunc(es[:i], func(o entry) bool { return o.x == en.x }) {
			n++
		}
	}
	return n
}

// holds reports whether the window es satisfies the rule.
func (r *compiled) holds(es []entry) bool {
	if len(es) == 0 {
		return false
	}
	m := r.measure(es)
	if (r.Type == Temporal || r.Type == TemporalOrdered) && len(r.Condition.Ops) == 0 {
		return int(m) == len(r.Rules)
	}
	return r.Condition.Holds(m)
}

// rare returns the entries of es whose value's share of es, in percent,
// satisfies the condition (value_percentile without a percentile).
func (r *compiled) rare(es []entry) []entry {
	count := map[uint64]int{}
	for _, en := range es {
		count[en.x]++
	}
	var out []entry
	for _, en := range es {
		if r.Condition.Holds(100 * float64(count[en.x]) / float64(len(es))) {
			out = append(out, en)
		}
	}
	return out
}

// closeDue judges the windows of r that the watermark has passed.
func (e *Engine) closeDue(r *compiled, emit func(event.Alert)) {
	for len(r.due) > 0 && r.due[0].at < e.watermark {
		d := heap.Pop(&r.due).(due)
		e.keyBuf = append(e.keyBuf[:0], d.key...)
		st := r.keys.get(e.keyBuf)
		if st == nil || st.es[0].t+r.span != d.at {
			continue // evicted, or its window start moved: a newer item exists
		}
		end := sort.Search(len(st.es), func(i int) bool { return st.es[i].t > d.at })
		win := slices.Clone(st.es[:end])
		st.es = append(st.es[:0], st.es[end:]...)
		if len(st.es) == 0 {
			r.keys.remove(st)
		} else {
			heap.Push(&r.due, due{at: st.es[0].t + r.span, key: d.key})
		}
		if r.Type == ValuePercentile && r.Condition.Percentile == 0 {
			if rare := r.rare(win); len(rare) > 0 {
				e.fire(r, d.key, rare, nil, emit)
			}
			continue
		}
		if r.holds(win) {
			e.fire(r, d.key, win, nil, emit)
		}
	}
}

// evict removes one key of r to make room: an expired key if the sample
// meets one, otherwise the sampled key whose newest event is oldest.
func (e *Engine) evict(r *compiled) {
	limit := e.watermark - r.span
	var victim *keyState
	oldest, n := int64(math.MaxInt64), 0
	r.keys.sample(func(st *keyState) bool {
		last := st.es[len(st.es)-1].t
		if last < limit {
			victim = st
			return false
		}
		if last < oldest {
			victim, oldest = st, last
		}
		n++
		return n < 16
	})
	r.keys.remove(victim)
	r.evicted++
}

func (e *Engine) fire(r *compiled, key string, win []entry, o *obs, emit func(event.Alert)) {
	ids := make([]event.ID, 0, len(win))
	var sub []*event.Alert
	for _, en := range win {
		if a := e.chained[en.id]; a != nil {
			ids = append(ids, a.EventIDs...)
			sub = append(sub, a)
			continue
		}
		ids = append(ids, en.id)
	}
	a := event.Alert{
		ID:        event.DeriveID(r.ref, ids),
		RuleID:    r.ref,
		RuleTitle: r.Title,
		Level:     r.Level,
		Engine:    EngineName,
		Time:      time.Unix(0, win[len(win)-1].t).UTC(),
		Created:   e.now().UTC(),
		Tags:      slices.Clone(r.Tags),
		EventIDs:  ids,
		Group:     decodeKey(r.GroupBy, key),
	}
	if a.RuleTitle == "" {
		a.RuleTitle = r.ref
	}
	fillEntities(&a, o, sub)
	a.Summary = fmt.Sprintf("%s %s: %s within %v%s", r.Type, r.Condition.String(), countText(r, win), r.Timespan, groupText(r.GroupBy, a.Group))
	r.alerts++
	e.alerts++
	if r.emitted {
		emit(a)
	}
	if len(r.parents) == 0 {
		return
	}
	stored := a
	e.chained[a.ID] = &stored
	co := obs{t: win[len(win)-1].t, id: a.ID, alert: &stored}
	for _, p := range r.parents {
		e.add(p, &co, emit)
	}
}
