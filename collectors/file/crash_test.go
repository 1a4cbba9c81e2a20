package file

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
)

// numbered is a decoder for the crash test: "n=<k> ..." lines whose time is
// derived from k, as real log lines carry their own time.
type numbered struct{}

func (numbered) Line(line []byte, emit func(event.Event)) error {
	s := string(line)
	k, err := strconv.Atoi(strings.TrimPrefix(strings.Fields(s)[0], "n="))
	if err != nil {
		return err
	}
	emit(event.Event{Time: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC).Add(time.Duration(k) * time.Millisecond), Raw: s})
	return nil
}
func (numbered) Flush(func(event.Event)) {}
func (numbered) Pending() bool           { return false }

// durableSink appends "ID raw" lines to a file and fsyncs before returning,
// as a durable ingest would.
type durableSink struct{ f *os.File }

func (d durableSink) Write(ctx context.Context, batch []event.Event) error {
	var b strings.Builder
	for _, ev := range batch {
		fmt.Fprintf(&b, "%s %s\n", ev.ID, ev.Raw)
	}
	if _, err := d.f.WriteString(b.String()); err != nil {
		return err
	}
	return d.f.Sync()
}

// TestCrashChild is the process that TestCrashNoLoss kills.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("VIGIL_FILE_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrashNoLoss")
	}
	out, err := os.OpenFile(filepath.Join(dir, "out"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := NewCheckpointDir(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	tl, err := New(Config{Paths: []string{filepath.Join(dir, "app.log")}, PollInterval: 5 * time.Millisecond, BatchSize: 50},
		func() Decoder { return numbered{} }, durableSink{out}, cp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tl.Run(context.Background()) // until killed
}

// TestCrashNoLoss kills a tailing process with SIGKILL at random points
// while the file is written and rotated, restarts it, and checks that every
// line reached the sink, and that a line delivered twice (sink accepted it,
// the checkpoint was not saved yet) carried the same event ID both times,
// so that the ID-idempotent stages downstream keep it once.
func TestCrashNoLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	const total = 8000
	out := filepath.Join(dir, "out")
	written := make(chan error, 1)
	go func() {
		rnd := rand.New(rand.NewPCG(1, 2))
		first := 0 // first line of the live file
		for k := 0; k < total; {
			var b strings.Builder
			for range 1 + rnd.IntN(50) {
				if k == total {
					break
				}
				fmt.Fprintf(&b, "n=%d user=alice action=login\n", k)
				k++
			}
			f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				written <- err
				return
			}
			f.WriteString(b.String())
			f.Close()
			if k-first > 1500 && k < total {
				// Rename rotation, once the tailer has seen the live file:
				// a poller cannot know of a file made and renamed away
				// between two looks.
				for {
					ids, _ := readOut(t, out)
					if len(ids[fmt.Sprintf("n=%d user=alice action=login", first)]) > 0 {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				os.Rename(log, fmt.Sprintf("%s.%d", log, k))
				first = k
			}
			time.Sleep(time.Duration(rnd.IntN(5)) * time.Millisecond)
		}
		written <- nil
	}()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "VIGIL_FILE_CRASH_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	kills := 0
	for done := false; !done; {
		select {
		case err := <-written:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		cmd := start()
		time.Sleep(time.Duration(10+rnd.IntN(80)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		kills++
	}
	cmd := start()
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}()
	ids := map[string]map[string]bool{} // raw -> IDs
	lines := 0
	deadline := time.Now().Add(60 * time.Second)
	for len(ids) < total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		ids, lines = readOut(t, out)
	}
	for k := range total {
		raw := fmt.Sprintf("n=%d user=alice action=login", k)
		switch n := len(ids[raw]); {
		case n == 0:
			t.Errorf("line %q lost", raw)
		case n > 1:
			t.Errorf("line %q delivered with %d different IDs; want one", raw, n)
		}
	}
	if len(ids) != total {
		t.Errorf("%d distinct lines in the sink, want %d", len(ids), total)
	}
	t.Logf("%d kills: %d lines delivered for %d written (%d repeated, each with its first ID)", kills, lines, total, lines-len(ids))
}

func readOut(t *testing.T, path string) (map[string]map[string]bool, int) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	ids := map[string]map[string]bool{}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, raw, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue // a line cut by a kill mid-write is not accepted
		}
		if ids[raw] == nil {
			ids[raw] = map[string]bool{}
		}
		ids[raw][id] = true
		n++
	}
	return ids, n
}
