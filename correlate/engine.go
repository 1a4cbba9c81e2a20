package correlate

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
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
	chained   *chainStore
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
	e := &Engine{cfg: cfg, log: log, now: now, byRef: map[string][]target{}, chained: newChainStore(cfg.MaxChainedAlerts)}
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

// References reports whether any correlation references one of refs (the
// id and name of a rule), so that the caller can skip Observe for rules
// that no correlation uses.
func (e *Engine) References(refs ...string) bool {
	for _, ref := range refs {
		if len(e.byRef[ref]) > 0 { // byRef is fixed after New: no lock
			return true
		}
	}
	return false
}

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
	// Windows closed below may feed chained rules, whose new closings
	// lower nextWork while the loop runs.
	next := int64(math.MaxInt64)
	e.nextWork = next
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
	if e.chained.len() > 0 {
		e.chained.prune(w - e.maxSpan)
		next = min(next, w+max(e.maxSpan, int64(time.Second)))
	}
	e.nextWork = min(e.nextWork, next)
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
		if a := e.chained.get(en.id); a != nil {
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
	e.chained.put(&stored)
	co := obs{t: win[len(win)-1].t, id: a.ID, alert: &stored}
	for _, p := range r.parents {
		e.add(p, &co, emit)
	}
}
