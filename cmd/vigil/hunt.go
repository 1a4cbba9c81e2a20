package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/danang-soc/vigil/correlate"
	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
)

// cmdHunt is `vigil hunt [--rules PATH...] (--events FILE | --log
// FORMAT:FILE)... [--json]`: runs events through detection and
// correlation as an analyst tests rules on sample logs. Without --rules the
// bundled rules apply.
func cmdHunt(ctx context.Context, args []string, io stdio) int {
	fs := flag.NewFlagSet("hunt", flag.ContinueOnError)
	fs.SetOutput(io.err)
	var rulePaths, eventFiles listFlag
	fs.Var(&rulePaths, "rules", "a Sigma rule file or directory (repeatable; default: the bundled rules)")
	fs.Var(&eventFiles, "events", "a file of JSON lines, one event per line, nested or flat (repeatable; - is standard input)")
	var logFiles listFlag
	fs.Var(&logFiles, "log", "a raw log or capture read with a collector's parser, FORMAT:FILE (repeatable; see --formats)")
	listFormats := fs.Bool("formats", false, "list the formats of --log and exit")
	asJSON := fs.Bool("json", false, `print one JSON line per match: {"rule_id","rule_title","level","event_index","event_id"}`)
	ph := placeholderFlag{}
	fs.Var(ph, "placeholder", "value(s) of a %placeholder% used with |expand: NAME=V1,V2 (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(io.err, "usage: vigil hunt [--rules PATH...] (--events FILE | --log FORMAT:FILE)... [--json] [--placeholder NAME=V1,V2]\n       vigil hunt --formats")
		fs.PrintDefaults()
	}
	pos, code := parseInterleaved(fs, args)
	if code >= 0 {
		return code
	}
	if *listFormats {
		printFormats(io)
		return 0
	}
	if len(pos) > 0 || len(eventFiles)+len(logFiles) == 0 {
		fs.Usage()
		return 2
	}
	cfg := sigma.Config{Placeholders: ph}
	var rs *sigma.Ruleset
	var errs []sigma.RuleError
	if len(rulePaths) > 0 {
		rs, errs = sigma.LoadPaths(cfg, rulePaths...)
	} else {
		bundled, defaults, err := bundledRules()
		if err != nil {
			fmt.Fprintln(io.err, "vigil hunt:", err)
			return 1
		}
		for k, v := range defaults {
			if _, set := ph[k]; !set {
				ph[k] = v
			}
		}
		rs, errs = sigma.Load(cfg, bundled, ".")
	}
	for _, e := range errs {
		fmt.Fprintf(io.err, "vigil hunt: rule skipped: %v\n", e)
	}
	if rs.Len() == 0 {
		fmt.Fprintln(io.err, "vigil hunt: no rule to run")
		return 1
	}
	var sources []huntSource
	for _, f := range eventFiles {
		sources = append(sources, jsonLinesSource(f, io.in))
	}
	for _, spec := range logFiles {
		s, err := logSource(spec)
		if err != nil {
			fmt.Fprintln(io.err, "vigil hunt:", err)
			return 2
		}
		sources = append(sources, s)
	}
	h := &hunter{rs: rs, json: *asJSON, out: bufio.NewWriterSize(io.out, 64<<10), now: time.Now()}
	if err := h.startCorrelation(); err != nil {
		fmt.Fprintln(io.err, "vigil hunt:", err)
		return 1
	}
	stop := startProgress(io.err, h)
	err := h.run(ctx, sources)
	stop()
	if ferr := h.out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(io.err, "vigil hunt: %v\n", err)
		return 1
	}
	if !*asJSON {
		fmt.Fprintf(io.err, "%d events, %d matches, %d rules, %d correlation alerts\n", h.events.Load(), h.matches.Load(), rs.Len(), h.correlated)
	}
	return 0
}

// huntSource is one input of events: read calls emit for each event in
// order. Collectors' parsers (--log FORMAT:FILE) plug in here.
type huntSource struct {
	name string
	size int64 // bytes, for progress; 0 when unknown
	read func(ctx context.Context, progress *atomic.Int64, emit func(*event.Event) error) error
}

// jsonLinesSource reads a file (or standard input for "-") of JSON lines.
func jsonLinesSource(path string, stdin io.Reader) huntSource {
	s := huntSource{name: path}
	if fi, err := os.Stat(path); err == nil {
		s.size = fi.Size()
	}
	s.read = func(ctx context.Context, progress *atomic.Int64, emit func(*event.Event) error) error {
		var r io.Reader = stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		br := bufio.NewReaderSize(r, 1<<20)
		for n := 1; ; n++ {
			if n%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			line, err := br.ReadBytes('\n')
			progress.Add(int64(len(line)))
			if len(strings.TrimSpace(string(line))) > 0 {
				e, derr := event.DecodeJSON(line)
				if derr != nil {
					return fmt.Errorf("%s:%d: %w", path, n, derr)
				}
				if eerr := emit(&e); eerr != nil {
					return eerr
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", path, err)
			}
		}
	}
	return s
}

type hunter struct {
	rs   *sigma.Ruleset
	json bool
	out  *bufio.Writer
	now  time.Time
	line []byte

	// correlation: nil when the rules have no correlation rule.
	corr       *correlate.Engine
	refs       map[event.ID]eventRef
	correlated int

	total   atomic.Int64 // bytes to read, when known
	read    atomic.Int64
	events  atomic.Int64
	matches atomic.Int64
}

func (h *hunter) run(ctx context.Context, sources []huntSource) error {
	for _, s := range sources {
		h.total.Add(s.size)
	}
	for _, s := range sources {
		index := 0
		err := s.read(ctx, &h.read, func(e *event.Event) error {
			e.Stamp(h.now)
			h.rs.Match(e, func(r *sigma.Rule) {
				h.matches.Add(1)
				h.write(s.name, index, e, r)
				h.correlate(s.name, index, e, r)
			})
			index++
			h.events.Add(1)
			return nil
		})
		if err != nil {
			return err
		}
	}
	h.flushCorrelation()
	return nil
}

func (h *hunter) write(input string, index int, e *event.Event, r *sigma.Rule) {
	b := h.line[:0]
	if h.json {
		b = append(b, `{"rule_id":`...)
		b = event.AppendString(b, r.ID)
		b = append(b, `,"rule_title":`...)
		b = event.AppendString(b, r.Title)
		b = append(b, `,"level":`...)
		b = event.AppendString(b, levelName(r.Level))
		b = fmt.Appendf(b, `,"event_index":%d,"event_id":`, index)
		b = event.AppendString(b, e.ID.String())
		b = append(b, "}\n"...)
	} else {
		b = fmt.Appendf(b, "%-13s %s (%s)  %s#%d %s\n", levelName(r.Level), r.Title, r.ID, input, index, e.ID)
	}
	h.line = b
	h.out.Write(b)
}

func levelName(l event.Level) string {
	if l == 0 {
		return ""
	}
	return l.String()
}

// startProgress draws a progress line on standard error when it is a
// terminal and the hunt takes more than a second. stop clears it.
func startProgress(w io.Writer, h *hunter) (stop func()) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		select {
		case <-done:
			return
		case <-time.After(time.Second):
		}
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			fmt.Fprintf(f, "\r\x1b[K%s", progressLine(h, time.Since(start)))
			select {
			case <-done:
				fmt.Fprint(f, "\r\x1b[K")
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func progressLine(h *hunter, elapsed time.Duration) string {
	n, m := h.events.Load(), h.matches.Load()
	rate := float64(n) / elapsed.Seconds()
	total, read := h.total.Load(), h.read.Load()
	if total <= 0 {
		return fmt.Sprintf("%d events, %d matches, %.0f events/s", n, m, rate)
	}
	frac := min(float64(read)/float64(total), 1)
	const width = 30
	bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
	return fmt.Sprintf("%s %3.0f%%  %d events, %d matches, %.0f events/s", bar, frac*100, n, m, rate)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
