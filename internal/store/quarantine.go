package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// MaxQuarantineData bounds the data kept of one quarantined line; longer
// data is cut and the reason says so.
const MaxQuarantineData = 1 << 20

// Quarantined is input that could not be made into an event, kept with the
// reason so that nothing is dropped silently.
type Quarantined struct {
	ID       int64     `json:"id"` // assigned by the store
	Received time.Time `json:"received"`
	// Source names where it came from: "http", "syslog", a file path.
	Source string `json:"source"`
	// Line is the 1-based line number within the batch or file, 0 if none.
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Data   []byte `json:"data"`
}

// Quarantine stores quarantined input in one transaction.
func (s *Store) Quarantine(ctx context.Context, items []Quarantined) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO quarantine (received, source, line, reason, data) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, q := range items {
			if q.Received.IsZero() {
				q.Received = s.cfg.Now()
			}
			if len(q.Data) > MaxQuarantineData {
				q.Reason = fmt.Sprintf("%s (data cut from %d to %d bytes)", q.Reason, len(q.Data), MaxQuarantineData)
				q.Data = q.Data[:MaxQuarantineData]
			}
			if q.Data == nil {
				q.Data = []byte{}
			}
			if _, err := ins.ExecContext(ctx, nanos(q.Received), q.Source, q.Line, q.Reason, q.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("quarantining %d items: %w", len(items), err)
	}
	return nil
}

// QuarantineQuery selects quarantined input. Zero fields do not filter.
type QuarantineQuery struct {
	Source string
	Limit  int
	Cursor string
}

// QuarantineList returns quarantined input, newest first.
func (s *Store) QuarantineList(ctx context.Context, q QuarantineQuery) (Page[Quarantined], error) {
	var page Page[Quarantined]
	stmt := `SELECT seq, received, source, line, reason, data FROM quarantine WHERE 1`
	var args []any
	if q.Source != "" {
		stmt += ` AND source = ?`
		args = append(args, q.Source)
	}
	if q.Cursor != "" {
		key, _, err := decodeCursor(q.Cursor, 'q', 1, 0)
		if err != nil {
			return page, err
		}
		stmt += ` AND seq < ?`
		args = append(args, key[0])
	}
	n := limit(q.Limit)
	stmt += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := s.r.QueryContext(ctx, stmt, args...)
	if err != nil {
		return page, fmt.Errorf("listing quarantine: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if len(page.Items) == n {
			page.Next = encodeCursor('q', []int64{page.Items[n-1].ID}, nil)
			break
		}
		var it Quarantined
		var at int64
		if err := rows.Scan(&it.ID, &at, &it.Source, &it.Line, &it.Reason, &it.Data); err != nil {
			return page, fmt.Errorf("listing quarantine: %w", err)
		}
		it.Received = fromNanos(at)
		page.Items = append(page.Items, it)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("listing quarantine: %w", err)
	}
	return page, nil
}
