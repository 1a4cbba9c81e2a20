package file

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

// memSink keeps the messages it accepts; it refuses while fail is set, and
// refuses at random with probability flaky.
type memSink struct {
	mu     sync.Mutex
	msgs   []string
	paths  []string
	ids    []event.ID
	fail   bool
	flaky  float64
	rnd    *rand.Rand
	writes int
}

func (m *memSink) Write(ctx context.Context, batch []event.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail || (m.flaky > 0 && m.rnd.Float64() < m.flaky) {
		return errors.New("sink unavailable")
	}
	m.writes++
	for _, ev := range batch {
		m.msgs = append(m.msgs, ev.Fields.Str(event.FieldMessage))
		m.paths = append(m.paths, ev.Fields.Str(FieldFilePath))
		m.ids = append(m.ids, ev.ID)
	}
	return nil
}

func (m *memSink) setFail(v bool) {
	m.mu.Lock()
	m.fail = v
	m.mu.Unlock()
}

func (m *memSink) messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

const poll = 100 * time.Millisecond

// testConfig is a tailer configuration on a fake clock.
func testConfig(paths ...string) Config {
	return Config{Paths: paths, PollInterval: poll, IdleFlush: time.Second, RotateWait: 2 * time.Second}
}

// running is a tailer running in the test's bubble.
type running struct {
	tl     *Tailer
	cancel context.CancelFunc
	done   chan error
}

func run(t *testing.T, cfg Config, dec func() Decoder, sink event.Sink, cp Checkpoints) *running {
	t.Helper()
	tl, err := New(cfg, dec, sink, cp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{tl: tl, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- tl.Run(ctx) }()
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}

// settle lets the tailer poll a few times on the fake clock.
func settle() {
	time.Sleep(3 * poll)
	synctest.Wait()
}

func checkpoints(t *testing.T) *CheckpointDir {
	cp, err := NewCheckpointDir(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	return b.String()
}

func names(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

func TestTailPartialLinesAndIdleFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		appendFile(t, log, "one\ntw")
		sink := &memSink{}
		r := run(t, testConfig(log), nil, sink, checkpoints(t))
		defer r.stop(t)
		settle()
		if diff := cmp.Diff([]string{"one"}, sink.messages()); diff != "" {
			t.Errorf("a partial line was emitted (-want +got):\n%s", diff)
		}
		appendFile(t, log, "o\nthr")
		settle()
		if diff := cmp.Diff([]string{"one", "two"}, sink.messages()); diff != "" {
			t.Errorf("completed line (-want +got):\n%s", diff)
		}
		time.Sleep(time.Second) // IdleFlush with no new data
		synctest.Wait()
		if diff := cmp.Diff([]string{"one", "two", "thr"}, sink.messages()); diff != "" {
			t.Errorf("after the idle flush (-want +got):\n%s", diff)
		}
		if st := r.tl.Stats(); st.Lines != 3 || st.Events != 3 || st.Files != 1 {
			t.Errorf("Stats() = %+v, want 3 lines, 3 events, 1 file", st)
		}
	})
}

func TestRenameRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		appendFile(t, log, lines("old", 0, 100))
		sink := &memSink{}
		r := run(t, testConfig(log), nil, sink, checkpoints(t))
		defer r.stop(t)
		settle()
		// logrotate renames; the writer keeps writing to the old file until
		// it reopens, and the new file starts.
		if err := os.Rename(log, log+".1"); err != nil {
			t.Fatal(err)
		}
		appendFile(t, log+".1", lines("old", 100, 150))
		appendFile(t, log, lines("new", 0, 50))
		settle()
		want := append(append(names("old", 0, 100), names("old", 100, 150)...), names("new", 0, 50)...)
		if diff := cmp.Diff(want, sink.messages()); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
		time.Sleep(3 * time.Second) // RotateWait: the old file is closed
		synctest.Wait()
		if st := r.tl.Stats(); st.Rotations != 1 || st.Files != 1 {
			t.Errorf("Stats() = %+v, want 1 rotation and 1 open file", st)
		}
	})
}

func TestCopyTruncateRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		appendFile(t, log, lines("before", 0, 100))
		sink := &memSink{}
		r := run(t, testConfig(log), nil, sink, checkpoints(t))
		defer r.stop(t)
		settle()
		// copytruncate: copy away, truncate in place, the writer goes on.
		b, _ := os.ReadFile(log)
		os.WriteFile(log+".1", b, 0o600)
		if err := os.Truncate(log, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, log, lines("after", 0, 5))
		settle()
		// Truncated and quickly rewritten past the old offset: the
		// fingerprint of the first bytes tells.
		os.Truncate(log, 0)
		appendFile(t, log, lines("again-with-longer-lines-than-before", 0, 100))
		settle()
		want := append(append(names("before", 0, 100), names("after", 0, 5)...), names("again-with-longer-lines-than-before", 0, 100)...)
		if diff := cmp.Diff(want, sink.messages()); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
		if st := r.tl.Stats(); st.Truncations != 2 {
			t.Errorf("Stats().Truncations = %d, want 2", st.Truncations)
		}
	})
}

func TestSinkFailsThenRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		sink := &memSink{fail: true}
		cfg := testConfig(log)
		cfg.BatchSize = 7
		r := run(t, cfg, nil, sink, checkpoints(t))
		defer r.stop(t)
		appendFile(t, log, lines("x", 0, 50))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := r.tl.Stats(); st.SinkErrors < 3 || st.Events != 0 || st.Lines > 7 {
			t.Fatalf("Stats() = %+v while the sink refuses: want retries, nothing written, at most one batch read", st)
		}
		sink.setFail(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(names("x", 0, 50), sink.messages()); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
	})
}

// paragraphs is a multi-line decoder: a line starting with a space
// continues the record before it, as PostgreSQL's stderr log does.
type paragraphs struct{ cur []string }

func (p *paragraphs) Line(line []byte, emit func(event.Event)) error {
	if len(line) > 0 && line[0] == ' ' && len(p.cur) > 0 {
		p.cur = append(p.cur, string(line))
		return nil
	}
	p.Flush(emit)
	p.cur = []string{string(line)}
	return nil
}

func (p *paragraphs) Flush(emit func(event.Event)) {
	if len(p.cur) > 0 {
		msg := strings.Join(p.cur, "|")
		emit(event.Event{Time: paragraphTime, Raw: msg, Fields: event.Fields{{Key: event.FieldMessage, Value: event.String(msg)}}})
		p.cur = nil
	}
}

func (p *paragraphs) Pending() bool { return len(p.cur) > 0 }

var paragraphTime = time.Date(2026, 11, 29, 15, 36, 9, 0, time.UTC)

// lostSaves are checkpoints that are never saved, as if every save were
// cut short by a crash.
type lostSaves struct{}

func (lostSaves) Load(context.Context, string) ([]byte, error) { return nil, nil }
func (lostSaves) Save(context.Context, string, []byte) error {
	return errors.New("crashed before the save")
}

// TestReplayKeepsIDs: records read again because the checkpoint was not
// saved get the IDs they had the first time, however the file was read in
// pieces, so that downstream deduplication by ID keeps them once; distinct
// records get distinct IDs, even when their text repeats.
func TestReplayKeepsIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		text := "a\n b\n c\nd\ne\n f\nd\nd\n x\ng\n"
		dec := func() Decoder { return &paragraphs{} }
		first := &memSink{}
		r := run(t, testConfig(log), dec, first, lostSaves{})
		for _, piece := range splitAt(text, 3, 5, 9, 12, 17, 20, 22) {
			appendFile(t, log, piece)
			time.Sleep(poll)
			synctest.Wait()
		}
		time.Sleep(2 * time.Second) // idle flush of the last record
		synctest.Wait()
		r.stop(t)
		again := &memSink{}
		r = run(t, testConfig(log), dec, again, lostSaves{})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		r.stop(t)
		want := []string{"a| b| c", "d", "e| f", "d", "d| x", "g"}
		if diff := cmp.Diff(want, first.messages()); diff != "" {
			t.Fatalf("first read (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(first.messages(), again.messages()); diff != "" {
			t.Fatalf("second read (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(first.ids, again.ids); diff != "" {
			t.Errorf("IDs changed on the second read (-first +second):\n%s", diff)
		}
		seen := map[event.ID]bool{}
		for i, id := range first.ids {
			if id.IsZero() || seen[id] {
				t.Errorf("record %d (%q) has ID %v: zero or repeated", i, want[i], id)
			}
			seen[id] = true
			if !id.Time().Equal(paragraphTime) {
				t.Errorf("ID time %v, want the event time %v", id.Time(), paragraphTime)
			}
		}
	})
}

// splitAt cuts s at the given offsets.
func splitAt(s string, at ...int) []string {
	var out []string
	prev := 0
	for _, a := range at {
		out = append(out, s[prev:a])
		prev = a
	}
	return append(out, s[prev:])
}

// TestRestartNoLossNoDuplicate stops and restarts the tailer at random
// points while files are written, rotated both ways, and the sink refuses
// now and then, with a multi-line decoder; every record must arrive exactly
// once and whole.
func TestRestartNoLossNoDuplicate(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rnd := rand.New(rand.NewPCG(seed, 42))
				dir := t.TempDir()
				logA, logB := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
				cp := checkpoints(t)
				sink := &memSink{flaky: 0.2, rnd: rand.New(rand.NewPCG(seed, 7))}
				cfg := testConfig(filepath.Join(dir, "*.log"))
				cfg.BatchSize = 5
				dec := func() Decoder { return &paragraphs{} }
				var want []string
				n := 0
				write := func(path string) {
					var b strings.Builder
					for range 1 + rnd.IntN(20) {
						rec := fmt.Sprintf("%s-%d", filepath.Base(path), n)
						n++
						parts := []string{rec}
						b.WriteString(rec + "\n")
						for k := range rnd.IntN(3) {
							c := fmt.Sprintf(" cont%d", k)
							parts = append(parts, c)
							b.WriteString(c + "\n")
						}
						want = append(want, strings.Join(parts, "|"))
					}
					appendFile(t, path, b.String())
				}
				rotated := 0
				for range 12 {
					r := run(t, cfg, dec, sink, cp)
					for range 1 + rnd.IntN(4) {
						switch rnd.IntN(6) {
						case 0:
							// A poller cannot see a file that is made and
							// renamed away between two looks: rotate only
							// after the tailer has looked (it looks at least
							// once per retry of a refused batch).
							time.Sleep(retryMax + poll)
							synctest.Wait()
							rotated++
							os.Rename(logA, filepath.Join(dir, fmt.Sprintf("a.log.%d", rotated)))
						case 1:
							b, _ := os.ReadFile(logB)
							os.WriteFile(filepath.Join(dir, "b.copy"), b, 0o600)
							// copytruncate only after everything was read,
							// as lines in the copy alone are lost by design.
							time.Sleep(10 * time.Second)
							synctest.Wait()
							os.Truncate(logB, 0)
						default:
							write([]string{logA, logB}[rnd.IntN(2)])
						}
						time.Sleep(time.Duration(rnd.IntN(5)) * poll)
						synctest.Wait()
					}
					r.stop(t)
				}
				sink.flaky = 0
				r := run(t, cfg, dec, sink, cp)
				time.Sleep(30 * time.Second) // idle flush of the last records
				synctest.Wait()
				r.stop(t)
				got := sink.messages()
				count := map[string]int{}
				for _, m := range got {
					count[m]++
				}
				for _, w := range want {
					if count[w] != 1 {
						t.Errorf("record %q arrived %d times, want once", w, count[w])
					}
					delete(count, w)
				}
				for m, c := range count {
					t.Errorf("unexpected record %q (%d times): a record was split or mangled", m, c)
				}
				if len(want) < 20 {
					t.Errorf("only %d records written: the test exercises too little", len(want))
				}
			})
		})
	}
}

// TestRotatedWhileStopped: a file rotated out of the pattern while vigil was
// down is found beside its old path and read to its end first.
func TestRotatedWhileStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		cp := checkpoints(t)
		sink := &memSink{}
		appendFile(t, log, lines("a", 0, 10))
		r := run(t, testConfig(log), nil, sink, cp)
		settle()
		r.stop(t)
		appendFile(t, log, lines("a", 10, 20)) // unread when rotated
		os.Rename(log, log+".1")
		appendFile(t, log, lines("b", 0, 10))
		r = run(t, testConfig(log), nil, sink, cp)
		defer r.stop(t)
		settle()
		want := append(names("a", 0, 20), names("b", 0, 10)...)
		if diff := cmp.Diff(want, sink.messages()); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
	})
}

func TestGlobAndFromEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		appendFile(t, filepath.Join(dir, "a.log"), "old a\n")
		appendFile(t, filepath.Join(dir, "skip.txt"), "not matched\n")
		cfg := testConfig(filepath.Join(dir, "*.log"))
		cfg.FromEnd = true
		sink := &memSink{}
		cp := checkpoints(t)
		r := run(t, cfg, nil, sink, cp)
		settle()
		appendFile(t, filepath.Join(dir, "a.log"), "new a\n")
		appendFile(t, filepath.Join(dir, "b.log"), "b from its start\n")
		settle()
		r.stop(t)
		// A restart is no longer a first run: what came meanwhile is read.
		appendFile(t, filepath.Join(dir, "a.log"), "while stopped\n")
		r = run(t, cfg, nil, sink, cp)
		settle()
		r.stop(t)
		want := []string{"new a", "b from its start", "while stopped"}
		if diff := cmp.Diff(want, sink.messages()); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
	})
}

func TestLongLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		long := strings.Repeat("y", 5000)
		appendFile(t, log, "short\n"+long+"\nafter\n"+long)
		cfg := testConfig(log)
		cfg.MaxLine = 1000
		sink := &memSink{}
		r := run(t, cfg, nil, sink, checkpoints(t))
		defer r.stop(t)
		settle()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		want := []string{"short", long[:1000], "after", long[:1000]}
		if diff := cmp.Diff(want, sink.messages()); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
		if st := r.tl.Stats(); st.Truncated != 2 {
			t.Errorf("Stats().Truncated = %d, want 2", st.Truncated)
		}
	})
}

// panicky is a decoder that panics on some input.
type panicky struct{ Lines }

func (p panicky) Line(line []byte, emit func(event.Event)) error {
	if strings.Contains(string(line), "boom") {
		panic("bad input")
	}
	return p.Lines.Line(line, emit)
}

func TestDecoderPanicDoesNotStopTheTailer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "app.log")
		appendFile(t, log, "a\nboom\nb\n")
		sink := &memSink{}
		r := run(t, testConfig(log), func() Decoder { return panicky{} }, sink, checkpoints(t))
		defer r.stop(t)
		settle()
		if diff := cmp.Diff([]string{"a", "b"}, sink.messages()); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
		if st := r.tl.Stats(); st.DecodeErrors != 1 {
			t.Errorf("Stats().DecodeErrors = %d, want 1", st.DecodeErrors)
		}
	})
}

func TestCheckpointDir(t *testing.T) {
	ctx := context.Background()
	cp := checkpoints(t)
	if _, err := cp.Load(ctx, "file:/var/log/*.log"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a new key: error %v, want fs.ErrNotExist", err)
	}
	for _, v := range []string{"first", "second"} {
		if err := cp.Save(ctx, "file:/var/log/*.log", []byte(v)); err != nil {
			t.Fatal(err)
		}
		b, err := cp.Load(ctx, "file:/var/log/*.log")
		if err != nil || string(b) != v {
			t.Errorf("Load = %q, %v; want %q", b, err, v)
		}
	}
	if b, err := cp.Load(ctx, "../escape"); err == nil {
		t.Errorf("Load of another key returned %q", b)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{Paths: []string{"/var/log/*.log"}}, true},
		{Config{}, false},
		{Config{Paths: []string{""}}, false},
		{Config{Paths: []string{"/var/log/[.log"}}, false},
		{Config{Paths: []string{"/x"}, PollInterval: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tt.cfg, err, tt.ok)
		}
	}
}
