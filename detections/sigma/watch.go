package sigma

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"time"
)

// Watcher reloads rules when their files change. It polls the paths (file
// names, sizes and modification times), which works on every file system
// and costs a directory walk per interval. The running Ruleset is never
// touched: each reload builds a new one and hands it to OnLoad, which
// swaps it in (an atomic pointer) so that matching goes on meanwhile.
type Watcher struct {
	Config Config
	// Paths are rule files or directories, as for LoadPaths.
	Paths []string
	// Interval between polls; default 2s.
	Interval time.Duration
	// OnLoad receives the first ruleset and every reloaded one, with the
	// errors of the rules that did not load. It runs on Run's goroutine.
	OnLoad func(rs *Ruleset, errs []RuleError)
}

// Run loads the rules, then reloads them whenever the files change, until
// ctx ends. It returns ctx's error, or an error if the configuration is
// unusable.
func (w *Watcher) Run(ctx context.Context) error {
	if w.OnLoad == nil {
		return errors.New("sigma watcher: OnLoad is nil")
	}
	if err := w.Config.Validate(); err != nil {
		return fmt.Errorf("sigma watcher: %w", err)
	}
	interval := w.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	last := w.fingerprint()
	w.OnLoad(LoadPaths(w.Config, w.Paths...))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		fp := w.fingerprint()
		if fp == last {
			continue
		}
		last = fp
		w.OnLoad(LoadPaths(w.Config, w.Paths...))
	}
}

// fingerprint hashes the name, size and modification time of every rule
// file under the paths (and the errors met walking them).
func (w *Watcher) fingerprint() uint64 {
	h := fnv.New64a()
	for _, root := range w.Paths {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(h, "%s\x00err\x00", p)
				return nil
			}
			if d.IsDir() || (!isRuleFile(p) && p != root) {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", p, fi.Size(), fi.ModTime().UnixNano())
			return nil
		})
	}
	return h.Sum64()
}
