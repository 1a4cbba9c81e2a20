package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
)

// FieldStatement is the database statement field, indexed for full text
// beside the message.
const FieldStatement = "db.statement"

// ErrNoID is returned for an event or alert written without an ID: IDs are
// assigned at ingest and are the idempotency key, so the store never makes
// one up.
var ErrNoID = errors.New("no id")

// insertChunk is how many events one INSERT statement carries: fewer
// statements cost less than the rows they carry (17 parameters a row). A
// chunk's new events are a 64-bit mask.
const insertChunk = 64

var _ [64 - insertChunk]struct{} // insertChunk <= 64

// WriteEvents stores a batch in one transaction and returns how many were
// new. Writing an event whose ID is already stored does nothing, so that
// re-delivery from the bus never makes a duplicate. The text of the new
// events is indexed beside them, on the text file's own connection (see
// text.go); WriteEvents returns once both are committed.
func (s *Store) WriteEvents(ctx context.Context, batch []event.Event) (inserted int, err error) {
	return s.WriteEncoded(ctx, batch, nil)
}

// WriteEncoded is WriteEvents for events whose JSON is at hand: docs[i] is
// batch[i] as event.AppendJSON writes it (a line of the bus, which ingest
// wrote so), stored as it is instead of being encoded again. docs nil means
// none is at hand.
func (s *Store) WriteEncoded(ctx context.Context, batch []event.Event, docs []string) (inserted int, err error) {
	if docs != nil && len(docs) != len(batch) {
		return 0, fmt.Errorf("writing events: %d documents for %d events", len(docs), len(batch))
	}
	for i := range batch {
		if batch[i].ID.IsZero() {
			return 0, fmt.Errorf("writing events: event %d: %w", i, ErrNoID)
		}
	}
	s.textMu.Lock()
	defer s.textMu.Unlock()
	if s.textBehind {
		if err := s.repairText(ctx); err != nil {
			return 0, fmt.Errorf("writing events: %w", err)
		}
	}
	// Seqs are given here, never again, whether or not the commit succeeds:
	// text indexed for an event whose commit is lost then never names
	// another.
	base := s.seq + 1
	s.seq += int64(len(batch))
	work := make(chan textWork, 4)
	commit := make(chan bool, 1)
	indexed := make(chan error, 1)
	go func(work <-chan textWork, upTo int64) { indexed <- s.indexText(ctx, work, commit, nil, upTo) }(work, s.seq)
	err = s.write(ctx, func(tx *sql.Tx) error {
		// Another goroutine encodes the next chunks while this one inserts:
		// the encoding is a fifth of the writer's work.
		chunks := make(chan eventChunk, 2)
		stop := make(chan struct{})
		go encodeChunks(batch, docs, base, chunks, stop)
		defer func() {
			close(stop)
			for range chunks { // wait for the encoder: it reads the batch
			}
		}()
		w := eventWriter{tx: tx, full: s.insEvent, find: s.findSeqs}
		for c := range chunks {
			isNew, k, err := w.insert(ctx, c)
			if err != nil {
				return err
			}
			if k > 0 {
				work <- textWork{evs: c.evs, base: c.base, isNew: isNew}
			}
			inserted += k
		}
		// The text commits beside the events.
		close(work)
		work = nil
		commit <- true
		return nil
	})
	if work != nil {
		close(work)
		commit <- false
	}
	terr := <-indexed
	if err != nil {
		return 0, fmt.Errorf("writing events: %w", err)
	}
	if terr != nil {
		// The events are stored without their text: the next write indexes
		// it from their documents first.
		s.textBehind = true
		return 0, fmt.Errorf("writing events: %w", terr)
	}
	return inserted, nil
}

type eventWriter struct {
	tx   *sql.Tx
	full *sql.Stmt // prepared for insertChunk rows
	find *sql.Stmt // findSeqsSQL
}

// eventChunk is up to insertChunk events, the first with seq base, and the
// arguments of their INSERT.
type eventChunk struct {
	evs  []event.Event
	base int64
	args []any
}

// ftsChunk bounds the events indexed by one full-text statement.
const ftsChunk = 10000

const (
	insertEventsSQL = `INSERT OR IGNORE INTO events (seq, id, time, received, product, category, service, host, doc,
		user_name, source_ip, event_action, event_outcome, db_name, db_user, db_operation, db_rows) VALUES `
	insertEventRow = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	findSeqsSQL    = `SELECT seq FROM events WHERE seq BETWEEN ? AND ?`
)

func rowsSQL(prefix, row, suffix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(suffix)
	return b.String()
}

// encodeChunks sends the batch, the first event with seq base and each next
// with the next seq, in encoded chunks, until done or stop is closed; then
// it closes chunks. docs, when not nil, are the events' documents.
func encodeChunks(batch []event.Event, docs []string, base int64, chunks chan<- eventChunk, stop <-chan struct{}) {
	defer close(chunks)
	var buf []byte
	for len(batch) > 0 {
		n := min(len(batch), insertChunk)
		c := eventChunk{evs: batch[:n], base: base}
		var chunkDocs []string
		if docs != nil {
			chunkDocs, docs = docs[:n], docs[n:]
		} else {
			chunkDocs, buf = encodeDocs(c.evs, buf)
		}
		c.args = insertArgs(c.evs, chunkDocs, base)
		select {
		case chunks <- c:
		case <-stop:
			return
		}
		batch, base = batch[n:], base+int64(n)
	}
}

// encodeDocs returns the JSON documents of evs, using buf for them.
func encodeDocs(evs []event.Event, buf []byte) ([]string, []byte) {
	buf = buf[:0]
	ends := make([]int, len(evs))
	for i := range evs {
		buf = evs[i].AppendJSON(buf)
		ends[i] = len(buf)
	}
	all := string(buf) // one allocation for the chunk's documents
	docs := make([]string, len(evs))
	start := 0
	for i, end := range ends {
		docs[i], start = all[start:end], end
	}
	return docs, buf
}

// insertArgs returns the INSERT arguments of evs with their documents, the
// first with seq base.
func insertArgs(evs []event.Event, docs []string, base int64) []any {
	args := make([]any, 0, len(evs)*(9+len(hotFields)))
	for i := range evs {
		e := &evs[i]
		args = append(args, base+int64(i), e.ID[:], nanos(e.Time), nanos(e.Received),
			e.Source.Product, e.Source.Category, e.Source.Service, hostOf(e), docs[i])
		for _, h := range hotFields {
			args = append(args, hotValue(e.Fields.Get(h.field)))
		}
	}
	return args
}

// insert inserts a chunk with one statement and returns which of its events
// were new (bit i for evs[i]) and how many.
func (w *eventWriter) insert(ctx context.Context, c eventChunk) (isNew uint64, inserted int, err error) {
	evs, base := c.evs, c.base
	var res sql.Result
	if len(evs) == insertChunk {
		res, err = w.tx.StmtContext(ctx, w.full).ExecContext(ctx, c.args...)
	} else {
		res, err = w.tx.ExecContext(ctx, rowsSQL(insertEventsSQL, insertEventRow, "", len(evs)), c.args...)
	}
	if err != nil {
		return 0, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, 0, err
	}
	if n == int64(len(evs)) {
		return 1<<len(evs) - 1, len(evs), nil // all new: the common case
	}
	if n == 0 {
		return 0, 0, nil
	}
	// Some were stored before: the new ones hold their seqs.
	rows, err := w.tx.StmtContext(ctx, w.find).QueryContext(ctx, base, base+int64(len(evs))-1)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return 0, 0, err
		}
		isNew |= 1 << (seq - base)
		inserted++
	}
	return isNew, inserted, rows.Err()
}

// hostOf is the host column: "host.name", its first value when an event
// carries several.
func hostOf(e *event.Event) string {
	v, ok := e.Fields.Get(event.FieldHost)
	if !ok {
		return ""
	}
	if v.Kind == event.KindList {
		if len(v.List) == 0 {
			return ""
		}
		return v.List[0].Str
	}
	return v.Str
}

// Query selects events.
type Query struct {
	// Q is a query string in the language of internal/query; empty matches
	// every event.
	Q string
	// From (inclusive) and To (exclusive) bound the event time; zero is open.
	From, To time.Time
	// Limit is the page size (default DefaultLimit, at most MaxLimit).
	Limit int
	// Cursor is the Next of the previous page.
	Cursor string
}

// Events returns the events that match q, newest first. A query that does
// not parse or cannot run is a *query.Error carrying its position; one that
// runs longer than Config.QueryTimeout fails with context.DeadlineExceeded.
func (s *Store) Events(ctx context.Context, q Query) (Page[event.Event], error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	node, err := query.Parse(q.Q)
	if err != nil {
		return Page[event.Event]{}, err
	}
	tr := translator{q: q.Q, now: s.cfg.Now()}
	if _, err := tr.node(node); err != nil {
		return Page[event.Event]{}, err
	}
	bounds, bargs, err := eventBounds(q)
	if err != nil {
		return Page[event.Event]{}, err
	}
	// The windows below count only events that the query's own time range
	// allows.
	winBounds, winArgs := bounds, bargs
	if lo, hi := tr.topTimeRange(node); lo != math.MinInt64 || hi != math.MaxInt64 {
		winBounds += ` AND e.time >= ? AND e.time < ?`
		winArgs = append(append([]any(nil), bargs...), lo, hi)
	}
	var common map[string]bool
	if len(tr.matches) > 0 {
		if common, err = s.commonMatches(ctx, tr.matches); err != nil {
			return Page[event.Event]{}, err
		}
	}
	n := limit(q.Limit)
	if len(common) > 0 {
		// A common word matches a large part of the store: search the newest
		// events first, in growing windows, so that FTS5 and SQLite handle
		// only the window's share of its matches.
		for _, size := range []int{s.cfg.SearchWindow, 10 * s.cfg.SearchWindow} {
			w, err := s.window(ctx, winBounds, winArgs, size)
			if err != nil {
				return Page[event.Event]{}, err
			}
			if w == nil {
				break // the window holds every candidate: search them all
			}
			page, err := s.search(ctx, q, node, common, w, bounds, bargs, n)
			if err != nil || page.Next != "" {
				return page, err
			}
		}
	}
	return s.search(ctx, q, node, common, nil, bounds, bargs, n)
}

// eventBounds is the condition of a query's time bounds and cursor.
func eventBounds(q Query) (string, []any, error) {
	cond := "1"
	var args []any
	if !q.From.IsZero() {
		cond += ` AND e.time >= ?`
		args = append(args, nanos(q.From))
	}
	if !q.To.IsZero() {
		cond += ` AND e.time < ?`
		args = append(args, nanos(q.To))
	}
	if q.Cursor != "" {
		key, _, err := decodeCursor(q.Cursor, 'e', 2, 0)
		if err != nil {
			return "", nil, err
		}
		cond += ` AND (e.time, e.seq) < (?, ?)`
		args = append(args, key[0], key[1])
	}
	return cond, args, nil
}

// window is the newest events within a query's bounds: every event with a
// time after minTime is among them, and has a seq of at least minSeq.
type window struct {
	minTime, minSeq int64
}

// window returns the window of the newest size events within bounds, or
// nil when there are not more than that.
func (s *Store) window(ctx context.Context, bounds string, args []any, size int) (*window, error) {
	var w window
	var count int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(min(time), 0), coalesce(min(seq), 0), count(*) FROM (
		SELECT e.time, e.seq FROM events e WHERE `+bounds+` ORDER BY e.time DESC, e.seq DESC LIMIT ?)`,
		append(append([]any(nil), args...), size)...).Scan(&w.minTime, &w.minSeq, &count)
	if err != nil {
		return nil, fmt.Errorf("searching events: %w", err)
	}
	if count < size {
		return nil, nil
	}
	return &w, nil
}

// search runs one query for a page of events, within window w if not nil.
func (s *Store) search(ctx context.Context, q Query, node query.Node, common map[string]bool, w *window,
	bounds string, bargs []any, n int) (Page[event.Event], error) {
	var page Page[event.Event]
	tr := translator{q: q.Q, now: s.cfg.Now(), common: common}
	if w != nil {
		tr.minSeq = w.minSeq
	}
	where, err := tr.node(node)
	if err != nil {
		return page, err
	}
	// The translator's placeholders are numbered; the plain ones below
	// follow them.
	stmt := `SELECT e.seq, e.time, e.doc FROM events e WHERE (` + where + `) AND ` + bounds
	args := append(tr.args, bargs...)
	if w != nil {
		// Strictly after the window's oldest time: every such event is in it.
		stmt += ` AND e.time > ?`
		args = append(args, w.minTime)
	}
	stmt += ` ORDER BY e.time DESC, e.seq DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := s.r.QueryContext(ctx, stmt, args...)
	if err != nil {
		return page, fmt.Errorf("searching events: %w", err)
	}
	defer rows.Close()
	var lastTime, lastSeq int64
	var doc []byte
	for rows.Next() {
		if len(page.Items) == n {
			page.Next = encodeCursor('e', []int64{lastTime, lastSeq}, nil)
			break
		}
		if err := rows.Scan(&lastSeq, &lastTime, &doc); err != nil {
			return page, fmt.Errorf("searching events: %w", err)
		}
		ev, err := event.DecodeJSON(doc)
		if err != nil {
			return page, fmt.Errorf("decoding stored event %d: %w", lastSeq, err)
		}
		page.Items = append(page.Items, ev)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("searching events: %w", err)
	}
	return page, nil
}

// commonThreshold is the number of matching events from which a full-text
// expression filters a scan by time instead of driving the query.
const commonThreshold = 5000

// commonMatches returns the full-text expressions that match at least
// commonThreshold events. Counting stops there, so it costs little.
func (s *Store) commonMatches(ctx context.Context, exprs []string) (map[string]bool, error) {
	var common map[string]bool
	for _, e := range exprs {
		var n int
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM events_fts WHERE events_fts MATCH ? LIMIT ?)`,
			e, commonThreshold).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("searching events: %w", err)
		}
		if n >= commonThreshold {
			if common == nil {
				common = map[string]bool{}
			}
			common[e] = true
		}
	}
	return common, nil
}

// eventsByID returns the stored events among ids, oldest first.
func (s *Store) eventsByID(ctx context.Context, stmt string, args ...any) ([]event.Event, error) {
	rows, err := s.r.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []event.Event
	var doc []byte
	for rows.Next() {
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		ev, err := event.DecodeJSON(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// foldText prepares text for the full-text index and for full-text queries.
// FTS5 folds case and diacritics, but the Vietnamese đ is a letter of its
// own, not a d with a mark: analysts type "dang nhap" for "đăng nhập", so
// it is folded here, on both sides.
func foldText(s string) string {
	if !strings.ContainsAny(s, "đĐ") {
		return s
	}
	return strings.NewReplacer("đ", "d", "Đ", "D").Replace(s)
}
