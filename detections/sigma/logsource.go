package sigma

import (
	"sort"

	"github.com/danang-soc/vigil/event"
)

// sourceIndex finds the mapping entries an event fits, looking entries up
// by the value of one of their condition fields rather than trying each.
type sourceIndex struct {
	entries []SourceMapping
	conds   [][]cond // per entry, sorted by field
	keys    []indexField
}

type cond struct {
	field  string
	values []string
}

type indexField struct {
	field   string
	byValue map[string][]int
}

func newSourceIndex(m *LogSourceMapping) *sourceIndex {
	ix := &sourceIndex{entries: m.Sources}
	pos := map[string]int{}
	for i, s := range m.Sources {
		var cs []cond
		for f, v := range s.When {
			cs = append(cs, cond{f, v})
		}
		sort.Slice(cs, func(a, b int) bool { return cs[a].field < cs[b].field })
		ix.conds = append(ix.conds, cs)
		// Index on Channel when there is one (it splits Windows events
		// best), else on the first field.
		key := cs[0]
		for _, c := range cs {
			if c.field == "Channel" {
				key = c
			}
		}
		p, ok := pos[key.field]
		if !ok {
			p = len(ix.keys)
			pos[key.field] = p
			ix.keys = append(ix.keys, indexField{field: key.field, byValue: map[string][]int{}})
		}
		for _, v := range key.values {
			ix.keys[p].byValue[v] = append(ix.keys[p].byValue[v], i)
		}
	}
	return ix
}

// match returns the entries e fits, in mapping order.
func (ix *sourceIndex) match(e *event.Event) []int {
	var out []int
	for _, k := range ix.keys {
		v, ok := e.Fields.Get(k.field)
		if !ok {
			continue
		}
		for _, i := range k.byValue[v.Str] {
			if ix.fits(i, e) {
				out = append(out, i)
			}
		}
	}
	sort.Ints(out)
	return out
}

func (ix *sourceIndex) fits(i int, e *event.Event) bool {
	for _, c := range ix.conds[i] {
		v, ok := e.Fields.Get(c.field)
		if !ok || !contains(c.values, v.Str) {
			return false
		}
	}
	return true
}
