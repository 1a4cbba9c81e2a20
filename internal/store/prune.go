package store

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/danang-soc/vigil/event"
	"math"
	"slices"
	"strconv"
	"time"
)

// pruneBatch is how many events one delete transaction removes, so that
// ingest waits for the writer a short time only.
const pruneBatch = 5000

// PruneStats says what Prune did.
type PruneStats struct {
	// Expired events were older than the retention; Evicted were deleted,
	// oldest first, to bring the database under its disk budget.
	Expired, Evicted int64
	// Quarantine is the number of quarantined items older than the
	// retention that were deleted.
	Quarantine int64
	// Compacted is the number of small blocks merged into others
	// (compact.go).
	Compacted int64
	// Bytes is the database size in use after pruning; Reclaimed what the
	// incremental vacuum gave back to the file system.
	Bytes, Reclaimed int64
}

// protectedSQL selects the seqs of the events that are kept whatever their
// age: those of the alerts of incidents that are still open.
const protectedSQL = `SELECT ei.seq FROM event_ids ei WHERE ei.id IN (SELECT ae.event_id FROM incidents i
	JOIN incident_alerts ia ON ia.incident_id = i.id
	JOIN alert_events ae ON ae.alert_id = ia.alert_id
	WHERE i.status IN ('new', 'acknowledged', 'investigating')) ORDER BY ei.seq`

// Prune deletes the events stamped before now - Retention in blocks whose
// events were all received before it (a block holds what arrived together,
// within seconds), then, while the database is larger than MaxBytes, the
// oldest events, merges small blocks (compact.go), and gives the freed
// pages back to the file system. Alerts and incidents are kept, and so are
// the events of open incidents. The server calls it periodically; it works
// in short transactions and stops early when ctx ends.
func (s *Store) Prune(ctx context.Context, now time.Time) (PruneStats, error) {
	var st PruneStats
	cutoff := nanos(now.Add(-s.cfg.Retention))
	// Blocks that may hold expired events, oldest first; an expired event
	// of a block that keeps others goes, its block rewritten without it.
	// Blocks received since the cutoff are not read: logs of past years
	// loaded today are kept a retention from today.
	ps := pruneScan{order: "min_time", until: cutoff, cutoff: cutoff}
	for {
		n, more, err := s.deleteEvents(ctx, &ps)
		if err != nil {
			return st, fmt.Errorf("pruning expired events: %w", err)
		}
		st.Expired += n
		if !more {
			break
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM quarantine WHERE received < ?`, cutoff)
		if err != nil {
			return err
		}
		st.Quarantine, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return st, fmt.Errorf("pruning quarantine: %w", err)
	}
	if s.cfg.MaxBytes > 0 {
		ps := pruneScan{order: "max_time", until: math.MaxInt64}
		for {
			used, _, err := s.size(ctx)
			if err != nil {
				return st, fmt.Errorf("pruning to the disk budget: %w", err)
			}
			if used <= s.cfg.MaxBytes {
				break
			}
			n, more, err := s.deleteEvents(ctx, &ps)
			if err != nil {
				return st, fmt.Errorf("pruning to the disk budget: %w", err)
			}
			st.Evicted += n
			if !more {
				s.log.Warn("store over its disk budget with nothing left to delete", "bytes", used, "max_bytes", s.cfg.MaxBytes)
				break
			}
		}
		if st.Evicted > 0 {
			// Evicting shortens the legal retention: say so loudly.
			s.log.Warn("store deleted events before their retention to stay within its disk budget",
				"events", st.Evicted, "max_bytes", s.cfg.MaxBytes)
		}
	}
	if st.Compacted, err = s.compact(ctx, now); err != nil {
		return st, fmt.Errorf("pruning: %w", err)
	}
	_, freeBefore, err := s.size(ctx)
	if err != nil {
		return st, fmt.Errorf("pruning: %w", err)
	}
	if freeBefore > 0 {
		for _, db := range []*sql.DB{s.w, s.t} {
			if _, err := db.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
				return st, fmt.Errorf("vacuuming: %w", err)
			}
		}
	}
	used, freeAfter, err := s.size(ctx)
	if err != nil {
		return st, fmt.Errorf("pruning: %w", err)
	}
	if err := s.optimize(ctx); err != nil {
		return st, fmt.Errorf("pruning: %w", err)
	}
	st.Bytes, st.Reclaimed = used, freeBefore-freeAfter
	return st, nil
}

// pruneScan walks the blocks in order of one of their times, a page per
// call of deleteEvents, so that blocks it cannot empty (protected events,
// events not yet expired) never hold up those behind them.
type pruneScan struct {
	order string // "min_time" (retention) or "max_time" (the disk budget)
	until int64  // the walk ends at blocks whose order time is not below it
	// cutoff, when not 0, deletes only the events stamped before it in
	// blocks received before it, and only such blocks are read; else every
	// event goes.
	cutoff int64
	// after is the (time, first_seq) of the last block read.
	after   [2]int64
	started bool
}

// deleteEvents deletes the events of the next blocks of ps, up to about
// pruneBatch events, in one transaction, except the protected ones, then
// their text; a block that keeps events is rewritten with them. It reports
// whether blocks remain to walk. Text left by a crash in between matches
// no event (see text.go) and only takes room.
func (s *Store) deleteEvents(ctx context.Context, ps *pruneScan) (n int64, more bool, err error) {
	s.textMu.Lock()
	defer s.textMu.Unlock()
	del := []byte{'['}
	var texts [][]byte
	err = s.write(ctx, func(tx *sql.Tx) error {
		protected, err := querySeqs(ctx, tx, protectedSQL)
		if err != nil {
			return err
		}
		type block struct {
			first int64
			data  []byte
		}
		var blocks []block
		const page = pruneBatch/blockSize + 1
		cond, args := ps.order+` < ?`, []any{ps.until}
		if ps.cutoff != 0 {
			cond += ` AND max_received < ?`
			args = append(args, ps.cutoff)
		}
		if ps.started {
			cond += ` AND (` + ps.order + `, b.first_seq) > (?, ?)`
			args = append(args, ps.after[0], ps.after[1])
		}
		rows, err := tx.QueryContext(ctx, `SELECT b.first_seq, `+ps.order+`, data FROM event_blocks b
			CROSS JOIN event_block_data d ON d.first_seq = b.first_seq WHERE `+cond+`
			ORDER BY `+ps.order+`, b.first_seq LIMIT `+fmt.Sprint(page), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var b block
			if err := rows.Scan(&b.first, &ps.after[0], &b.data); err != nil {
				rows.Close()
				return err
			}
			ps.after[1], ps.started = b.first, true
			blocks = append(blocks, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		more = len(blocks) == page
		delID, err := tx.PrepareContext(ctx, `DELETE FROM event_ids WHERE id = ?`)
		if err != nil {
			return err
		}
		defer delID.Close()
		var data, scratch []byte
		var rates rateCounts
		for _, b := range blocks {
			evs, _, err := decodeBlock(b.first, b.data, nil)
			if err != nil {
				// Kept as it is, for whoever can repair it: retention goes on
				// with the blocks after it.
				s.log.Error("event block does not decode: retention passes it by", "first_seq", b.first, "err", err)
				continue
			}
			var keep []blockEvent
			for _, e := range evs {
				if _, ok := slices.BinarySearch(protected, e.seq); ok || !ps.expired(&e) {
					keep = append(keep, e)
					continue
				}
				if _, err := delID.ExecContext(ctx, e.id[:]); err != nil {
					return err
				}
				ev, err := event.DecodeJSONKeys(e.doc, isSourceKey)
				if err != nil {
					return fmt.Errorf("decoding stored event %d: %w", e.seq, err)
				}
				ev.Time = time.Unix(0, e.time)
				rates.add(&ev, -1)
				n++
			}
			if len(keep) == len(evs) {
				continue // nothing of it goes
			}
			if len(del) > 1 {
				del = append(del, ',')
			}
			del = strconv.AppendInt(del, b.first, 10)
			if len(keep) == 0 {
				if err := deleteBlock(ctx, tx, b.first); err != nil {
					return err
				}
				continue
			}
			minT, maxT := keep[0].time, keep[0].time
			for _, e := range keep {
				minT, maxT = min(minT, e.time), max(maxT, e.time)
			}
			data, scratch = appendBlockData(data[:0], b.first, keep, scratch)
			if _, err := tx.ExecContext(ctx, `UPDATE event_blocks SET last_seq = ?, count = ?, min_time = ?, max_time = ?
				WHERE first_seq = ?`, keep[len(keep)-1].seq, len(keep), minT, maxT, b.first); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE event_block_data SET data = ? WHERE first_seq = ?`, data, b.first); err != nil {
				return err
			}
			text, err := blockText(nil, b.first, keep)
			if err != nil {
				return err
			}
			if text != nil {
				texts = append(texts, closeText(text))
			}
		}
		return rates.write(ctx, tx)
	})
	if err != nil || len(del) == 1 {
		return n, more, err
	}
	return n, more, s.writeText(ctx, textBatch{delete: append(del, ']'), texts: texts})
}

// expired reports whether an event of a block the scan read goes.
func (ps *pruneScan) expired(e *blockEvent) bool {
	return ps.cutoff == 0 || e.time < ps.cutoff
}

// querySeqs returns the seqs a query selects, in its order.
func querySeqs(ctx context.Context, rd reader, q string, args ...any) ([]int64, error) {
	rows, err := rd.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, err
		}
		out = append(out, seq)
	}
	return out, rows.Err()
}

// size returns the bytes of the database and its text file in use and free
// (pages in the free lists), as their writers see them.
func (s *Store) size(ctx context.Context) (used, free int64, err error) {
	for _, db := range []*sql.DB{s.w, s.t} {
		var pages, freePages, pageSize int64
		err = db.QueryRowContext(ctx, `SELECT p.page_count, f.freelist_count, s.page_size
			FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s`).Scan(&pages, &freePages, &pageSize)
		if err != nil {
			return 0, 0, err
		}
		used += (pages - freePages) * pageSize
		free += freePages * pageSize
	}
	return used, free, nil
}

// Stats counts what the store holds, for metrics.
type Stats struct {
	Events, Alerts, Incidents, OpenIncidents, Quarantined int64
	// Bytes is the database in use; FreeBytes its pages awaiting the next
	// incremental vacuum.
	Bytes, FreeBytes int64
}

// Stats counts rows and bytes. Counting a table reads its smallest index:
// tens of milliseconds for millions of events, fine for a metrics scrape.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(count), 0) FROM event_blocks), (SELECT count(*) FROM alerts), (SELECT count(*) FROM incidents),
		(SELECT count(*) FROM incidents WHERE status IN ('new', 'acknowledged', 'investigating')),
		(SELECT count(*) FROM quarantine),
		(SELECT (p.page_count - f.freelist_count) * s.page_size FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s),
		(SELECT f.freelist_count * s.page_size FROM pragma_freelist_count() f, pragma_page_size() s)`).
		Scan(&st.Events, &st.Alerts, &st.Incidents, &st.OpenIncidents, &st.Quarantined, &st.Bytes, &st.FreeBytes)
	if err != nil {
		return st, fmt.Errorf("counting the store: %w", err)
	}
	// The text file: its pragmas take no schema as functions.
	var n [3]int64
	for i, p := range []string{"page_count", "freelist_count", "page_size"} {
		if err := s.r.QueryRowContext(ctx, `PRAGMA text.`+p).Scan(&n[i]); err != nil {
			return st, fmt.Errorf("counting the store: %w", err)
		}
	}
	st.Bytes += (n[0] - n[1]) * n[2]
	st.FreeBytes += n[1] * n[2]
	return st, nil
}

// optimize refreshes the planner's statistics where the tables changed
// much, so that it picks the right index for each listing.
func (s *Store) optimize(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `PRAGMA optimize`); err != nil {
		return fmt.Errorf("optimizing: %w", err)
	}
	return nil
}

// deleteBlock deletes a block's row and its data.
func deleteBlock(ctx context.Context, tx *sql.Tx, first int64) error {
	for _, q := range []string{`DELETE FROM event_blocks WHERE first_seq = ?`, `DELETE FROM event_block_data WHERE first_seq = ?`} {
		if _, err := tx.ExecContext(ctx, q, first); err != nil {
			return err
		}
	}
	return nil
}
