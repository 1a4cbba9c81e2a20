package correlate

import "github.com/danang-soc/vigil/event"

// chainStore keeps the alerts of correlations that other correlations
// reference, so that a chained alert lists the events of the alerts it is
// made of. It is bounded twice: alerts older than the longest timespan
// behind the watermark go, and beyond Config.MaxChainedAlerts the oldest go
// first, counted in Stats.ChainedDropped (a chained alert that refers to a
// dropped one lists that alert's id instead of its events).
type chainStore struct {
	m       map[event.ID]*event.Alert
	order   []event.ID // insertion order, which is about time order
	head    int
	max     int
	dropped uint64
}

func newChainStore(max int) *chainStore {
	return &chainStore{m: map[event.ID]*event.Alert{}, max: max}
}

func (c *chainStore) len() int { return len(c.m) }

func (c *chainStore) get(id event.ID) *event.Alert { return c.m[id] }

func (c *chainStore) put(a *event.Alert) {
	if _, ok := c.m[a.ID]; ok {
		return
	}
	c.m[a.ID] = a
	c.order = append(c.order, a.ID)
	for len(c.m) > c.max {
		c.pop()
		c.dropped++
	}
}

func (c *chainStore) pop() {
	delete(c.m, c.order[c.head])
	c.head++
	if c.head > len(c.order)/2 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// prune drops the alerts older than before (Unix ns), oldest first.
func (c *chainStore) prune(before int64) {
	for c.head < len(c.order) && c.m[c.order[c.head]].Time.UnixNano() < before {
		c.pop()
	}
}

// all yields the alerts in insertion order.
func (c *chainStore) all(yield func(*event.Alert) bool) {
	for _, id := range c.order[c.head:] {
		if !yield(c.m[id]) {
			return
		}
	}
}
