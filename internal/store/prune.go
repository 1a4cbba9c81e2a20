package store

import (
	"context"
	"database/sql"
	"fmt"
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
	// Bytes is the database size in use after pruning; Reclaimed what the
	// incremental vacuum gave back to the file system.
	Bytes, Reclaimed int64
}

// protected is the condition that keeps an event: it belongs to an alert of
// an incident that is still open.
const protected = `id IN (SELECT ae.event_id FROM incidents i
	JOIN incident_alerts ia ON ia.incident_id = i.id
	JOIN alert_events ae ON ae.alert_id = ia.alert_id
	WHERE i.status IN ('new', 'acknowledged', 'investigating'))`

// Prune deletes the events that were both stamped and received before
// now - Retention, then, while the database is larger than MaxBytes, the
// oldest events, and gives the freed pages back to the file system. Alerts
// and incidents are kept, and so are the events of open incidents. The
// server calls it periodically; it works in short transactions and stops
// early when ctx ends.
func (s *Store) Prune(ctx context.Context, now time.Time) (PruneStats, error) {
	var st PruneStats
	cutoff := nanos(now.Add(-s.cfg.Retention))
	for {
		n, err := s.deleteEvents(ctx, `time < ?1 AND received < ?1`, cutoff)
		if err != nil {
			return st, fmt.Errorf("pruning expired events: %w", err)
		}
		st.Expired += n
		if n < pruneBatch {
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
		for {
			used, _, err := s.size(ctx)
			if err != nil {
				return st, fmt.Errorf("pruning to the disk budget: %w", err)
			}
			if used <= s.cfg.MaxBytes {
				break
			}
			n, err := s.deleteEvents(ctx, `1`)
			if err != nil {
				return st, fmt.Errorf("pruning to the disk budget: %w", err)
			}
			st.Evicted += n
			if n == 0 {
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

// deleteEvents deletes up to pruneBatch of the oldest unprotected events
// matching cond in one transaction, then their text. Text left by a crash
// in between matches no event (see text.go) and only takes room.
func (s *Store) deleteEvents(ctx context.Context, cond string, args ...any) (int64, error) {
	s.textMu.Lock()
	defer s.textMu.Unlock()
	var n int64
	seqs := []byte{'['}
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM events WHERE seq IN (
			SELECT seq FROM events WHERE `+cond+` AND NOT `+protected+`
			ORDER BY time LIMIT `+fmt.Sprint(pruneBatch)+`) RETURNING seq`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			if n++; n > 1 {
				seqs = append(seqs, ',')
			}
			seqs = strconv.AppendInt(seqs, seq, 10)
		}
		return rows.Err()
	})
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.writeText(ctx, textBatch{delete: append(seqs, ']')})
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
		(SELECT count(*) FROM events), (SELECT count(*) FROM alerts), (SELECT count(*) FROM incidents),
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
