package file

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/danang-soc/vigil/event"
)

// FieldFilePath is the field that names the file an event was read from
// (Elastic Common Schema).
const FieldFilePath = "log.file.path"

// fpMax is how many first bytes of a file fingerprint it.
const fpMax = 64

// readBuf is the size of one read from a file.
const readBuf = 256 << 10

// Backoff between retries of a refused batch.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 5 * time.Second
)

// Stats are a tailer's counters since it was made.
type Stats struct {
	Lines        uint64 // lines fed to decoders
	Events       uint64 // events the sink accepted
	DecodeErrors uint64 // lines a decoder reported as not understood
	Truncated    uint64 // lines longer than MaxLine, cut to it
	Rotations    uint64 // files renamed or deleted while tailed
	Truncations  uint64 // files that shrank or were rewritten (copytruncate)
	SinkErrors   uint64 // refused sink writes (each is retried)
	SaveErrors   uint64 // failed checkpoint saves (retried with the next batch)
	Files        int    // files open now
}

// Tailer follows the files of a Config and writes their events to a sink.
type Tailer struct {
	cfg    Config
	newDec func() Decoder
	sink   event.Sink
	cp     Checkpoints
	log    *slog.Logger
	now    func() time.Time
	idSalt string // host and tailer name, for record IDs

	// Owned by the Run goroutine.
	files  map[fileID]*tailFile
	saved  map[fileID]fileState // checkpointed files not found yet
	buf    []byte
	batch  []event.Event
	warned map[string]bool
	// readTime stamps Received: the clock read once per chunk read.
	readTime time.Time

	running                                      atomic.Bool
	lines, events, decodeErrors, truncatedLines  atomic.Uint64
	rotations, truncations, sinkErrors, saveErrs atomic.Uint64
	nfiles                                       atomic.Int64
}

// tailFile is one open file. Offsets: read is the next byte to read;
// lineStart the start of the line being assembled; safe the record boundary
// up to which every record's events have been emitted (and none beyond);
// committed the safe offset of the last batch the sink accepted.
type tailFile struct {
	id        fileID
	path      string
	f         *os.File
	dec       Decoder
	read      int64
	lineStart int64
	safe      int64
	committed int64
	carry     []byte
	cutting   bool // skipping the rest of an over-long line
	emitMark  int  // len(batch) when the current line started
	fpLen     int
	fp        uint64
	rotated   bool
	lastData  time.Time
	emit      func(event.Event)
	// anchor is the safe offset the events being emitted follow, ordinal
	// their number since it moved: with the file's identity they name a
	// record the same way every time it is read (see recordID).
	anchor  int64
	ordinal int
}

// New checks cfg and returns a tailer. newDecoder makes the decoder of each
// file (nil: Lines with no log source); cp keeps the checkpoint under
// cfg.Name; log may be nil; now may be nil (time.Now) and stamps Received and
// measures idleness.
func New(cfg Config, newDecoder func() Decoder, sink event.Sink, cp Checkpoints, log *slog.Logger, now func() time.Time) (*Tailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil || cp == nil {
		return nil, errors.New("file: nil sink or checkpoints")
	}
	if newDecoder == nil {
		newDecoder = func() Decoder { return Lines{} }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	cfg = cfg.withDefaults()
	// The host name keeps record IDs apart between machines whose files
	// share inode numbers and content (cloned virtual machines).
	host, _ := os.Hostname()
	return &Tailer{cfg: cfg, newDec: newDecoder, sink: sink, cp: cp, log: log, now: now, idSalt: host + "\x00" + cfg.Name}, nil
}

// Stats returns the counters.
func (t *Tailer) Stats() Stats {
	return Stats{
		Lines: t.lines.Load(), Events: t.events.Load(), DecodeErrors: t.decodeErrors.Load(),
		Truncated: t.truncatedLines.Load(), Rotations: t.rotations.Load(), Truncations: t.truncations.Load(),
		SinkErrors: t.sinkErrors.Load(), SaveErrors: t.saveErrs.Load(), Files: int(t.nfiles.Load()),
	}
}

// Run tails until ctx ends, then closes its files and returns nil; it
// returns an error only for a checkpoint it cannot read. A Tailer runs once.
func (t *Tailer) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("file: tailer already ran")
	}
	st, found, err := loadState(ctx, t.cp, t.cfg.Name)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	t.files = map[fileID]*tailFile{}
	t.saved = map[fileID]fileState{}
	t.warned = map[string]bool{}
	t.buf = make([]byte, readBuf)
	t.batch = make([]event.Event, 0, t.cfg.BatchSize)
	for _, s := range st.Files {
		t.saved[s.id()] = s
	}
	defer func() {
		for _, tf := range t.files {
			tf.f.Close()
		}
		t.nfiles.Store(0)
	}()

	t.scan(ctx, !found)
	t.recoverRotated()
	t.save(ctx) // a restart is no longer a first run; new files are known
	timer := time.NewTimer(t.cfg.PollInterval)
	defer timer.Stop()
	for {
		progressed, err := t.pass(ctx)
		if err != nil || ctx.Err() != nil {
			return nil
		}
		if !progressed {
			timer.Reset(t.cfg.PollInterval)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		}
		t.scan(ctx, false)
	}
}

// scan finds the files the patterns match now, opens new ones and marks
// those no longer matched as rotated. New files are checkpointed at once, so
// that a file seen once is found again after a crash even if it is rotated
// away meanwhile.
func (t *Tailer) scan(ctx context.Context, first bool) {
	seen := map[fileID]bool{}
	opened := false
	for _, pat := range t.cfg.Paths {
		matches, _ := filepath.Glob(pat) // patterns were validated
		for _, p := range matches {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			id := identityOf(p, fi)
			if seen[id] {
				continue
			}
			seen[id] = true
			if tf := t.files[id]; tf != nil {
				tf.path, tf.rotated = p, false
				continue
			}
			opened = t.open(p, fi, id, first) != nil || opened
		}
	}
	if opened && !first {
		t.save(ctx)
	}
	for id, tf := range t.files {
		if !seen[id] && !tf.rotated {
			tf.rotated = true
			t.rotations.Add(1)
			t.log.Info("tailed file rotated or deleted; reading it to its end", "path", tf.path)
		}
	}
}

// open starts tailing a file: at its checkpoint when the checkpoint is for
// this very file, else at its start (or its end on a first run with FromEnd).
func (t *Tailer) open(path string, fi os.FileInfo, id fileID, first bool) *tailFile {
	f, err := os.Open(path)
	if err != nil {
		if !t.warned[path] {
			t.warned[path] = true
			t.log.Warn("cannot open file to tail", "path", path, "err", err)
		}
		return nil
	}
	delete(t.warned, path)
	tf := &tailFile{id: id, path: path, f: f, dec: t.newDec(), lastData: t.now()}
	var start int64
	if s, ok := t.saved[id]; ok {
		delete(t.saved, id)
		if fi.Size() >= s.Offset && fingerprintIs(f, s.FPLen, s.FP) {
			start, tf.fpLen, tf.fp = s.Offset, s.FPLen, s.FP
		} else {
			t.log.Info("checkpointed file was rewritten; reading it from the start", "path", path)
		}
	} else if first && t.cfg.FromEnd {
		start = fi.Size()
	}
	tf.read, tf.lineStart, tf.safe, tf.committed, tf.anchor = start, start, start, start, start
	tf.emit = func(ev event.Event) {
		if tf.safe != tf.anchor {
			tf.anchor, tf.ordinal = tf.safe, 0
		}
		if ev.ID.IsZero() && !ev.Time.IsZero() {
			ev.ID = recordID(t.idSalt, tf.id, tf.anchor, tf.ordinal, &ev)
		}
		tf.ordinal++
		ev.Received = t.readTime
		if ev.Fields.Index(FieldFilePath) < 0 {
			ev.Fields = append(ev.Fields, event.Field{Key: FieldFilePath, Value: event.String(tf.path)})
		}
		t.batch = append(t.batch, ev)
	}
	t.files[id] = tf
	t.nfiles.Store(int64(len(t.files)))
	return tf
}

// recoverRotated looks for checkpointed files that no pattern matches any
// more (rotated while vigil was down) beside their old path, and reads the
// rest of them before their successors.
func (t *Tailer) recoverRotated() {
	for id, s := range t.saved {
		delete(t.saved, id)
		dir := filepath.Dir(s.Path)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		found := false
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() || identityOf(p, fi) != id {
				continue
			}
			t.saved[id] = s
			if tf := t.open(p, fi, id, false); tf != nil {
				tf.rotated = true
				found = true
			}
			break
		}
		if !found {
			t.log.Warn("checkpointed file is gone; its unread end, if any, is lost", "path", s.Path)
		}
	}
}

// pass reads every file once, rotated files first, and reports whether any
// new data was read. It fails only when ctx ends.
func (t *Tailer) pass(ctx context.Context) (bool, error) {
	list := make([]*tailFile, 0, len(t.files))
	for _, tf := range t.files {
		list = append(list, tf)
	}
	slices.SortFunc(list, func(a, b *tailFile) int {
		if a.rotated != b.rotated {
			if a.rotated {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.path, b.path)
	})
	progressed := false
	for _, tf := range list {
		n, err := t.readFile(ctx, tf)
		if err != nil {
			return progressed, err
		}
		progressed = progressed || n > 0
	}
	return progressed, nil
}

// readFile reads what is new in one file, handles truncation, idleness and
// the end of a rotated file, and writes the events.
func (t *Tailer) readFile(ctx context.Context, tf *tailFile) (int64, error) {
	fi, err := tf.f.Stat()
	if err != nil {
		return 0, nil
	}
	t.readTime = t.now()
	if t.rewritten(tf, fi.Size()) {
		t.truncations.Add(1)
		t.log.Info("tailed file truncated or rewritten; reading it from the start", "path", tf.path)
		t.flushFile(tf)
		if err := t.write(ctx, tf); err != nil {
			return 0, err
		}
		tf.dec = t.newDec()
		tf.read, tf.lineStart, tf.safe, tf.committed, tf.anchor, tf.ordinal = 0, 0, 0, 0, 0, 0
		tf.fpLen, tf.fp = 0, 0
		t.rewritten(tf, fi.Size()) // fingerprint the new content
		t.save(ctx)
	}
	var total int64
	for {
		n, err := tf.f.ReadAt(t.buf, tf.read)
		t.readTime = t.now()
		if n > 0 {
			total += int64(n)
			if err := t.consume(ctx, tf, t.buf[:n]); err != nil {
				return total, err
			}
		}
		if err != nil || n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				t.log.Warn("reading tailed file", "path", tf.path, "err", err)
			}
			break
		}
	}
	now := t.now()
	t.readTime = now
	if total > 0 {
		tf.lastData = now
	}
	idle := now.Sub(tf.lastData)
	if total == 0 && idle >= t.cfg.IdleFlush && (len(tf.carry) > 0 || tf.cutting || tf.dec.Pending()) {
		t.flushFile(tf)
	}
	if err := t.write(ctx, tf); err != nil {
		return total, err
	}
	if tf.rotated && total == 0 && idle >= t.cfg.RotateWait {
		t.flushFile(tf)
		if err := t.write(ctx, tf); err != nil {
			return total, err
		}
		tf.f.Close()
		delete(t.files, tf.id)
		t.nfiles.Store(int64(len(t.files)))
		t.save(ctx)
		t.log.Info("finished rotated file", "path", tf.path)
	}
	return total, nil
}

// rewritten reports whether the file shrank below what was read or its
// first bytes changed, and extends the fingerprint as the file grows.
func (t *Tailer) rewritten(tf *tailFile, size int64) bool {
	if size < tf.read {
		return true
	}
	n := int(min(size, fpMax))
	if n == 0 {
		return false
	}
	var buf [fpMax]byte
	head := buf[:n]
	if m, _ := tf.f.ReadAt(head, 0); m < n {
		return false
	}
	if tf.fpLen > 0 && fnv64(head[:tf.fpLen]) != tf.fp {
		return true
	}
	if n > tf.fpLen {
		tf.fpLen, tf.fp = n, fnv64(head)
	}
	return false
}

func fnv64(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// fingerprintIs reports whether the first n bytes of f hash to fp.
func fingerprintIs(f *os.File, n int, fp uint64) bool {
	if n == 0 {
		return true
	}
	head := make([]byte, n)
	if m, _ := f.ReadAt(head, 0); m < n {
		return false
	}
	return fnv64(head) == fp
}

// consume splits data, the bytes at tf.read, into lines and feeds them.
func (t *Tailer) consume(ctx context.Context, tf *tailFile, data []byte) error {
	pos := tf.read
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if !tf.cutting {
				if room := t.cfg.MaxLine - len(tf.carry); len(data) >= room {
					tf.carry = append(tf.carry, data[:room]...)
					t.truncatedLines.Add(1)
					t.feed(tf, tf.carry)
					tf.carry = tf.carry[:0]
					tf.cutting = true
				} else {
					tf.carry = append(tf.carry, data...)
				}
			}
			tf.read = pos + int64(len(data))
			return nil
		}
		end := pos + int64(i) + 1
		if tf.cutting {
			tf.cutting = false
		} else {
			line := data[:i]
			if len(tf.carry) > 0 {
				tf.carry = append(tf.carry, line...)
				line = tf.carry
			}
			if len(line) > t.cfg.MaxLine {
				line = line[:t.cfg.MaxLine]
				t.truncatedLines.Add(1)
			}
			t.feed(tf, line)
			tf.carry = tf.carry[:0]
		}
		t.boundary(tf, end)
		tf.read, pos, data = end, end, data[i+1:]
		if len(t.batch) >= t.cfg.BatchSize {
			if err := t.write(ctx, tf); err != nil {
				return err
			}
		}
	}
	return nil
}

// feed gives one line to the file's decoder. A decoder that panics on its
// input is replaced, so that bad input never stops the tailer.
func (t *Tailer) feed(tf *tailFile, line []byte) {
	t.lines.Add(1)
	defer func() {
		if r := recover(); r != nil {
			t.decodeErrors.Add(1)
			t.log.Error("decoder panicked; its pending record is lost", "path", tf.path, "panic", fmt.Sprint(r))
			tf.dec = t.newDec()
		}
	}()
	if err := tf.dec.Line(line, tf.emit); err != nil {
		t.decodeErrors.Add(1)
		t.log.Debug("line not understood", "path", tf.path, "err", err)
	}
}

// boundary moves the safe offset after a line that ended at end: to end when
// the decoder holds nothing back, to the line's start when the line emitted
// events and began a pending record.
func (t *Tailer) boundary(tf *tailFile, end int64) {
	if !tf.dec.Pending() {
		tf.safe = end
	} else if len(t.batch) > tf.emitMark {
		tf.safe = tf.lineStart
	}
	tf.lineStart = end
	tf.emitMark = len(t.batch)
}

// flushFile emits everything the file holds back: a partial last line and
// the decoder's pending record.
func (t *Tailer) flushFile(tf *tailFile) {
	if len(tf.carry) > 0 && !tf.cutting {
		t.feed(tf, tf.carry)
	}
	tf.carry, tf.cutting = tf.carry[:0], false
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.decodeErrors.Add(1)
				t.log.Error("decoder panicked in flush", "path", tf.path, "panic", fmt.Sprint(r))
				tf.dec = t.newDec()
			}
		}()
		tf.dec.Flush(tf.emit)
	}()
	tf.safe, tf.lineStart, tf.emitMark = tf.read, tf.read, len(t.batch)
}

// write hands the pending events to the sink, retrying until it accepts them
// or ctx ends, then advances the file's checkpoint.
func (t *Tailer) write(ctx context.Context, tf *tailFile) error {
	if len(t.batch) > 0 {
		wait := retryMin
		for {
			err := t.sink.Write(ctx, t.batch)
			if err == nil {
				break
			}
			t.sinkErrors.Add(1)
			if wait == retryMin {
				t.log.Warn("sink refused tailed events; retrying", "path", tf.path, "events", len(t.batch), "err", err)
			}
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
			wait = min(wait*2, retryMax)
			// Keep looking for new and rotated files meanwhile, so that a
			// file made and rotated away while the sink is down is not missed.
			t.scan(ctx, false)
		}
		t.events.Add(uint64(len(t.batch)))
		// The sink may keep the slice: the next batch gets a new one.
		t.batch = make([]event.Event, 0, t.cfg.BatchSize)
		tf.emitMark = 0
	}
	if tf.committed != tf.safe {
		tf.committed = tf.safe
		t.save(ctx)
	}
	return nil
}

// save writes the checkpoint of every open file (and of checkpointed files
// not found yet). A failure is counted and logged; the next save retries.
func (t *Tailer) save(ctx context.Context) {
	st := state{Version: 1, Files: make([]fileState, 0, len(t.files)+len(t.saved))}
	for _, tf := range t.files {
		st.Files = append(st.Files, fileState{Path: tf.path, Dev: tf.id.Dev, Ino: tf.id.Ino,
			Offset: tf.committed, FPLen: tf.fpLen, FP: tf.fp})
	}
	for _, s := range t.saved {
		st.Files = append(st.Files, s)
	}
	slices.SortFunc(st.Files, func(a, b fileState) int { return cmp.Compare(a.Path, b.Path) })
	b, err := json.Marshal(st)
	if err == nil {
		err = t.cp.Save(context.WithoutCancel(ctx), t.cfg.Name, b)
	}
	if err != nil {
		t.saveErrs.Add(1)
		t.log.Warn("saving file checkpoint", "name", t.cfg.Name, "err", err)
	}
}

// recordID derives the ID of an event that has a time from where its record
// lies (salt: the host and the tailer's name; the file's identity, the record
// boundary it follows and its number after it), its time and its raw text.
// Reading the same record again after a crash (the sink accepted it but the
// checkpoint was not saved yet) yields the same ID, and downstream stages,
// which are idempotent by ID, keep it once. The first six bytes are the
// event's time in milliseconds, as in NewID.
func recordID(salt string, id fileID, anchor int64, ordinal int, ev *event.Event) event.ID {
	h := fnv.New128a()
	var b [40]byte
	binary.BigEndian.PutUint64(b[0:], id.Dev)
	binary.BigEndian.PutUint64(b[8:], id.Ino)
	binary.BigEndian.PutUint64(b[16:], uint64(anchor))
	binary.BigEndian.PutUint64(b[24:], uint64(ordinal))
	binary.BigEndian.PutUint64(b[32:], uint64(ev.Time.UnixNano()))
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(id.Path))
	h.Write([]byte{0})
	h.Write(b[:])
	h.Write([]byte(ev.Raw))
	var sum [16]byte
	h.Sum(sum[:0])
	var out event.ID
	ms := uint64(ev.Time.UnixMilli())
	out[0], out[1], out[2], out[3], out[4], out[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	copy(out[6:], sum[:10])
	return out
}
