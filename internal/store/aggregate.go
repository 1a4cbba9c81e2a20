package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query/match"
)

// Aggregations for the console: histograms and rates over time, top
// counts, ATT&CK tag counts, the freshness of every log source, rule hits
// and saved searches. Each is one bounded SQL statement over the indexed
// columns; the time bounds are the caller's, so that a dashboard over the
// last hour never reads the year behind it. The fleet list is the
// exception: it is kept in the state table and folded in from the events
// stored since it was last read.

// MaxBuckets bounds the buckets of one histogram or rate.
const MaxBuckets = 500

// steps are the bucket widths a histogram picks from: the smallest that
// gives no more buckets than asked.
var steps = []time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour,
}

// Span is the time axis of a histogram: Buckets buckets of Step from From
// (aligned down to a multiple of Step).
type Span struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Step    time.Duration `json:"step_ns"`
	Buckets int           `json:"buckets"`
}

// NewSpan picks the step for about n buckets over [from, to). A zero to is
// now; a zero from is a day before to.
func (s *Store) NewSpan(from, to time.Time, n int) (Span, error) {
	if to.IsZero() {
		to = s.cfg.Now()
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	if !from.Before(to) {
		return Span{}, fmt.Errorf("the time range %s to %s is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if n <= 0 {
		n = 60
	}
	n = min(n, MaxBuckets)
	step := steps[len(steps)-1]
	for _, st := range steps {
		if to.Sub(from)/st <= time.Duration(n) {
			step = st
			break
		}
	}
	start := from.Truncate(step)
	buckets := int((to.Sub(start) + step - 1) / step)
	if buckets > MaxBuckets {
		return Span{}, fmt.Errorf("the time range %s to %s is too long to chart", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return Span{From: start.UTC(), To: to.UTC(), Step: step, Buckets: buckets}, nil
}

// bucketExpr is the SQL of the bucket number of col; the numbers are ours,
// not the user's, so they are written into the statement.
func (sp Span) bucketExpr(col string) string {
	return "((" + col + " - " + strconv.FormatInt(sp.From.UnixNano(), 10) + ") / " + strconv.FormatInt(int64(sp.Step), 10) + ")"
}

// Series is one line of a chart: a count per bucket of a Span.
type Series struct {
	Key    string  `json:"key"`
	Counts []int64 `json:"counts"`
	Total  int64   `json:"total"`
}

// Histogram is counts over time, one series per key.
type Histogram struct {
	Span   Span     `json:"span"`
	Series []Series `json:"series"`
}

// fill reads rows of (bucket, key, count) into h, series in order of their
// totals, largest first.
func (h *Histogram) fill(rows *sql.Rows) error {
	defer rows.Close()
	byKey := map[string][]int64{}
	for rows.Next() {
		var b int64
		var key string
		var n int64
		if err := rows.Scan(&b, &key, &n); err != nil {
			return err
		}
		if b < 0 || b >= int64(h.Span.Buckets) {
			continue
		}
		c := byKey[key]
		if c == nil {
			c = make([]int64, h.Span.Buckets)
			byKey[key] = c
		}
		c[b] += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	h.setSeries(byKey)
	return nil
}

// setSeries sets the series of h from counts by key, in order of their
// totals, largest first.
func (h *Histogram) setSeries(byKey map[string][]int64) {
	h.Series = make([]Series, 0, len(byKey))
	for k, c := range byKey {
		sr := Series{Key: k, Counts: c}
		for _, n := range c {
			sr.Total += n
		}
		h.Series = append(h.Series, sr)
	}
	sort.Slice(h.Series, func(i, j int) bool {
		a, b := h.Series[i], h.Series[j]
		return a.Total > b.Total || a.Total == b.Total && a.Key < b.Key
	})
}

// EventHistogram counts the events that match q.Q in each bucket of sp:
// one series, keyed "". q.From and q.To narrow the span; the cursor and
// limit are ignored. It is bounded by Config.QueryTimeout.
func (s *Store) EventHistogram(ctx context.Context, q string, sp Span) (Histogram, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var h Histogram
	err := s.snapshot(ctx, func(rd reader) (err error) {
		h, err = s.eventHistogram(ctx, rd, q, sp)
		return err
	})
	return h, err
}

func (s *Store) eventHistogram(ctx context.Context, rd reader, q string, sp Span) (Histogram, error) {
	h := Histogram{Span: sp}
	sr, err := s.compile(ctx, rd, q, sp.From, sp.To)
	if err != nil {
		return h, err
	}
	counts := make([]int64, sp.Buckets)
	// Counting every event, or every event of a block of the hosts asked
	// for: a block within one bucket and the time bounds counts whole.
	var whole func(b *blockRow) bool
	if sr.all || sr.scan.hostsOnly {
		whole = func(b *blockRow) bool {
			if !sr.all && !sr.scan.blockMatches(b.hosts) {
				return false
			}
			n := b.count
			i := sp.bucket(b.minTime)
			if i < 0 || i != sp.bucket(b.maxTime) || b.minTime < sr.scan.lo || b.maxTime >= sr.scan.hi {
				return false
			}
			counts[i] += int64(n)
			return true
		}
	}
	err = spanEvents(ctx, &sr.scan, whole, func(e *blockEvent) error {
		if ok, err := sr.matches(e); err != nil || !ok {
			return err
		}
		if b := sp.bucket(e.time); b >= 0 {
			counts[b]++
		}
		return nil
	})
	if err != nil {
		return h, fmt.Errorf("counting events over time: %w", err)
	}
	sr0 := Series{Key: "", Counts: counts}
	for _, n := range counts {
		sr0.Total += n
	}
	h.Series = []Series{sr0}
	return h, nil
}

// bucket is the bucket of a time in Unix nanoseconds, or -1 outside.
func (sp Span) bucket(t int64) int {
	from := sp.From.UnixNano()
	if t < from || sp.Step <= 0 {
		return -1
	}
	b := (t - from) / int64(sp.Step)
	if b >= int64(sp.Buckets) {
		return -1
	}
	return int(b)
}

// spanEvents calls fn with every event within the scan's time range in
// its candidate blocks, in no order. whole, when not nil, is asked first
// about each block (its row: time range and count), and may take the block
// whole, which is then not read.
func spanEvents(ctx context.Context, sc *newestScan, whole func(b *blockRow) bool,
	fn func(e *blockEvent) error) error {
	// Blocks taken whole are not read: their data is fetched for the others.
	return sc.eachBlock(ctx, whole == nil, func(b *blockRow) (bool, error) {
		if whole != nil && whole(b) {
			return true, nil
		}
		evs, err := sc.read(ctx, b, true)
		if err != nil {
			return false, err
		}
		for i := range evs {
			if !sc.wants(&evs[i]) {
				continue
			}
			if err := fn(&evs[i]); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// isFleetKey reports whether a document key is one the fleet list reads.
func isFleetKey(k string) bool {
	return isSourceKey(k) || k == event.FieldHost || k == event.KeyTime || k == event.KeyReceived
}

// AlertRate counts alerts per bucket of sp by level (the level's name),
// most severe first.
func (s *Store) AlertRate(ctx context.Context, sp Span) (Histogram, error) {
	h := Histogram{Span: sp}
	rows, err := s.r.QueryContext(ctx, `SELECT `+sp.bucketExpr("time")+` AS b, level, count(*)
		FROM alerts WHERE time >= ? AND time < ? GROUP BY b, level`, sp.From.UnixNano(), sp.To.UnixNano())
	if err != nil {
		return h, fmt.Errorf("counting alerts by level: %w", err)
	}
	if err := h.fill(rows); err != nil {
		return h, fmt.Errorf("counting alerts by level: %w", err)
	}
	// Most severe first, as the console stacks them.
	sort.SliceStable(h.Series, func(i, j int) bool {
		a, _ := strconv.Atoi(h.Series[i].Key)
		b, _ := strconv.Atoi(h.Series[j].Key)
		return a > b
	})
	for i := range h.Series {
		if n, err := strconv.Atoi(h.Series[i].Key); err == nil {
			h.Series[i].Key = event.Level(n).String()
		}
	}
	return h, nil
}

// Count is how often a value was seen, and when last.
type Count struct {
	Key   string    `json:"key"`
	Count int64     `json:"count"`
	Last  time.Time `json:"last"`
}

// AlertDim is what TopAlerts groups alerts by.
type AlertDim string

const (
	ByRule     AlertDim = "rule"
	ByHost     AlertDim = "host"
	ByUser     AlertDim = "user"
	ByDatabase AlertDim = "database"
	BySourceIP AlertDim = "source_ip"
)

// alertDims are the SQL of each dimension; a rule is keyed by its id and
// title, "id\ttitle".
var alertDims = map[AlertDim]string{
	ByRule:     `rule_id || char(9) || coalesce(doc ->> '$.rule_title', '')`,
	ByHost:     `host`,
	ByUser:     `coalesce(doc ->> '$.user', '')`,
	ByDatabase: `coalesce(doc ->> '$.database', '')`,
	BySourceIP: `coalesce(doc ->> '$.source_ip', '')`,
}

// TopAlerts returns the n values of dim seen in most alerts since since,
// most first; alerts without a value are left out.
func (s *Store) TopAlerts(ctx context.Context, dim AlertDim, since time.Time, n int) ([]Count, error) {
	expr, ok := alertDims[dim]
	if !ok {
		return nil, fmt.Errorf("counting alerts: unknown dimension %q", dim)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT k, count(*) AS c, max(time) FROM (SELECT `+expr+` AS k, time
		FROM alerts WHERE time >= ?) WHERE k != '' AND k != char(9) GROUP BY k ORDER BY c DESC, k LIMIT ?`, nanos(since), limit(n))
	if err != nil {
		return nil, fmt.Errorf("counting alerts by %s: %w", dim, err)
	}
	out, err := scanCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("counting alerts by %s: %w", dim, err)
	}
	return out, nil
}

func scanCounts(rows *sql.Rows) ([]Count, error) {
	defer rows.Close()
	out := []Count{}
	for rows.Next() {
		var c Count
		var last int64
		if err := rows.Scan(&c.Key, &c.Count, &last); err != nil {
			return nil, err
		}
		c.Last = fromNanos(last)
		out = append(out, c)
	}
	return out, rows.Err()
}

// TagCount is how many alerts carried a pair of ATT&CK tags: a tactic
// ("attack.credential-access") and a technique ("attack.t1110"); either
// may be empty when an alert carried none of that kind.
type TagCount struct {
	Tactic    string `json:"tactic"`
	Technique string `json:"technique"`
	Count     int64  `json:"count"`
}

// AttackCounts counts the alerts since since by ATT&CK tactic and
// technique (from their "attack.*" tags), for a heatmap: an alert with two
// tactics and one technique counts once in each pair.
func (s *Store) AttackCounts(ctx context.Context, since time.Time) ([]TagCount, error) {
	// technique: attack.t followed by a digit; tactic: any other attack.*
	// tag that is not a group (g), software (s) or other id.
	const isTechnique = `lower(value) GLOB 'attack.t[0-9]*'`
	const isTactic = `lower(value) GLOB 'attack.[a-z]*' AND NOT lower(value) GLOB 'attack.[tgs][0-9]*'`
	rows, err := s.r.QueryContext(ctx, `WITH a AS (SELECT id, doc FROM alerts WHERE time >= ?),
		ta AS (SELECT a.id, lower(j.value) AS v FROM a, json_each(a.doc, '$.tags') j WHERE `+strings.ReplaceAll(isTactic, "value", "j.value")+`),
		te AS (SELECT a.id, lower(j.value) AS v FROM a, json_each(a.doc, '$.tags') j WHERE `+strings.ReplaceAll(isTechnique, "value", "j.value")+`),
		pairs AS (
			SELECT ta.v AS tactic, coalesce(te.v, '') AS technique FROM ta LEFT JOIN te ON te.id = ta.id
			UNION ALL
			SELECT '', te.v FROM te WHERE NOT EXISTS (SELECT 1 FROM ta WHERE ta.id = te.id))
		SELECT tactic, technique, count(*) FROM pairs GROUP BY tactic, technique ORDER BY tactic, technique`, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("counting ATT&CK tags: %w", err)
	}
	defer rows.Close()
	out := []TagCount{}
	for rows.Next() {
		var c TagCount
		if err := rows.Scan(&c.Tactic, &c.Technique, &c.Count); err != nil {
			return nil, fmt.Errorf("counting ATT&CK tags: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting ATT&CK tags: %w", err)
	}
	return out, nil
}

// SourceSeen is one log source of one host and how fresh it is.
type SourceSeen struct {
	Host     string    `json:"host"`
	Source   string    `json:"source"` // product/category/service
	Events   int64     `json:"events"` // since it was first seen
	First    time.Time `json:"first"`  // when it was first received
	Last     time.Time `json:"last"`   // the newest event time
	Received time.Time `json:"received"`
}

// MaxFleet bounds the sources Fleet keeps and lists.
const MaxFleet = 5000

// foldChunk bounds the events one call of Fleet folds in: a store that has
// not been folded for long (the first call over a full store) catches up
// over several calls instead of holding a reader for minutes.
const foldChunk = 250_000

// fleetKey is the state key of the fleet list.
const fleetKey = "console/fleet"

// fleetState is the fleet list and the seq of the last event folded in.
type fleetState struct {
	Mark    int64        `json:"mark"`
	Sources []SourceSeen `json:"sources"`
}

// Fleet lists every host and log source that has sent events, stalest
// first, with the newest event time and the latest arrival: a source that
// fell silent stays on the list, which is what a fleet view is for.
// Sources whose latest arrival is before since are left out (zero: none).
// The list is kept in the state table and brought up to date with the
// events stored since the last call (at most foldChunk of them per call),
// so it costs nothing on the write path; caughtUp reports whether every
// stored event is folded in. Beyond MaxFleet sources, the stalest go.
func (s *Store) Fleet(ctx context.Context, since time.Time) (out []SourceSeen, caughtUp bool, err error) {
	st, caughtUp, err := s.foldSources(ctx)
	if err != nil {
		return nil, false, err
	}
	out = make([]SourceSeen, 0, len(st.Sources))
	for _, f := range st.Sources {
		if !f.Received.Before(since) {
			out = append(out, f)
		}
	}
	return out, caughtUp, nil
}

func (s *Store) fleetState(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (fleetState, error) {
	var st fleetState
	var blob []byte
	err := q.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, fleetKey).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(blob, &st); err != nil {
		return st, fmt.Errorf("decoding the fleet list: %w", err)
	}
	return st, nil
}

// foldSources adds the events stored after the mark to the fleet list and
// moves the mark. The events are counted on a reader; the write applies
// the counts only if no other call moved the mark meanwhile.
func (s *Store) foldSources(ctx context.Context) (fleetState, bool, error) {
	var st fleetState
	var top int64
	mark, upto := int64(0), int64(0)
	err := s.snapshot(ctx, func(rd reader) (err error) {
		if st, err = s.fleetState(ctx, rd); err != nil {
			return err
		}
		mark, upto = st.Mark, st.Mark
		if err := rd.QueryRowContext(ctx, `SELECT coalesce(max(last_seq), 0) FROM event_blocks`).Scan(&top); err != nil {
			return err
		}
		if top <= st.Mark {
			return nil
		}
		upto, err = st.fold(ctx, rd)
		return err
	})
	if err != nil {
		return st, false, fmt.Errorf("folding log sources: %w", err)
	}
	if top <= st.Mark {
		return st, true, nil
	}
	sort.Slice(st.Sources, func(i, j int) bool {
		a, b := st.Sources[i], st.Sources[j]
		if !a.Received.Equal(b.Received) {
			return a.Received.Before(b.Received)
		}
		return a.Host+"\x00"+a.Source < b.Host+"\x00"+b.Source
	})
	if len(st.Sources) > MaxFleet {
		st.Sources = st.Sources[len(st.Sources)-MaxFleet:]
	}
	st.Mark = upto
	blob, err := json.Marshal(st)
	if err != nil {
		return st, false, fmt.Errorf("folding log sources: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		cur, err := s.fleetState(ctx, tx)
		if err != nil {
			return err
		}
		if cur.Mark != mark {
			return errFolded
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO state (key, value, updated) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated`, fleetKey, blob, nanos(s.cfg.Now()))
		return err
	})
	if errors.Is(err, errFolded) {
		// Another call folded these events: read what it wrote.
		if st, err = s.fleetState(ctx, s.r); err != nil {
			return st, false, fmt.Errorf("folding log sources: %w", err)
		}
		return st, st.Mark >= top, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("folding log sources: %w", err)
	}
	return st, upto == top, nil
}

// fold adds the events after the mark, in up to foldChunk events' worth
// of blocks, to the list, and returns the last seq it folded. The blocks
// read are those holding seqs after the mark, the one that holds the mark
// too: compaction merges the blocks written after a block into it.
func (st *fleetState) fold(ctx context.Context, rd reader) (upto int64, err error) {
	upto = st.Mark
	rows, err := rd.QueryContext(ctx, `SELECT first_seq, last_seq FROM event_blocks
		WHERE first_seq >= coalesce((SELECT max(first_seq) FROM event_blocks WHERE first_seq <= ?), 0) AND last_seq > ?
		ORDER BY first_seq LIMIT ?`, st.Mark, st.Mark, max(foldChunk/blockSize, 1))
	if err != nil {
		return upto, err
	}
	var firsts []int64
	for rows.Next() {
		var first int64
		if err := rows.Scan(&first, &upto); err != nil {
			rows.Close()
			return upto, err
		}
		firsts = append(firsts, first)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return upto, err
	}
	// Hosts and sources compare without case, as searches do.
	index := make(map[string]int, len(st.Sources))
	for i, f := range st.Sources {
		index[strings.ToLower(f.Host+"\x00"+f.Source)] = i
	}
	var buf []byte
	for _, first := range firsts {
		var evs []blockEvent
		if evs, buf, err = readBlock(ctx, rd, first, buf); err != nil {
			return upto, err
		}
		for i := range evs {
			if evs[i].seq <= st.Mark {
				continue // folded before
			}
			ev, err := event.DecodeJSONKeys(evs[i].doc, isFleetKey)
			if err != nil {
				return upto, fmt.Errorf("event %d: %w", evs[i].seq, err)
			}
			host, src := match.Host(&ev), sourceKey(ev.Source.Product, ev.Source.Category, ev.Source.Service)
			k := strings.ToLower(host + "\x00" + src)
			j, ok := index[k]
			if !ok {
				st.Sources = append(st.Sources, SourceSeen{Host: host, Source: src, First: ev.Received})
				j = len(st.Sources) - 1
				index[k] = j
			}
			f := &st.Sources[j]
			f.Events++
			if ev.Received.Before(f.First) {
				f.First = ev.Received
			}
			if ev.Time.After(f.Last) {
				f.Last = ev.Time
			}
			if ev.Received.After(f.Received) {
				f.Received = ev.Received
			}
		}
	}
	return upto, nil
}

var errFolded = errors.New("folded meanwhile")

// OpenIncidentCounts counts the incidents that still need work (new,
// acknowledged, investigating) by severity name.
func (s *Store) OpenIncidentCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT severity, count(*) FROM incidents WHERE status IN (?, ?, ?) GROUP BY severity`,
		string(event.StatusNew), string(event.StatusAcknowledged), string(event.StatusInvestigating))
	if err != nil {
		return nil, fmt.Errorf("counting open incidents: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var sev int
		var n int64
		if err := rows.Scan(&sev, &n); err != nil {
			return nil, fmt.Errorf("counting open incidents: %w", err)
		}
		out[event.Level(sev).String()] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting open incidents: %w", err)
	}
	return out, nil
}

// RuleHits returns, per rule id, how many alerts it raised and when last
// (the time of the last alert's event).
func (s *Store) RuleHits(ctx context.Context) (map[string]Count, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rule_id, count(*), max(time) FROM alerts GROUP BY rule_id`)
	if err != nil {
		return nil, fmt.Errorf("counting rule hits: %w", err)
	}
	cs, err := scanCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("counting rule hits: %w", err)
	}
	out := make(map[string]Count, len(cs))
	for _, c := range cs {
		out[c.Key] = c
	}
	return out, nil
}

// FieldNames returns the names of the fields of the newest sample events,
// sorted, for the query bar's suggestions.
func (s *Store) FieldNames(ctx context.Context, sample int) ([]string, error) {
	seen := map[string]bool{}
	err := s.newest(ctx, min(max(sample, 1), 5000), func(e *blockEvent) error {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(e.doc, &doc); err != nil {
			return fmt.Errorf("decoding stored event %d: %w", e.seq, err)
		}
		for k := range doc {
			seen[k] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing field names: %w", err)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// newest calls fn with the newest n events, newest first.
func (s *Store) newest(ctx context.Context, n int, fn func(e *blockEvent) error) error {
	return s.snapshot(ctx, func(rd reader) error {
		sc := newestScan{rd: rd, lo: math.MinInt64, hi: math.MaxInt64}
		return sc.run(ctx, func(e *blockEvent) (bool, error) {
			if n <= 0 {
				return false, nil
			}
			n--
			return n > 0, fn(e)
		})
	})
}

// validField is a field name FieldValues accepts: the characters of ECS
// and log field names, so that it can be quoted into a JSON path.
func validField(f string) bool {
	if f == "" || len(f) > 200 {
		return false
	}
	for _, r := range f {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return false
		}
	}
	return true
}

// FieldValues returns the most frequent values of field among the newest
// sample events, most frequent first, for the query bar's suggestions.
// A list counts each of its values.
func (s *Store) FieldValues(ctx context.Context, field string, sample, n int) ([]Count, error) {
	if !validField(field) {
		return nil, fmt.Errorf("listing values: %q is not a field name", field)
	}
	counts := map[string]*Count{}
	err := s.newest(ctx, min(max(sample, 1), 10000), func(e *blockEvent) error {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(e.doc, &doc); err != nil {
			return fmt.Errorf("decoding stored event %d: %w", e.seq, err)
		}
		raw, ok := doc[field]
		if !ok {
			return nil
		}
		var v any
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("decoding stored event %d: %w", e.seq, err)
		}
		at := fromNanos(e.time)
		eachLeaf(v, func(s string) {
			if s == "" {
				return
			}
			c := counts[s]
			if c == nil {
				c = &Count{Key: s}
				counts[s] = c
			}
			c.Count++
			if at.After(c.Last) {
				c.Last = at
			}
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing values of %s: %w", field, err)
	}
	out := make([]Count, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || out[i].Count == out[j].Count && out[i].Key < out[j].Key
	})
	return out[:min(len(out), limit(n))], nil
}

// eachLeaf calls fn with the text of every value within v that is not a
// list or an object: true and false as 1 and 0, as SQLite shows them;
// null is left out.
func eachLeaf(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case json.Number:
		fn(v.String())
	case bool:
		if v {
			fn("1")
		} else {
			fn("0")
		}
	case []any:
		for _, x := range v {
			eachLeaf(x, fn)
		}
	case map[string]any:
		for _, x := range v {
			eachLeaf(x, fn)
		}
	}
}

// SavedSearch is a query an analyst kept under a name, shared with the team.
type SavedSearch struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Query   string    `json:"query"`
	Owner   string    `json:"owner"`
	Created time.Time `json:"created"`
}

// MaxSavedSearches bounds the saved searches.
const MaxSavedSearches = 1000

// SaveSearch keeps a search; a search of the same name is replaced.
func (s *Store) SaveSearch(ctx context.Context, ss SavedSearch) (SavedSearch, error) {
	ss.Name, ss.Query = strings.TrimSpace(ss.Name), strings.TrimSpace(ss.Query)
	switch {
	case ss.Name == "" || len(ss.Name) > 200:
		return ss, errors.New("saving a search: the name must have 1 to 200 bytes")
	case len(ss.Query) > 8<<10:
		return ss, errors.New("saving a search: the query is longer than 8192 bytes")
	case ss.Owner == "":
		return ss, errors.New("saving a search: the owner is required")
	}
	ss.Created = s.cfg.Now().UTC()
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM saved_searches WHERE name != ?`, ss.Name).Scan(&n); err != nil {
			return err
		}
		if n >= MaxSavedSearches {
			return fmt.Errorf("there are already %d saved searches", n)
		}
		return tx.QueryRowContext(ctx, `INSERT INTO saved_searches (name, query, owner, created) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET query = excluded.query, owner = excluded.owner, created = excluded.created
			RETURNING id`, ss.Name, ss.Query, ss.Owner, nanos(ss.Created)).Scan(&ss.ID)
	})
	if err != nil {
		return ss, fmt.Errorf("saving search %q: %w", ss.Name, err)
	}
	return ss, nil
}

// SavedSearches returns the saved searches by name.
func (s *Store) SavedSearches(ctx context.Context) ([]SavedSearch, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, query, owner, created FROM saved_searches ORDER BY name LIMIT ?`, MaxSavedSearches)
	if err != nil {
		return nil, fmt.Errorf("listing saved searches: %w", err)
	}
	defer rows.Close()
	out := []SavedSearch{}
	for rows.Next() {
		var ss SavedSearch
		var at int64
		if err := rows.Scan(&ss.ID, &ss.Name, &ss.Query, &ss.Owner, &at); err != nil {
			return nil, fmt.Errorf("listing saved searches: %w", err)
		}
		ss.Created = fromNanos(at)
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing saved searches: %w", err)
	}
	return out, nil
}

// DeleteSearch removes a saved search; the error wraps fs.ErrNotExist when
// there is none with that id.
func (s *Store) DeleteSearch(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM saved_searches WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fs.ErrNotExist
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting saved search %d: %w", id, err)
	}
	return nil
}
