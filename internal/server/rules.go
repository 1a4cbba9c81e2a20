package server

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/danang-soc/vigil/detections/sigma"
)

// ruleSources are the places rules are loaded from: the bundled content
// and directories named in the configuration.
type ruleSources struct {
	bundled fs.FS // may be nil
	dirs    []string
	cfg     sigma.Config
}

// load compiles every rule of every source into one ruleset. Errors name
// the real file (a configured directory's path, or bundled:NAME).
func (s ruleSources) load() (*sigma.Ruleset, []sigma.RuleError) {
	o := overlayFS{}
	var roots []string
	if s.bundled != nil {
		o["bundled"] = s.bundled
		roots = append(roots, "bundled")
	}
	for i, d := range s.dirs {
		p := "dir" + strconv.Itoa(i)
		o[p] = os.DirFS(d)
		roots = append(roots, p)
	}
	rs, errs := sigma.Load(s.cfg, o, roots...)
	for i := range errs {
		errs[i].Path = s.realPath(errs[i].Path)
	}
	return rs, errs
}

// realPath turns a rule's path inside the overlay into the path a user
// knows: bundled:NAME, or the file in its configured directory.
func (s ruleSources) realPath(p string) string {
	prefix, rest, ok := strings.Cut(p, "/")
	if !ok {
		return p
	}
	if prefix == "bundled" && s.bundled != nil {
		return "bundled:" + rest
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(prefix, "dir")); err == nil && strings.HasPrefix(prefix, "dir") && n < len(s.dirs) {
		return filepath.Join(s.dirs[n], rest)
	}
	return p
}

// fingerprint summarises the names, sizes and times of the rule files of
// the configured directories, to notice changes.
func (s ruleSources) fingerprint() (uint64, error) {
	h := fnv.New64a()
	for _, d := range s.dirs {
		err := filepath.WalkDir(d, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() {
				return nil
			}
			info, err := de.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("scanning rule directory %s: %w", d, err)
		}
	}
	return h.Sum64(), nil
}

// overlayFS serves several file systems under one top-level name each.
type overlayFS map[string]fs.FS

func (o overlayFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	prefix, rest, _ := strings.Cut(name, "/")
	f, ok := o[prefix]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if rest == "" {
		rest = "."
	}
	return f.Open(rest)
}
