package store

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query/match"
	"github.com/klauspost/compress/s2"
)

// Events are stored in blocks (migration 8): up to blockSize events, close
// in time, whose documents (each event as event.AppendJSON writes it) are
// compressed together in a row of event_block_data, beside a small row of
// event_blocks with the range of their seqs and times and the hosts they
// name. Beside the blocks, event_ids maps every stored event's ID to its
// seq: it makes writes idempotent and finds an event by ID. The full-text
// index (text.go) indexes a block's messages and statements as one
// document, whose rowid is the block's first seq.
//
// A block costs SQLite two rows, a few index entries and one full-text
// document for many events, where a row per event cost a row, three index
// entries and a full-text document each: writing is about three times
// cheaper, which is what lets one machine take 100,000 events a second.
// The price is paid by searches, which read whole blocks and test each
// event with the compiled query (internal/query/match): block times, hosts
// and the full-text index choose the blocks to read (events.go), needles
// skip events undecoded (needles.go), the matcher decides.
//
// Seqs are given in order of writing: a block holds seqs first_seq to
// last_seq, not all of them (a duplicate keeps none), and no other block
// holds seqs in that range. Within a batch, events are ordered by minute,
// host and time before they are cut into blocks (blockOrder), so that a
// block holds few hosts (a search for a host reads only the blocks that
// hold it) over a short time (a newest-first search reads few blocks ahead
// of what it returns). Prune merges small blocks (compact.go).

// blockSize is the most events one block holds: large enough that the
// per-row costs vanish and the documents compress well, small enough that
// finding one event decodes little.
const blockSize = 128

// minHostBlock is the fewest events after which a block ends where the
// host changes, if it holds one host or the next host has as many events:
// a block of one host is taken whole by searches for it.
const minHostBlock = 32

// blockFormat is the first byte of a block's data: the layout below,
// compressed with S2 (its block format).
//
//	uvarint count
//	count × (id [16]byte, uvarint seq - previous seq, varint time - previous time, uvarint len(doc))
//	the documents, one after the other
//
// The first event's previous seq is the block's first_seq, its previous
// time 0.
const blockFormat = 1

// blockBytes ends a block whose documents reach it: large events make
// small blocks, and a block is decoded whole.
const blockBytes = 8 << 20

// maxEventDoc bounds the document of one event the store takes (ingest
// takes events of up to 4 MiB).
const maxEventDoc = 64 << 20

// maxBlockData bounds the decoded size of one block, against a corrupt
// length: a block holds at most blockBytes of documents and one more
// event, and their headers.
const maxBlockData = blockBytes + maxEventDoc + 1<<20

// blockEvent is one event of a block: its place, ID and document.
type blockEvent struct {
	seq, time int64
	id        event.ID
	doc       []byte
	// matches is set by a scan that knows the event matches its query from
	// its block's row alone (newestScan.blockMatches).
	matches bool
}

// appendBlockData appends the stored form of evs to dst.
func appendBlockData(dst []byte, first int64, evs []blockEvent, scratch []byte) (data, scratchOut []byte) {
	raw := binary.AppendUvarint(scratch[:0], uint64(len(evs)))
	prevSeq, prevTime := first, int64(0)
	for i := range evs {
		e := &evs[i]
		raw = append(raw, e.id[:]...)
		raw = binary.AppendUvarint(raw, uint64(e.seq-prevSeq))
		raw = binary.AppendVarint(raw, e.time-prevTime)
		raw = binary.AppendUvarint(raw, uint64(len(e.doc)))
		prevSeq, prevTime = e.seq, e.time
	}
	for i := range evs {
		raw = append(raw, evs[i].doc...)
	}
	dst = append(dst, blockFormat)
	n := len(dst)
	dst = slices.Grow(dst, s2.MaxEncodedLen(len(raw)))
	enc := s2.Encode(dst[n:cap(dst)], raw)
	return dst[:n+len(enc)], raw
}

// errBlock is the error of a block that does not decode.
var errBlock = errors.New("corrupt event block")

// decodeBlock decodes the data of the block whose first seq is first. The
// documents alias buf, which it returns for reuse.
func decodeBlock(first int64, data, buf []byte) ([]blockEvent, []byte, error) {
	if len(data) == 0 || data[0] != blockFormat {
		return nil, buf, fmt.Errorf("%w %d: unknown format", errBlock, first)
	}
	n, err := s2.DecodedLen(data[1:])
	if err != nil {
		return nil, buf, fmt.Errorf("%w %d: %v", errBlock, first, err)
	}
	if n > maxBlockData {
		return nil, buf, fmt.Errorf("%w %d: %d bytes, over %d", errBlock, first, n, maxBlockData)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	raw, err := s2.Decode(buf[:cap(buf)], data[1:])
	if err != nil {
		return nil, buf, fmt.Errorf("%w %d: %v", errBlock, first, err)
	}
	count, k := binary.Uvarint(raw)
	if k <= 0 || count > uint64(len(raw))/19 { // an event takes at least 19 bytes of header
		return nil, buf, fmt.Errorf("%w %d: bad count", errBlock, first)
	}
	raw = raw[k:]
	evs := make([]blockEvent, count)
	lens := make([]uint64, count)
	prevSeq, prevTime := first, int64(0)
	for i := range evs {
		e := &evs[i]
		if len(raw) < 16 {
			return nil, buf, fmt.Errorf("%w %d: short header", errBlock, first)
		}
		copy(e.id[:], raw)
		raw = raw[16:]
		ds, a := binary.Uvarint(raw)
		if a <= 0 {
			return nil, buf, fmt.Errorf("%w %d: bad seq", errBlock, first)
		}
		dt, b := binary.Varint(raw[a:])
		if b <= 0 {
			return nil, buf, fmt.Errorf("%w %d: bad time", errBlock, first)
		}
		l, c := binary.Uvarint(raw[a+b:])
		if c <= 0 {
			return nil, buf, fmt.Errorf("%w %d: bad length", errBlock, first)
		}
		raw = raw[a+b+c:]
		e.seq, e.time = prevSeq+int64(ds), prevTime+dt
		prevSeq, prevTime = e.seq, e.time
		lens[i] = l
	}
	for i, l := range lens {
		if l > uint64(len(raw)) {
			return nil, buf, fmt.Errorf("%w %d: documents overrun", errBlock, first)
		}
		evs[i].doc, raw = raw[:l:l], raw[l:]
	}
	if len(raw) != 0 {
		return nil, buf, fmt.Errorf("%w %d: documents do not fill the block", errBlock, first)
	}
	return evs, buf, nil
}

// blockRef is a block's row without its data.
type blockRef struct {
	first, last      int64
	minTime, maxTime int64
}

// Reading block data, by first seq.
const blockDataSQL = `SELECT data FROM event_block_data WHERE first_seq = ?`

// readBlock returns the events of a block; none if it is gone.
func readBlock(ctx context.Context, q reader, first int64, buf []byte) ([]blockEvent, []byte, error) {
	var data []byte
	err := q.QueryRowContext(ctx, blockDataSQL, first).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, buf, nil // pruned since the caller saw it
	}
	if err != nil {
		return nil, buf, fmt.Errorf("reading event block %d: %w", first, err)
	}
	return decodeBlock(first, data, buf)
}

// reader reads the store: a read transaction (Store.snapshot), so that a
// search sees one state of the store however long it reads, whatever Prune
// and compaction commit meanwhile, and holds one connection.
type reader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// snapshot runs fn in one read transaction (a deferred BEGIN: the
// connections' _txlock=immediate is for writers).
func (s *Store) snapshot(ctx context.Context, fn func(rd reader) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("reading the store: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// newestScan reads the events of the blocks within a time range newest
// first, by (time, seq) descending, as a merge of the blocks: an event is
// given once no block yet to be read can hold a newer one.
type newestScan struct {
	rd reader
	// lo and hi bound event times, [lo, hi); below, when set, only events
	// before (time, seq) are read.
	lo, hi     int64
	below      bool
	bTime      int64
	bSeq       int64
	candidates func(first int64) bool // nil: every block
	// needles are what the document of every event wanted holds
	// (needles.go); an event without them is not read.
	needles []needle
	// hosts are sets of hosts (ASCII lower-case), one of each of which a
	// block must hold to be read.
	hosts   [][]string
	scratch []byte
	// hostsOnly is set when the query asks nothing but hosts and its time
	// bounds: then every event of a block of one of its hosts matches.
	hostsOnly bool
	// blocksRead counts the blocks the scan decoded.
	blocksRead int
	buf        []byte
}

// wants reports whether the scan reads the event: within its time range,
// before its cursor, and holding its needles.
func (sc *newestScan) wants(e *blockEvent) bool {
	if e.time < sc.lo || e.time >= sc.hi {
		return false
	}
	if sc.below && (e.time > sc.bTime || e.time == sc.bTime && e.seq >= sc.bSeq) {
		return false
	}
	if e.matches {
		return true
	}
	var ok bool
	ok, sc.scratch = holdsNeedles(e.doc, sc.needles, sc.scratch)
	return ok
}

// eventHeap orders events newest first.
type eventHeap []blockEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	return h[i].time > h[j].time || h[i].time == h[j].time && h[i].seq > h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(blockEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// run calls fn with each event, newest first, until fn returns false or
// an error, or the events run out.
func (sc *newestScan) run(ctx context.Context, fn func(e *blockEvent) (more bool, err error)) error {
	var h eventHeap
	// Blocks are decoded into buffers of their own: the heap keeps
	// documents of several blocks.
	emit := func(newerThan int64, all bool) (bool, error) {
		for len(h) > 0 && (all || h[0].time > newerThan) {
			e := heap.Pop(&h).(blockEvent)
			more, err := fn(&e)
			if err != nil || !more {
				return false, err
			}
		}
		return true, nil
	}
	err := sc.eachBlock(ctx, true, func(b *blockRow) (bool, error) {
		if more, err := emit(b.maxTime, false); err != nil || !more {
			return false, err
		}
		evs, err := sc.read(ctx, b, false) // the heap keeps them
		if err != nil || evs == nil {
			return true, err
		}
		for i := range evs {
			if sc.wants(&evs[i]) {
				heap.Push(&h, evs[i])
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	_, err = emit(0, true)
	return err
}

// read returns the events of a block the scan should read, or nil. With
// reuse, their documents are in a buffer that the next read overwrites.
func (sc *newestScan) read(ctx context.Context, b *blockRow, reuse bool) (evs []blockEvent, err error) {
	var buf []byte
	if reuse {
		buf = sc.buf
	}
	switch {
	case sc.candidates != nil && !sc.candidates(b.first):
		return nil, nil
	case b.data != nil:
		evs, buf, err = decodeBlock(b.first, b.data, buf)
	default:
		evs, buf, err = readBlock(ctx, sc.rd, b.first, buf)
	}
	if reuse {
		sc.buf = buf
	}
	if err != nil {
		return nil, err
	}
	sc.blocksRead++
	if sc.blockMatches(b.hosts) {
		for i := range evs {
			evs[i].matches = true
		}
	}
	return evs, nil
}

// blockMatches reports whether every event of a block whose host summary
// is hosts, and within the scan's time range, matches its query: the query
// asks nothing but hosts and time bounds, and the block holds one host,
// one of each set.
func (sc *newestScan) blockMatches(hosts []byte) bool {
	if !sc.hostsOnly || len(hosts) == 0 || bytes.IndexByte(hosts, 0) != len(hosts)-1 {
		return false
	}
	host := string(hosts[:len(hosts)-1])
	for _, set := range sc.hosts {
		if !slices.Contains(set, host) {
			return false
		}
	}
	return true
}

// blockRow is a block's row as eachBlock reads it: data only when the scan
// has no full text to choose blocks by.
type blockRow struct {
	blockRef
	count int
	hosts []byte
	data  []byte
}

// blockPage is how many blocks eachBlock reads per statement.
const blockPage = 64

// eachBlock calls fn with the blocks whose times meet the scan's range and
// that hold its hosts, newest (by their newest event) first, until fn
// returns false or an error. With data, the rows carry the blocks' data
// unless full text chooses the blocks to read. It reads the rows a page per
// statement, and calls fn between statements, so that fn may read too.
// Pages grow from a few rows, since a first page of events often needs one
// block.
func (sc *newestScan) eachBlock(ctx context.Context, data bool, fn func(b *blockRow) (bool, error)) error {
	inline := data && sc.candidates == nil
	// CROSS JOIN keeps event_blocks the outer loop, read in the order of
	// its index.
	cols, from := `b.first_seq, last_seq, min_time, max_time, count, hosts`, `event_blocks b`
	if inline {
		cols += `, d.data`
		from += ` CROSS JOIN event_block_data d ON d.first_seq = b.first_seq`
	}
	cond, args := `max_time >= ? AND min_time < ?`, []any{sc.lo, sc.hi}
	if sc.below {
		cond += ` AND min_time <= ?`
		args = append(args, sc.bTime)
	}
	// A block holds one host of each set if its summary (each host
	// followed by a NUL) names it, or names none (not known).
	for _, set := range sc.hosts {
		ors := []string{`hosts = x''`}
		for _, h := range set {
			ors = append(ors, `instr(x'00' || hosts, x'00' || CAST(? AS BLOB) || x'00') > 0`)
			args = append(args, h)
		}
		cond += ` AND (` + strings.Join(ors, " OR ") + `)`
	}
	var page []blockRow
	var after *blockRow
	for size := 4; ; size = min(2*size, blockPage) {
		q, qargs := cond, args
		if after != nil {
			q += ` AND (max_time, b.first_seq) < (?, ?)`
			qargs = append(slices.Clone(args), after.maxTime, after.first)
		}
		rows, err := sc.rd.QueryContext(ctx, `SELECT `+cols+` FROM `+from+`
			WHERE `+q+` ORDER BY max_time DESC, b.first_seq DESC LIMIT `+strconv.Itoa(size), qargs...)
		if err != nil {
			return fmt.Errorf("reading events: %w", err)
		}
		page = page[:0]
		for rows.Next() {
			var b blockRow
			dest := []any{&b.first, &b.last, &b.minTime, &b.maxTime, &b.count, &b.hosts}
			if inline {
				dest = append(dest, &b.data)
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("reading events: %w", err)
			}
			page = append(page, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading events: %w", err)
		}
		for i := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			if more, err := fn(&page[i]); err != nil || !more {
				return err
			}
		}
		if len(page) < size {
			return nil
		}
		last := page[len(page)-1]
		after = &last
	}
}

const (
	insertIDsSQL   = `INSERT OR IGNORE INTO event_ids (id, seq) VALUES `
	insertIDRow    = "(?,?)"
	findIDSQL      = `SELECT seq FROM event_ids WHERE id = ?`
	insertBlockSQL = `INSERT INTO event_blocks (first_seq, last_seq, count, min_time, max_time, max_received, hosts) VALUES (?,?,?,?,?,?,?)`
	insertDataSQL  = `INSERT INTO event_block_data (first_seq, data) VALUES (?,?)`
)

// writeBlocks stores the events of batch in order (a permutation of the
// batch by time), the event order[k] with seq base+k, and sends the text of
// each block to texts, unless nil. It returns how many were new.
func (s *Store) writeBlocks(ctx context.Context, tx *sql.Tx, batch []event.Event, docs []string, order []int32, hosts []string,
	base int64, texts chan<- textWork) (inserted int, err error) {
	isNew := make([]bool, len(order))
	args := make([]any, 0, 2*insertChunk)
	for c := 0; c < len(order); c += insertChunk {
		n := min(insertChunk, len(order)-c)
		args = args[:0]
		for k := c; k < c+n; k++ {
			args = append(args, batch[order[k]].ID[:], base+int64(k))
		}
		var res sql.Result
		if n == insertChunk {
			res, err = tx.StmtContext(ctx, s.insIDs).ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, rowsSQL(insertIDsSQL, insertIDRow, "", n), args...)
		}
		if err != nil {
			return 0, err
		}
		m, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		if m == int64(n) { // all new: the common case
			for k := c; k < c+n; k++ {
				isNew[k] = true
			}
			inserted += n
			continue
		}
		// Some were stored before, or twice in this batch: the new ones hold
		// their seqs.
		find := tx.StmtContext(ctx, s.findID)
		for k := c; k < c+n; k++ {
			var seq int64
			if err := find.QueryRowContext(ctx, batch[order[k]].ID[:]).Scan(&seq); err != nil {
				return 0, err
			}
			if seq == base+int64(k) {
				isNew[k] = true
				inserted++
			}
		}
	}
	// The host of each event in order, and how many events from it on
	// share it.
	runs := make([]int, len(order))
	for k := len(order) - 1; k >= 0; k-- {
		runs[k] = 1
		if k+1 < len(order) && hosts[k+1] == hosts[k] {
			runs[k] += runs[k+1]
		}
	}
	var rates rateCounts
	for k := range order {
		if isNew[k] {
			rates.add(&batch[order[k]], 1)
		}
	}
	if err := rates.write(ctx, tx); err != nil {
		return 0, err
	}
	evs := make([]blockEvent, 0, blockSize)
	var data, scratch, text []byte
	var summary blockHosts
	ins, insData := tx.StmtContext(ctx, s.insBlock), tx.StmtContext(ctx, s.insData)
	for k := 0; k < len(order); {
		evs = evs[:0]
		summary.reset()
		var maxRecv int64
		var host string
		mixed, size := false, 0
		for ; k < len(order) && len(evs) < blockSize && size < blockBytes; k++ {
			if !isNew[k] {
				continue
			}
			e := &batch[order[k]]
			h := hosts[k]
			if len(evs) > 0 && h != host {
				// A block of one host is taken whole by searches for it: it
				// ends where its host does, and a long run of a host starts
				// a block of its own; short runs share blocks.
				if len(evs) >= minHostBlock && (!mixed || runs[k] >= minHostBlock) {
					break
				}
				mixed = true
			}
			host = h
			evs = append(evs, blockEvent{seq: base + int64(k), time: nanos(e.Time), id: e.ID, doc: []byte(docs[order[k]])})
			size += len(docs[order[k]])
			maxRecv = max(maxRecv, nanos(e.Received))
			summary.add(h)
		}
		if len(evs) == 0 {
			break
		}
		first, last := evs[0].seq, evs[len(evs)-1].seq
		minT, maxT := evs[0].time, evs[0].time
		for _, e := range evs[1:] {
			minT, maxT = min(minT, e.time), max(maxT, e.time)
		}
		data, scratch = appendBlockData(data[:0], first, evs, scratch)
		if _, err := ins.ExecContext(ctx, first, last, len(evs), minT, maxT, maxRecv, summary.summary()); err != nil {
			return 0, err
		}
		if _, err := insData.ExecContext(ctx, first, data); err != nil {
			return 0, err
		}
		if texts == nil {
			continue
		}
		if text = appendBlockText(text[:0], first, batch, order, isNew, k, len(evs)); len(text) > 0 {
			texts <- textWork{text: closeText(slices.Clone(text))}
		}
	}
	return inserted, nil
}

// appendBlockText appends the full-text row of the block that ends before
// order[end] and holds n new events.
func appendBlockText(text []byte, first int64, batch []event.Event, order []int32, isNew []bool, end, n int) []byte {
	var msgs, stmts []byte
	for k := end - 1; n > 0 && k >= 0; k-- {
		if !isNew[k] {
			continue
		}
		n--
		e := &batch[order[k]]
		msgs = appendLine(msgs, e.Fields.Str(event.FieldMessage))
		stmts = appendLine(stmts, e.Fields.Str(FieldStatement))
	}
	return appendText(text, first, string(msgs), string(stmts))
}

// docText is s as its document gives it back (event.AppendJSON): each
// byte that is not UTF-8 as U+FFFD. Searches read documents, so what the
// store notes of an event (its hosts, its text) must be read so too.
func docText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// appendLine appends s and a line feed to b, s folded for the full-text
// index; nothing for an empty s. The order of the lines does not matter.
func appendLine(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	return append(append(b, foldText(docText(s))...), '\n')
}

// blockText is the full-text row of decoded events, as appendBlockText
// makes it.
func blockText(text []byte, first int64, evs []blockEvent) ([]byte, error) {
	var msgs, stmts []byte
	for i := range evs {
		ev, err := event.DecodeJSON(evs[i].doc)
		if err != nil {
			return text, fmt.Errorf("event %d: %w", evs[i].seq, err)
		}
		msgs = appendLine(msgs, ev.Fields.Str(event.FieldMessage))
		stmts = appendLine(stmts, ev.Fields.Str(FieldStatement))
	}
	return appendText(text, first, string(msgs), string(stmts)), nil
}

// hostWindow is the span of event time within which a batch's events are
// grouped by host.
const hostWindow = int64(time.Minute)

// blockOrder returns the permutation of batch in which it is cut into
// blocks: by minute of event time, then host, then time (stable). A batch
// of live events (a few seconds) is then grouped by host, so that a block
// holds few hosts and a search for a host reads few blocks; a batch that
// spans hours (a backlog) stays in time order, so that a block spans little
// time and a newest-first search reads few blocks ahead of what it returns.
// It returns the host of each event in that order too.
func blockOrder(batch []event.Event) (order []int32, hosts []string) {
	type key struct {
		window, time int64
		host         string
	}
	order = make([]int32, len(batch))
	keys := make([]key, len(batch))
	for i := range order {
		order[i] = int32(i)
		t := nanos(batch[i].Time)
		keys[i] = key{window: floorDiv(t, hostWindow), time: t, host: match.Host(&batch[i])}
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		ka, kb := &keys[a], &keys[b]
		if c := cmp.Compare(ka.window, kb.window); c != 0 {
			return c
		}
		if c := strings.Compare(ka.host, kb.host); c != 0 {
			return c
		}
		return cmp.Compare(ka.time, kb.time)
	})
	hosts = make([]string, len(order))
	for k, i := range order {
		hosts[k] = keys[i].host
	}
	return order, hosts
}

// floorDiv is a/b rounded down.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// maxBlockHosts is the most hosts a block's summary names; a block of more
// is read by every search for a host.
const maxBlockHosts = 16

// blockHosts gathers the hosts of a block's events as searches compare
// them (the host column of the query language: ASCII case aside, see
// match): its summary is each host, ASCII lower-case, followed by a NUL;
// nil, meaning any host, when there are too many or one holds a NUL.
type blockHosts struct {
	seen    []string
	unknown bool
	last    string // the last host added, as given: most follow the same
	any     bool   // one was added
}

func (h *blockHosts) reset() { h.seen, h.unknown, h.any = h.seen[:0], false, false }

func (h *blockHosts) add(host string) {
	if h.unknown || h.any && host == h.last {
		return
	}
	h.last, h.any = host, true
	host = string(lowerASCII(nil, []byte(docText(host))))
	if strings.IndexByte(host, 0) >= 0 {
		h.unknown = true
		return
	}
	if slices.Contains(h.seen, host) {
		return
	}
	if len(h.seen) == maxBlockHosts {
		h.unknown = true
		return
	}
	h.seen = append(h.seen, host)
}

func (h *blockHosts) summary() []byte {
	if h.unknown {
		return []byte{}
	}
	var b []byte
	for _, s := range h.seen {
		b = append(append(b, s...), 0)
	}
	return b
}

// eventsBySeq returns the stored events of seqs (sorted), in that order;
// seqs no block holds are left out.
func eventsBySeq(ctx context.Context, rd reader, seqs []int64) ([]blockEvent, error) {
	var out []blockEvent
	for i := 0; i < len(seqs); {
		var first, last int64
		err := rd.QueryRowContext(ctx, `SELECT first_seq, last_seq FROM event_blocks WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1`,
			seqs[i]).Scan(&first, &last)
		if errors.Is(err, sql.ErrNoRows) || err == nil && last < seqs[i] {
			i++
			continue
		}
		if err != nil {
			return nil, err
		}
		evs, _, err := readBlock(ctx, rd, first, nil)
		if err != nil {
			return nil, err
		}
		for ; i < len(seqs) && seqs[i] <= last; i++ {
			if j, ok := slices.BinarySearchFunc(evs, seqs[i], func(e blockEvent, seq int64) int { return cmp.Compare(e.seq, seq) }); ok {
				out = append(out, evs[j])
			}
		}
	}
	return out, nil
}

// topSeq returns the highest seq the events file has given: of its blocks,
// or of the events of schema 7 not yet moved into blocks.
func (s *Store) topSeq(ctx context.Context) (int64, error) {
	var top int64
	if err := s.w.QueryRowContext(ctx, `SELECT coalesce(max(last_seq), 0) FROM event_blocks`).Scan(&top); err != nil {
		return 0, fmt.Errorf("reading the last event: %w", err)
	}
	old, err := s.hasRows(ctx)
	if err != nil || !old {
		return top, err
	}
	var v7 int64
	if err := s.w.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events_v7`).Scan(&v7); err != nil {
		return 0, fmt.Errorf("reading the last event: %w", err)
	}
	return max(top, v7), nil
}

// hasRows reports whether the events table of schema 7 is still there.
func (s *Store) hasRows(ctx context.Context) (bool, error) {
	var n int
	err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events_v7'`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading the schema: %w", err)
	}
	return n > 0, nil
}

// convertPage is how many events of schema 7 one transaction moves.
const convertPage = 5000

// convertRows moves the events of schema 7, one row each, into blocks, a
// page per transaction (each page leaves the old table as it moves into
// the new, so a crash loses nothing and repeats nothing), then drops the
// old table. Their text is indexed afterwards, as that of blocks written
// without it (catchUpText).
func (s *Store) convertRows(ctx context.Context) error {
	old, err := s.hasRows(ctx)
	if err != nil || !old {
		return err
	}
	var total int64
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM events_v7`).Scan(&total); err != nil {
		return fmt.Errorf("moving events into blocks: %w", err)
	}
	if total > 0 {
		s.log.Info("moving stored events into blocks (schema 8)", "events", total, "path", s.cfg.Path)
	}
	for moved := int64(0); ; {
		n, err := s.convertPage(ctx)
		if err != nil {
			return fmt.Errorf("moving events into blocks: %w", err)
		}
		if n == 0 {
			break
		}
		moved += int64(n)
		if moved%(20*convertPage) == 0 {
			s.log.Info("moving stored events into blocks", "moved", moved, "of", total)
		}
	}
	if _, err := s.w.ExecContext(ctx, `DROP TABLE events_v7`); err != nil {
		return fmt.Errorf("moving events into blocks: %w", err)
	}
	return nil
}

// convertPage moves the oldest page of schema 7 events and returns how
// many it read.
func (s *Store) convertPage(ctx context.Context) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT seq, doc FROM events_v7 ORDER BY seq LIMIT ?`, convertPage)
		if err != nil {
			return err
		}
		var batch []event.Event
		var docs []string
		var last int64
		for rows.Next() {
			var doc string
			if err := rows.Scan(&last, &doc); err != nil {
				rows.Close()
				return err
			}
			ev, err := event.DecodeJSON([]byte(doc))
			if err != nil {
				rows.Close()
				return fmt.Errorf("event %d: %w", last, err)
			}
			batch, docs = append(batch, ev), append(docs, doc)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n = len(batch); n == 0 {
			return nil
		}
		base := s.seq + 1
		s.seq += int64(n)
		order, hosts := blockOrder(batch)
		if _, err := s.writeBlocks(ctx, tx, batch, docs, order, hosts, base, nil); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM events_v7 WHERE seq <= ?`, last)
		return err
	})
	return n, err
}
