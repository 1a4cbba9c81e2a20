package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/danang-soc/vigil/internal/query/match"
)

// FieldStatement is the database statement field, indexed for full text
// beside the message.
const FieldStatement = "db.statement"

// ErrNoID is returned for an event or alert written without an ID: IDs are
// assigned at ingest and are the idempotency key, so the store never makes
// one up.
var ErrNoID = errors.New("no id")

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
	if len(batch) == 0 {
		return 0, nil
	}
	if docs == nil {
		docs, _ = encodeDocs(batch, nil)
	}
	for i, d := range docs {
		if len(d) > maxEventDoc {
			return 0, fmt.Errorf("writing events: event %d: %d bytes, over the %d a stored event may have", i, len(d), maxEventDoc)
		}
	}
	order, hosts := blockOrder(batch)
	s.textMu.Lock()
	defer s.textMu.Unlock()
	if s.textBehind {
		if err := s.repairText(ctx); err != nil {
			return 0, fmt.Errorf("writing events: %w", err)
		}
	}
	// Seqs are given here, never again, whether or not the commit succeeds:
	// text indexed for a block whose commit is lost then never names
	// another.
	base := s.seq + 1
	s.seq += int64(len(batch))
	work := make(chan textWork, 4)
	commit := make(chan bool, 1)
	indexed := make(chan error, 1)
	go func(work <-chan textWork, upTo int64) { indexed <- s.indexText(ctx, work, commit, nil, upTo) }(work, s.seq)
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if inserted, err = s.writeBlocks(ctx, tx, batch, docs, order, hosts, base, work); err != nil {
			return err
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

// insertChunk is how many IDs one INSERT statement carries.
const insertChunk = 64

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

// encodeDocs returns the JSON documents of evs, using buf for them.
func encodeDocs(evs []event.Event, buf []byte) ([]string, []byte) {
	buf = buf[:0]
	ends := make([]int, len(evs))
	for i := range evs {
		buf = evs[i].AppendJSON(buf)
		ends[i] = len(buf)
	}
	all := string(buf) // one allocation for the documents
	docs := make([]string, len(evs))
	start := 0
	for i, end := range ends {
		docs[i], start = all[start:end], end
	}
	return docs, buf
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

// search is a compiled query over the blocks: the matcher decides on each
// event, the scan chooses the blocks to read.
type search struct {
	m    *match.Matcher
	all  bool // the query matches every event: no need to decode one
	scan newestScan
}

// matches reports whether an event the scan read matches, decoding only
// the fields the query reads.
func (sr *search) matches(e *blockEvent) (bool, error) {
	if sr.all || e.matches {
		return true, nil
	}
	ev, err := event.DecodeJSONKeys(e.doc, sr.m.Reads)
	if err != nil {
		return false, fmt.Errorf("decoding stored event %d: %w", e.seq, err)
	}
	return sr.m.Match(&ev), nil
}

// compile parses and compiles q, and bounds its scan by the time range
// [from, to) (zero: open) and the query's own; the scan reads with rd.
func (s *Store) compile(ctx context.Context, rd reader, q string, from, to time.Time) (search, error) {
	sr := search{scan: newestScan{rd: rd}}
	node, err := query.Parse(q)
	if err != nil {
		return sr, err
	}
	now := s.cfg.Now()
	if sr.m, err = match.Compile(node, q, now); err != nil {
		return sr, err
	}
	_, sr.all = node.(*query.MatchAll)
	sr.scan.needles = needles(node)
	sr.scan.hosts = hostSets(node)
	sr.scan.hostsOnly = hostsOnly(node)
	sr.scan.lo, sr.scan.hi = sr.m.TimeBounds()
	if !from.IsZero() {
		sr.scan.lo = max(sr.scan.lo, from.UnixNano())
	}
	if !to.IsZero() {
		sr.scan.hi = min(sr.scan.hi, to.UnixNano())
	}
	if expr, ok := pruneExpr(node); ok {
		blocks, err := textBlocks(ctx, rd, expr, sr.scan.lo, sr.scan.hi)
		if err != nil {
			return sr, err
		}
		if blocks != nil {
			sr.scan.candidates = func(first int64) bool { _, ok := blocks[first]; return ok }
		}
	}
	return sr, nil
}

// maxCandidates bounds the blocks a search keeps from the full-text index:
// beyond, it reads every block in its time range, as a search without full
// text does, rather than hold a set that large.
var maxCandidates = 1 << 20

// textBlocks returns the blocks among those of the time range [lo, hi)
// whose text matches a full-text expression; nil when there are more than
// maxCandidates.
func textBlocks(ctx context.Context, rd reader, expr string, lo, hi int64) (map[int64]struct{}, error) {
	// The index is read over the range of first seqs of the time range's
	// blocks, which FTS5 seeks to.
	var first, last sql.NullInt64
	if err := rd.QueryRowContext(ctx, `SELECT min(first_seq), max(first_seq) FROM event_blocks WHERE max_time >= ? AND min_time < ?`,
		lo, hi).Scan(&first, &last); err != nil {
		return nil, fmt.Errorf("searching events: %w", err)
	}
	out := map[int64]struct{}{}
	if !first.Valid {
		return out, nil
	}
	rows, err := rd.QueryContext(ctx, `SELECT rowid FROM blocks_fts WHERE blocks_fts MATCH ? AND rowid BETWEEN ? AND ?`,
		expr, first.Int64, last.Int64)
	if err != nil {
		return nil, fmt.Errorf("searching events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if len(out) == maxCandidates {
			return nil, nil
		}
		var first int64
		if err := rows.Scan(&first); err != nil {
			return nil, fmt.Errorf("searching events: %w", err)
		}
		out[first] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("searching events: %w", err)
	}
	return out, nil
}

// pruneExpr is a full-text expression that every block holding an event
// that matches n matches too, when there is one: the full-text terms that
// n requires. A block's text is the text of all its events, so an
// expression can match a block and none of its events: the matcher decides.
func pruneExpr(n query.Node) (string, bool) {
	switch n := n.(type) {
	case *query.Term:
		return ftsExpr(n)
	case *query.And:
		var parts []string
		for _, c := range n.Nodes {
			if e, ok := pruneExpr(c); ok {
				parts = append(parts, "("+e+")")
			}
		}
		if len(parts) == 0 {
			return "", false
		}
		return strings.Join(parts, " AND "), true
	case *query.Or:
		parts := make([]string, 0, len(n.Nodes))
		for _, c := range n.Nodes {
			e, ok := pruneExpr(c)
			if !ok {
				return "", false // a branch without text: any block may match
			}
			parts = append(parts, "("+e+")")
		}
		return strings.Join(parts, " OR "), true
	}
	return "", false
}

// Events returns the events that match q, newest first. A query that does
// not parse or cannot run is a *query.Error carrying its position; one that
// runs longer than Config.QueryTimeout fails with context.DeadlineExceeded.
func (s *Store) Events(ctx context.Context, q Query) (Page[event.Event], error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var page Page[event.Event]
	err := s.snapshot(ctx, func(rd reader) (err error) {
		page, err = s.events(ctx, rd, q)
		return err
	})
	return page, err
}

func (s *Store) events(ctx context.Context, rd reader, q Query) (Page[event.Event], error) {
	var page Page[event.Event]
	sr, err := s.compile(ctx, rd, q.Q, q.From, q.To)
	if err != nil {
		return page, err
	}
	if q.Cursor != "" {
		key, _, err := decodeCursor(q.Cursor, 'e', 2, 0)
		if err != nil {
			return page, err
		}
		sr.scan.below, sr.scan.bTime, sr.scan.bSeq = true, key[0], key[1]
	}
	n := limit(q.Limit)
	var lastTime, lastSeq int64
	err = sr.scan.run(ctx, func(e *blockEvent) (bool, error) {
		ok, err := sr.matches(e)
		if err != nil || !ok {
			return err == nil, err
		}
		if len(page.Items) == n {
			page.Next = encodeCursor('e', []int64{lastTime, lastSeq}, nil)
			return false, nil
		}
		ev, err := event.DecodeJSON(e.doc)
		if err != nil {
			return false, fmt.Errorf("decoding stored event %d: %w", e.seq, err)
		}
		page.Items = append(page.Items, ev)
		lastTime, lastSeq = e.time, e.seq
		return true, nil
	})
	if err != nil {
		return Page[event.Event]{}, fmt.Errorf("searching events: %w", err)
	}
	return page, nil
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
