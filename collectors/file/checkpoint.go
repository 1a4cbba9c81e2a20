package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// Checkpoints persist the tailer's state under a key. Save must be durable
// when it returns nil. Load of a key never saved returns (nil, nil) or an
// error matching fs.ErrNotExist. The server passes its state store; the
// agent and tests use CheckpointDir.
type Checkpoints interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, b []byte) error
}

// CheckpointDir keeps each key in a file of a directory, replaced atomically
// (write, fsync, rename, fsync of the directory).
type CheckpointDir struct {
	dir string
}

var _ Checkpoints = (*CheckpointDir)(nil)

// NewCheckpointDir makes dir if needed and returns checkpoints kept there.
func NewCheckpointDir(dir string) (*CheckpointDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("making checkpoint directory: %w", err)
	}
	return &CheckpointDir{dir: dir}, nil
}

func (d *CheckpointDir) name(key string) string {
	return filepath.Join(d.dir, "checkpoint-"+url.PathEscape(key)+".json")
}

// Load returns what was saved under key, or an error matching
// fs.ErrNotExist.
func (d *CheckpointDir) Load(ctx context.Context, key string) ([]byte, error) {
	b, err := os.ReadFile(d.name(key))
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint %q: %w", key, err)
	}
	return b, nil
}

// Save replaces what is saved under key.
func (d *CheckpointDir) Save(ctx context.Context, key string, b []byte) error {
	name := d.name(key)
	tmp, err := os.CreateTemp(d.dir, ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("saving checkpoint %q: %w", key, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("saving checkpoint %q: %w", key, err)
	}
	if dir, err := os.Open(d.dir); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

// fileID is a file's identity: device and inode, or the path where the
// platform has no inodes.
type fileID struct {
	Dev, Ino uint64
	Path     string
}

// fileState is one file's entry in a checkpoint.
type fileState struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
	// FPLen and FP fingerprint the file's first bytes (FNV-1a 64), to tell
	// a reused inode or a rewritten file from the one checkpointed.
	FPLen int    `json:"fp_len"`
	FP    uint64 `json:"fp"`
}

type state struct {
	Version int         `json:"version"`
	Files   []fileState `json:"files"`
}

func (s fileState) id() fileID {
	if s.Dev == 0 && s.Ino == 0 {
		return fileID{Path: s.Path}
	}
	return fileID{Dev: s.Dev, Ino: s.Ino}
}

// loadState reads the checkpoint; ok is false when none was saved.
func loadState(ctx context.Context, cp Checkpoints, key string) (st state, ok bool, err error) {
	b, err := cp.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, false, fmt.Errorf("decoding checkpoint %q: %w", key, err)
	}
	if st.Version != 1 {
		return state{}, false, fmt.Errorf("checkpoint %q has version %d, want 1", key, st.Version)
	}
	return st, true, nil
}
