package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
)

// MaxStateBytes bounds one state blob.
const MaxStateBytes = 256 << 20

// PutState stores a component's state blob under key, replacing what was
// there: the correlation engine's snapshot, a collector's checkpoint.
func (s *Store) PutState(ctx context.Context, key string, blob []byte) error {
	if key == "" {
		return errors.New("storing state: the key is required")
	}
	if len(blob) > MaxStateBytes {
		return fmt.Errorf("storing state %q: %d bytes is more than %d", key, len(blob), MaxStateBytes)
	}
	if blob == nil {
		blob = []byte{}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO state (key, value, updated) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
			key, blob, nanos(s.cfg.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("storing state %q: %w", key, err)
	}
	return nil
}

// State returns the blob stored under key; the error wraps fs.ErrNotExist
// when there is none.
func (s *Store) State(ctx context.Context, key string) ([]byte, error) {
	var blob []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, key).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("state %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state %q: %w", key, err)
	}
	return blob, nil
}

// DeleteState removes the blob under key, if any.
func (s *Store) DeleteState(ctx context.Context, key string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM state WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting state %q: %w", key, err)
	}
	return nil
}
