package sigma

import (
	"encoding/binary"
	"slices"
	"sort"
	"strings"
)

// sourceIndex finds the mapping entries an event fits without trying each:
// entries are grouped by the set of fields their conditions test (their
// shape), and each shape is a hash lookup on the event's values of those
// fields (Channel and EventID for most Windows entries).
type sourceIndex struct {
	entries []SourceMapping
	fields  []string // every field a condition tests
	shapes  []shape
}

type shape struct {
	fields []int // indexes into sourceIndex.fields, sorted
	byKey  map[string][]int
}

func newSourceIndex(m *LogSourceMapping) *sourceIndex {
	ix := &sourceIndex{entries: m.Sources}
	fieldPos := map[string]int{}
	shapePos := map[string]int{}
	for i, s := range m.Sources {
		var names []string
		for f := range s.When {
			names = append(names, f)
		}
		sort.Strings(names)
		var fs []int
		for _, f := range names {
			p, ok := fieldPos[f]
			if !ok {
				p = len(ix.fields)
				fieldPos[f] = p
				ix.fields = append(ix.fields, f)
			}
			fs = append(fs, p)
		}
		sk := strings.Join(names, "\x00")
		sp, ok := shapePos[sk]
		if !ok {
			sp = len(ix.shapes)
			shapePos[sk] = sp
			ix.shapes = append(ix.shapes, shape{fields: fs, byKey: map[string][]int{}})
		}
		// One key per combination of the listed values.
		keys := []string{""}
		for j, f := range names {
			var next []string
			for _, k := range keys {
				for _, v := range s.When[f] {
					if j > 0 {
						next = append(next, k+"\x00"+v)
					} else {
						next = append(next, v)
					}
				}
			}
			keys = next
		}
		for _, k := range keys {
			ix.shapes[sp].byKey[k] = append(ix.shapes[sp].byKey[k], i)
		}
	}
	return ix
}

// appendValues appends to key the values of the fields the mapping tests,
// each absent one as a 0 byte and each present one as a 1 byte, its length
// and its bytes: two events with equal keys fit the same entries.
func (ix *sourceIndex) appendValues(key []byte, c *evalCtx, ids []int32) []byte {
	for _, id := range ids {
		i := c.byID(id)
		if i < 0 {
			key = append(key, 0)
			continue
		}
		v := c.e.Fields[i].Value.Str
		key = binary.LittleEndian.AppendUint32(append(key, 1), uint32(len(v)))
		key = append(key, v...)
	}
	return key
}

// match appends to out the entries e fits, in mapping order. vals and key
// are scratch.
func (ix *sourceIndex) match(out []int, c *evalCtx, ids []int32) []int {
	if cap(c.srcVals) < len(ix.fields) {
		c.srcVals = make([]string, len(ix.fields))
		c.srcHas = make([]bool, len(ix.fields))
	}
	vals, has := c.srcVals[:len(ix.fields)], c.srcHas[:len(ix.fields)]
	n := 0
	for j, id := range ids {
		has[j] = false
		if i := c.byID(id); i >= 0 {
			vals[j], has[j] = c.e.Fields[i].Value.Str, true
			n++
		}
	}
	if n == 0 {
		return out
	}
shapes:
	for _, s := range ix.shapes {
		key := c.srcKey[:0]
		for j, f := range s.fields {
			if !has[f] {
				continue shapes
			}
			if j > 0 {
				key = append(key, 0)
			}
			key = append(key, vals[f]...)
		}
		c.srcKey = key
		out = append(out, s.byKey[string(key)]...)
	}
	slices.Sort(out)
	return out
}
