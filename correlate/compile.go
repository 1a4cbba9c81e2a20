package correlate

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
)

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
