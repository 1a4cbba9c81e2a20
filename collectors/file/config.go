package file

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Config is a tailer's configuration. Zero values take the documented
// defaults.
type Config struct {
	// Paths are glob patterns (filepath.Match syntax) of the files to tail.
	// Point them at live files, not at rotated copies: a pattern that also
	// matches the copies of copytruncate rotation reads their lines twice.
	Paths []string `json:"paths" yaml:"paths"`
	// Name keys the checkpoint; it must be unique among the tailers sharing
	// a checkpoint store (default "file:" and the patterns).
	Name string `json:"name" yaml:"name"`
	// PollInterval is how often files are looked at when there is nothing
	// new (default 1s); new patterns' matches are found at the same pace.
	PollInterval time.Duration `json:"poll_interval" yaml:"poll_interval"`
	// IdleFlush is how long a file must stay unchanged before its partial
	// last line (no line end yet) and the decoder's pending record are
	// emitted (default 5s).
	IdleFlush time.Duration `json:"idle_flush" yaml:"idle_flush"`
	// RotateWait is how long a rotated or deleted file is kept open after its
	// last new data, for writers that still write to it (default 10s).
	RotateWait time.Duration `json:"rotate_wait" yaml:"rotate_wait"`
	// BatchSize is the most events per sink write (default 1024).
	BatchSize int `json:"batch_size" yaml:"batch_size"`
	// MaxLine is the longest line in bytes (default 1 MiB); longer lines are
	// cut to it and counted.
	MaxLine int `json:"max_line" yaml:"max_line"`
	// FromEnd starts files at their end on the very first run (no checkpoint
	// yet), instead of at their start. Files that appear later are always
	// read from their start.
	FromEnd bool `json:"from_end" yaml:"from_end"`
}

// Defaults of Config.
const (
	DefaultPollInterval = time.Second
	DefaultIdleFlush    = 5 * time.Second
	DefaultRotateWait   = 10 * time.Second
	DefaultBatchSize    = 1024
	DefaultMaxLine      = 1 << 20
)

// Validate reports the first problem of the configuration.
func (c Config) Validate() error {
	if len(c.Paths) == 0 {
		return errors.New("file: no paths")
	}
	for _, p := range c.Paths {
		if p == "" {
			return errors.New("file: empty path pattern")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("file: path pattern %q: %w", p, err)
		}
	}
	if c.PollInterval < 0 || c.IdleFlush < 0 || c.RotateWait < 0 || c.BatchSize < 0 || c.MaxLine < 0 {
		return errors.New("file: negative interval or size")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "file:" + strings.Join(c.Paths, ",")
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.IdleFlush == 0 {
		c.IdleFlush = DefaultIdleFlush
	}
	if c.RotateWait == 0 {
		c.RotateWait = DefaultRotateWait
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxLine == 0 {
		c.MaxLine = DefaultMaxLine
	}
	return c
}
