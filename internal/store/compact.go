package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"time"
)

// A batch from the bus is as large as what arrived together: on a quiet
// system a few events, and so a block of a few events, which costs a row,
// an index entry and a full-text document each, compresses poorly, and is
// read one by one by searches. Compaction merges runs of small blocks,
// adjacent in seq order, into blocks of up to blockSize events. The
// merged block keeps the first block's first seq, so seqs, the event ID
// index and the full-text rowid of that block stay valid; the others go.
//
// The full-text index is changed around the events transaction so that it
// never lacks a word of a block, whatever crashes: the merged text replaces
// the first block's text before the events commit (more words than the
// first block holds only cost reading it), and the other blocks' text is
// deleted after (text of a block that is gone matches nothing).

// smallBlock is the size below which a block is merged with its neighbours.
const smallBlock = minHostBlock

// compactAge is how long after its last arrival a block waits before it is
// merged: more small blocks follow it meanwhile, and searches of the
// newest events, which are the most frequent, do not meet a merge.
const compactAge = time.Hour

// compactPage is how many blocks one round of compaction looks at.
var compactPage = 1024

// compactKey is the state key under which the store keeps how far
// compaction went: every block up to that first seq was settled and its
// runs merged, so that compaction reads only the blocks after it.
const compactKey = "store/compacted"

// compact merges runs of small blocks that settled since it last ran, a
// page of blocks per round, and returns how many blocks it removed by
// merging.
func (s *Store) compact(ctx context.Context, now time.Time) (removed int64, err error) {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	var mark int64
	switch blob, err := s.State(ctx, compactKey); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("compacting blocks: %w", err)
	default:
		if mark, err = strconv.ParseInt(string(blob), 10, 64); err != nil {
			return 0, fmt.Errorf("compacting blocks: state %q: %w", compactKey, err)
		}
	}
	settled := nanos(now.Add(-compactAge))
	for after := mark; ctx.Err() == nil; after = mark {
		n, next, done, err := s.compactPage(ctx, after, settled)
		if err != nil {
			return removed, fmt.Errorf("compacting blocks: %w", err)
		}
		removed += n
		mark = next
		if done {
			break
		}
	}
	if err := s.PutState(ctx, compactKey, []byte(strconv.FormatInt(mark, 10))); err != nil {
		return removed, fmt.Errorf("compacting blocks: %w", err)
	}
	return removed, ctx.Err()
}

// compactGroup is blocks to merge: the first keeps its row.
type compactGroup struct {
	firsts []int64
	count  int
	// recv is the latest arrival of the first block: blocks that arrived
	// more than compactAge apart are not merged, so that retention, which
	// goes by a block's latest arrival, keeps none much longer.
	recv int64
}

// compactPage merges the runs among the blocks after first seq after,
// up to the first whose events did not all arrive before settled. It
// returns how many blocks it removed, the first seq up to which the blocks
// are settled and merged, and whether it came to the end of them.
func (s *Store) compactPage(ctx context.Context, after, settled int64) (removed, next int64, done bool, err error) {
	s.textMu.Lock()
	defer s.textMu.Unlock()
	rows, err := s.w.QueryContext(ctx, `SELECT first_seq, count, max_received FROM event_blocks WHERE first_seq > ? ORDER BY first_seq LIMIT ?`,
		after, compactPage)
	if err != nil {
		return 0, 0, false, err
	}
	var groups []compactGroup
	var cur compactGroup
	flush := func() {
		if len(cur.firsts) > 1 {
			groups = append(groups, cur)
		}
		cur = compactGroup{}
	}
	seen, pageFirst := 0, int64(0)
	next = after
	for rows.Next() {
		var first, recv int64
		var count int
		if err := rows.Scan(&first, &count, &recv); err != nil {
			rows.Close()
			return 0, 0, false, err
		}
		if recv >= settled {
			// Too young: compaction stops before it until next time.
			next, done = first-1, true
			break
		}
		if seen++; seen == 1 {
			pageFirst = first
		}
		next = first
		if count >= smallBlock || cur.count+count > blockSize || len(cur.firsts) > 0 && abs(recv-cur.recv) > int64(compactAge) {
			flush()
		}
		if count < smallBlock {
			if len(cur.firsts) == 0 {
				cur.recv = recv
			}
			cur.firsts = append(cur.firsts, first)
			cur.count += count
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, false, err
	}
	switch {
	case done || seen < compactPage:
		done = true
		flush()
	case len(cur.firsts) > 0 && cur.firsts[0] != pageFirst:
		// The run may go on in the next page: start it there.
		next = cur.firsts[0] - 1
		cur = compactGroup{}
	default:
		// A run as long as the page (pages of a few blocks): merged as far
		// as it goes, and read again from its start, now fewer blocks.
		next = cur.firsts[0] - 1
		flush()
	}
	if len(groups) == 0 {
		return 0, next, done, nil
	}
	// The blocks of each group are merged in order, into as many blocks as
	// blockBytes of documents take.
	type merged struct {
		firsts           []int64 // the blocks merged; the first keeps its row
		evs              []blockEvent
		size             int
		maxRecv          int64
		hosts            blockHosts
		unknown          bool // a block's hosts were not known
		last, minT, maxT int64
		summary, data    []byte
		text             []byte
	}
	var out []*merged
	for _, g := range groups {
		var m *merged
		for _, first := range g.firsts {
			var data, summary []byte
			var maxRecv int64
			if err := s.w.QueryRowContext(ctx, `SELECT data, hosts, max_received FROM event_blocks b
				CROSS JOIN event_block_data d ON d.first_seq = b.first_seq WHERE b.first_seq = ?`, first).
				Scan(&data, &summary, &maxRecv); err != nil {
				return 0, 0, false, err
			}
			evs, _, err := decodeBlock(first, data, nil)
			if err != nil {
				// Left as it is; the blocks around it merge without it.
				s.log.Error("event block does not decode: compaction passes it by", "first_seq", first, "err", err)
				m = nil
				continue
			}
			size := 0
			for _, e := range evs {
				size += len(e.doc)
			}
			if m == nil || m.size+size > blockBytes {
				m = &merged{}
				out = append(out, m)
			}
			m.firsts = append(m.firsts, first)
			m.evs, m.size = append(m.evs, evs...), m.size+size
			m.maxRecv = max(m.maxRecv, maxRecv)
			m.unknown = m.unknown || len(summary) == 0
			for rest := summary; len(rest) > 0; {
				i := bytes.IndexByte(rest, 0)
				m.hosts.add(string(rest[:i]))
				rest = rest[i+1:]
			}
		}
	}
	out = slices.DeleteFunc(out, func(m *merged) bool { return len(m.firsts) < 2 })
	if len(out) == 0 {
		return 0, next, done, nil
	}
	var scratch []byte
	for _, m := range out {
		first := m.firsts[0]
		m.last = m.evs[len(m.evs)-1].seq
		m.minT, m.maxT = m.evs[0].time, m.evs[0].time
		for _, e := range m.evs[1:] {
			m.minT, m.maxT = min(m.minT, e.time), max(m.maxT, e.time)
		}
		m.summary = []byte{}
		if !m.unknown {
			m.summary = m.hosts.summary()
		}
		m.data, scratch = appendBlockData(nil, first, m.evs, scratch)
		text, err := blockText(nil, first, m.evs)
		if err != nil {
			return 0, 0, false, err
		}
		m.text = closeText(text)
	}
	// The merged text first: it holds every word of the first block.
	texts := make([][]byte, 0, len(out))
	del := []byte{'['}
	for _, m := range out {
		if len(del) > 1 {
			del = append(del, ',')
		}
		del = strconv.AppendInt(del, m.firsts[0], 10)
		if m.text != nil {
			texts = append(texts, m.text)
		}
	}
	if err := s.writeText(ctx, textBatch{delete: append(del, ']'), texts: texts}); err != nil {
		return 0, 0, false, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		for _, m := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE event_blocks SET last_seq = ?, count = ?, min_time = ?, max_time = ?,
				max_received = ?, hosts = ? WHERE first_seq = ?`,
				m.last, len(m.evs), m.minT, m.maxT, m.maxRecv, m.summary, m.firsts[0]); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE event_block_data SET data = ? WHERE first_seq = ?`, m.data, m.firsts[0]); err != nil {
				return err
			}
			for _, first := range m.firsts[1:] {
				if err := deleteBlock(ctx, tx, first); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, false, err
	}
	// Then the text of the blocks that are gone.
	del = append(del[:0], '[')
	for _, m := range out {
		for _, first := range m.firsts[1:] {
			if len(del) > 1 {
				del = append(del, ',')
			}
			del = strconv.AppendInt(del, first, 10)
			removed++
		}
	}
	if err := s.writeText(ctx, textBatch{delete: append(del, ']')}); err != nil {
		return 0, 0, false, err
	}
	return removed, next, done, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
