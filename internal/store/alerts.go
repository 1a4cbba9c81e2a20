package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/danang-soc/vigil/event"
)

// WriteAlerts stores alerts with the links to their events, in one
// transaction, and returns how many were new. An alert whose ID is already
// stored is left as it is: alert IDs derive from the rule and the events, so
// reprocessing never makes a second alert.
func (s *Store) WriteAlerts(ctx context.Context, alerts []event.Alert) (inserted int, err error) {
	for i := range alerts {
		if alerts[i].ID.IsZero() {
			return 0, fmt.Errorf("writing alerts: alert %d: %w", i, ErrNoID)
		}
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO alerts (id, time, created, rule_id, level, host, doc) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		link, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer link.Close()
		for i := range alerts {
			a := &alerts[i]
			doc, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("alert %s: %w", a.ID, err)
			}
			res, err := ins.ExecContext(ctx, a.ID[:], nanos(a.Time), nanos(a.Created), a.RuleID, int(a.Level), a.Host, string(doc))
			if err != nil {
				return fmt.Errorf("alert %s: %w", a.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			inserted++
			for _, id := range a.EventIDs {
				if _, err := link.ExecContext(ctx, a.ID[:], id[:]); err != nil {
					return fmt.Errorf("alert %s: linking event %s: %w", a.ID, id, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("writing alerts: %w", err)
	}
	return inserted, nil
}

// AlertQuery selects alerts. Zero fields do not filter.
type AlertQuery struct {
	// Level keeps alerts of at least this level.
	Level  event.Level
	RuleID string
	Host   string
	// Since keeps alerts whose time is at or after it.
	Since  time.Time
	Limit  int
	Cursor string
}

// Alerts returns alerts newest first.
func (s *Store) Alerts(ctx context.Context, q AlertQuery) (Page[event.Alert], error) {
	var page Page[event.Alert]
	stmt := `SELECT id, time, doc FROM alerts WHERE 1`
	var args []any
	if q.Level > 0 {
		stmt += ` AND level >= ?`
		args = append(args, int(q.Level))
	}
	if q.RuleID != "" {
		stmt += ` AND rule_id = ?`
		args = append(args, q.RuleID)
	}
	if q.Host != "" {
		stmt += ` AND host = ?`
		args = append(args, q.Host)
	}
	if !q.Since.IsZero() {
		stmt += ` AND time >= ?`
		args = append(args, nanos(q.Since))
	}
	if q.Cursor != "" {
		key, id, err := decodeCursor(q.Cursor, 'a', 1, len(event.ID{}))
		if err != nil {
			return page, err
		}
		stmt += ` AND (time, id) < (?, ?)`
		args = append(args, key[0], id)
	}
	n := limit(q.Limit)
	stmt += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := s.r.QueryContext(ctx, stmt, args...)
	if err != nil {
		return page, fmt.Errorf("listing alerts: %w", err)
	}
	defer rows.Close()
	var last struct {
		id   []byte
		time int64
	}
	var doc []byte
	for rows.Next() {
		if len(page.Items) == n {
			page.Next = encodeCursor('a', []int64{last.time}, last.id)
			break
		}
		if err := rows.Scan(&last.id, &last.time, &doc); err != nil {
			return page, fmt.Errorf("listing alerts: %w", err)
		}
		var a event.Alert
		if err := json.Unmarshal(doc, &a); err != nil {
			return page, fmt.Errorf("decoding stored alert: %w", err)
		}
		page.Items = append(page.Items, a)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("listing alerts: %w", err)
	}
	return page, nil
}

// Alert returns one alert; the error wraps fs.ErrNotExist when there is
// none with that ID.
func (s *Store) Alert(ctx context.Context, id event.ID) (event.Alert, error) {
	var a event.Alert
	var doc []byte
	err := s.r.QueryRowContext(ctx, `SELECT doc FROM alerts WHERE id = ?`, id[:]).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("alert %s: %w", id, fs.ErrNotExist)
	}
	if err != nil {
		return a, fmt.Errorf("reading alert %s: %w", id, err)
	}
	if err := json.Unmarshal(doc, &a); err != nil {
		return a, fmt.Errorf("decoding alert %s: %w", id, err)
	}
	return a, nil
}

// MaxAlertEvents bounds the events AlertEvents returns.
const MaxAlertEvents = 10000

// AlertEvents returns the stored events of an alert, oldest first, at most
// MaxAlertEvents. Events already removed by retention are missing.
func (s *Store) AlertEvents(ctx context.Context, alertID event.ID) ([]event.Event, error) {
	var evs []event.Event
	err := s.snapshot(ctx, func(rd reader) (err error) {
		evs, err = alertEvents(ctx, rd, alertID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading events of alert %s: %w", alertID, err)
	}
	return evs, nil
}

func alertEvents(ctx context.Context, rd reader, alertID event.ID) ([]event.Event, error) {
	seqs, err := querySeqs(ctx, rd, `SELECT ei.seq FROM alert_events ae JOIN event_ids ei ON ei.id = ae.event_id
		WHERE ae.alert_id = ? ORDER BY ei.seq`, alertID[:])
	if err != nil {
		return nil, err
	}
	found, err := eventsBySeq(ctx, rd, seqs)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(a, b blockEvent) int {
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	found = found[:min(len(found), MaxAlertEvents)]
	out := make([]event.Event, len(found))
	for i := range found {
		if out[i], err = event.DecodeJSON(found[i].doc); err != nil {
			return nil, fmt.Errorf("decoding stored event %d: %w", found[i].seq, err)
		}
	}
	return out, nil
}
