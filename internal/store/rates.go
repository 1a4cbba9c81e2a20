package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
)

// The console's overview charts events by log source over a day or a week:
// at 100,000 events a second, billions of events, more than any search
// reads in time. event_rates counts the stored events by second of their
// time and by log source, in the transaction that stores them (new events
// only: a re-delivery counts nothing) and in the one that deletes them, so
// that EventRate reads a row per second and source instead.

// rateKey is a second of event time and a log source.
type rateKey struct {
	second int64
	source string
}

// rateCounts are event counts by rateKey, to add to event_rates.
type rateCounts struct {
	n map[rateKey]int64
	// The run of events of one key being counted: a batch in block order
	// mostly brings several of one second and source together.
	cur  rateKey
	curN int64
	// The last log source and its key.
	last event.LogSource
}

// add counts e, by its time and log source, n times (-1: deleted).
func (c *rateCounts) add(e *event.Event, n int64) {
	second := floorDiv(nanos(e.Time), int64(time.Second))
	if c.n == nil {
		c.n = map[rateKey]int64{}
		c.last, c.cur = e.Source, rateKey{second, sourceKey(e.Source.Product, e.Source.Category, e.Source.Service)}
	}
	if e.Source == c.last && second == c.cur.second {
		c.curN += n
		return
	}
	c.flush()
	if e.Source != c.last {
		c.last, c.cur.source = e.Source, sourceKey(e.Source.Product, e.Source.Category, e.Source.Service)
	}
	c.cur.second, c.curN = second, n
}

// flush adds the current run to the counts.
func (c *rateCounts) flush() {
	if c.curN != 0 {
		c.n[c.cur] += c.curN
		c.curN = 0
	}
}

// write adds the counts to event_rates, dropping rows that come to 0.
func (c *rateCounts) write(ctx context.Context, tx *sql.Tx) error {
	if c.n == nil {
		return nil
	}
	c.flush()
	for k, n := range c.n {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_rates (second, source, n) VALUES (?, ?, ?)
			ON CONFLICT (second, source) DO UPDATE SET n = n + excluded.n`, k.second, k.source, n); err != nil {
			return fmt.Errorf("counting events: %w", err)
		}
		if n < 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM event_rates WHERE second = ? AND source = ? AND n <= 0`, k.second, k.source); err != nil {
				return fmt.Errorf("counting events: %w", err)
			}
		}
	}
	return nil
}

// EventRate counts events per bucket of sp by log source (product,
// category, service), by event time. Whole seconds come from event_rates;
// a span that does not start on a second, or whose step is not whole
// seconds, and the part of its last second before To, are counted from
// the events themselves.
func (s *Store) EventRate(ctx context.Context, sp Span) (Histogram, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var h Histogram
	err := s.snapshot(ctx, func(rd reader) (err error) {
		h, err = eventRate(ctx, rd, sp)
		return err
	})
	return h, err
}

func eventRate(ctx context.Context, rd reader, sp Span) (Histogram, error) {
	h := Histogram{Span: sp}
	byKey := map[string][]int64{}
	count := func(t int64, source string, n int64) {
		b := sp.bucket(t)
		if b < 0 {
			return
		}
		c := byKey[source]
		if c == nil {
			c = make([]int64, sp.Buckets)
			byKey[source] = c
		}
		c[b] += n
	}
	from, to := sp.From.UnixNano(), sp.To.UnixNano()
	sec := int64(time.Second)
	scanFrom := from // events from here on are counted one by one
	if from%sec == 0 && sp.Step%time.Second == 0 && to > from {
		last := floorDiv(to, sec) // the seconds before it are whole
		rows, err := rd.QueryContext(ctx, `SELECT second, source, n FROM event_rates WHERE second >= ? AND second < ?`,
			from/sec, last)
		if err != nil {
			return h, fmt.Errorf("counting events by source: %w", err)
		}
		for rows.Next() {
			var second, n int64
			var source string
			if err := rows.Scan(&second, &source, &n); err != nil {
				rows.Close()
				return h, fmt.Errorf("counting events by source: %w", err)
			}
			count(second*sec, source, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return h, fmt.Errorf("counting events by source: %w", err)
		}
		scanFrom = max(from, last*sec)
	}
	if scanFrom < to {
		sc := newestScan{rd: rd, lo: scanFrom, hi: to}
		err := spanEvents(ctx, &sc, nil, func(e *blockEvent) error {
			ev, err := event.DecodeJSONKeys(e.doc, isSourceKey)
			if err != nil {
				return fmt.Errorf("decoding stored event %d: %w", e.seq, err)
			}
			count(e.time, sourceKey(ev.Source.Product, ev.Source.Category, ev.Source.Service), 1)
			return nil
		})
		if err != nil {
			return h, fmt.Errorf("counting events by source: %w", err)
		}
	}
	h.setSeries(byKey)
	return h, nil
}

// isSourceKey reports whether a document key is part of the log source.
func isSourceKey(k string) bool {
	return k == event.KeyProduct || k == event.KeyCategory || k == event.KeyService
}

// sourceKey names a log source as the console shows it:
// product/category/service, empty parts left out.
func sourceKey(product, category, service string) string {
	parts := make([]string, 0, 3)
	for _, p := range []string{product, category, service} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}
