package correlate

import (
	"container/heap"
	"math"
	"slices"
	"sort"

	"github.com/danang-soc/vigil/event"
)

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
				h *= 1099511628211 // a zero byte between two values
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
