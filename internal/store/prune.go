package store

import (
	"context"
	"database/sql"
	"fmt"
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
		if _, err := s.w.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
			return st, fmt.Errorf("vacuuming: %w", err)
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
// matching cond in one transaction.
func (s *Store) deleteEvents(ctx context.Context, cond string, args ...any) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (
			SELECT seq FROM events WHERE `+cond+` AND NOT `+protected+`
			ORDER BY time LIMIT `+fmt.Sprint(pruneBatch)+`)`, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// size returns the bytes of the database in use and free (pages in the
// free list), as the writer sees them.
func (s *Store) size(ctx context.Context) (used, free int64, err error) {
	var pages, freePages, pageSize int64
	err = s.w.QueryRowContext(ctx, `SELECT p.page_count, f.freelist_count, s.page_size
		FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s`).Scan(&pages, &freePages, &pageSize)
	if err != nil {
		return 0, 0, err
	}
	return (pages - freePages) * pageSize, freePages * pageSize, nil
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
