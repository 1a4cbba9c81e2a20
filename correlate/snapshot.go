package correlate

import (
	"container/heap"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/danang-soc/vigil/event"
)

// The snapshot format, version 1, all integers varint unless said:
//
//	"VCORR" version(byte) started(byte) watermark
//	rules: count, then per rule: ref(string) fingerprint(8 bytes LE)
//	  keys: count, then per key: key(string) entries: count, then per
//	  entry: time delta from the previous entry, id (16 bytes), x (uvarint)
//	chained alerts: count, then per alert its JSON (string)
//	CRC-32 (IEEE) of all the above (4 bytes LE)
//
// Strings are a uvarint length and the bytes.
const (
	snapshotMagic   = "VCORR"
	snapshotVersion = 1
)

// ErrBadSnapshot is matched (errors.Is) by Restore's errors for input that
// is not a snapshot this version can read.
var ErrBadSnapshot = errors.New("bad correlation snapshot")

// Snapshot writes the Engine's state: every rule's windows, the watermark
// and the alerts kept for chains. The state is encoded in memory under the
// lock (about 40 bytes per live event_count key) and written after it is
// released, so Observe waits only for the encoding.
func (e *Engine) Snapshot(w io.Writer) error {
	b := e.encode()
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing correlation snapshot: %w", err)
	}
	return nil
}

func (e *Engine) encode() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 64
	for _, r := range e.rules {
		n += r.keys.len() * 48
	}
	b := make([]byte, 0, n)
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	if e.started {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, e.watermark)
	b = binary.AppendUvarint(b, uint64(len(e.rules)))
	for _, r := range e.rules {
		b = appendString(b, r.ref)
		b = binary.LittleEndian.AppendUint64(b, r.fingerprint)
		b = binary.AppendUvarint(b, uint64(r.keys.len()))
		r.keys.all(func(st *keyState) bool {
			b = binary.AppendUvarint(b, uint64(st.keyLen()))
			b = st.appendKey(b)
			b = binary.AppendUvarint(b, uint64(len(st.es)))
			prev := int64(0)
			for _, en := range st.es {
				b = binary.AppendVarint(b, en.t-prev)
				prev = en.t
				b = append(b, en.id[:]...)
				b = binary.AppendUvarint(b, en.x)
			}
			return true
		})
	}
	b = binary.AppendUvarint(b, uint64(e.chained.len()))
	e.chained.all(func(a *event.Alert) bool {
		j, err := json.Marshal(a)
		if err != nil {
			panic("correlate: encoding an alert: " + err.Error()) // plain data: cannot fail
		}
		b = appendString(b, string(j))
		return true
	})
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Restore replaces the Engine's state with a snapshot. State saved for a
// rule that no longer exists, or whose meaning changed (type, rules,
// group-by, timespan, condition, aliases), is left out and logged; keys
// beyond MaxKeysPerRule are evicted as usual. On error the state is
// unchanged.
func (e *Engine) Restore(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading correlation snapshot: %w", err)
	}
	s, err := decodeSnapshot(data)
	if err != nil {
		return fmt.Errorf("restoring correlation state: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	byRef := map[string]*compiled{}
	for _, r := range e.rules {
		byRef[r.ref] = r
		r.keys = newKeyTable()
		r.due = nil
		r.nextSweep = 0
	}
	for _, sr := range s.rules {
		r := byRef[sr.ref]
		switch {
		case r == nil:
			e.log.Warn("correlation state of an unknown rule dropped", "rule_id", sr.ref, "keys", len(sr.keys))
			continue
		case r.fingerprint != sr.fingerprint:
			e.log.Warn("correlation state of a changed rule dropped", "rule_id", sr.ref, "keys", len(sr.keys))
			continue
		}
		for k, es := range sr.keys {
			if r.keys.len() >= e.cfg.MaxKeysPerRule {
				e.evict(r)
			}
			st := r.keys.add([]byte(k))
			st.es = append(st.es, es...)
			if r.atClose {
				r.due = append(r.due, due{at: es[0].t + r.span, key: k})
			}
		}
		heap.Init(&r.due)
	}
	e.started, e.watermark, e.nextWork = s.started, s.watermark, math.MinInt64
	e.chained = newChainStore(e.cfg.MaxChainedAlerts)
	for _, a := range s.chained {
		e.chained.put(a)
	}
	return nil
}

type snapRule struct {
	ref         string
	fingerprint uint64
	keys        map[string][]entry
}

type snapshot struct {
	started   bool
	watermark int64
	rules     []snapRule
	chained   []*event.Alert // in the order they were kept
}

// reader decodes a snapshot; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (d *reader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or corrupt %s", ErrBadSnapshot, what)
	}
}

func (d *reader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) bytes(n uint64, what string) []byte {
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *reader) string(what string) string { return string(d.bytes(d.uvarint(what), what)) }

// count reads a count of items that take at least min bytes each, so that
// a corrupt count cannot make a huge allocation.
func (d *reader) count(min int, what string) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.fail(what)
		return 0
	}
	return int(n)
}

func decodeSnapshot(data []byte) (*snapshot, error) {
	if len(data) < len(snapshotMagic)+1+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a correlation snapshot", ErrBadSnapshot)
	}
	if v := data[len(snapshotMagic)]; v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadSnapshot, v, snapshotVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	d := &reader{b: body[len(snapshotMagic)+1:]}
	s := &snapshot{}
	s.started = d.bytes(1, "header")[0] == 1
	s.watermark = d.varint("watermark")
	nr := d.count(10, "rule count")
	for i := 0; i < nr && d.err == nil; i++ {
		sr := snapRule{ref: d.string("rule")}
		if fp := d.bytes(8, "fingerprint"); fp != nil {
			sr.fingerprint = binary.LittleEndian.Uint64(fp)
		}
		nk := d.count(2, "key count")
		sr.keys = make(map[string][]entry, nk)
		for j := 0; j < nk && d.err == nil; j++ {
			k := d.string("key")
			ne := d.count(18, "entry count")
			if ne == 0 {
				d.fail("empty key")
				break
			}
			es := make([]entry, ne)
			prev := int64(0)
			for n := range es {
				prev += d.varint("entry time")
				es[n].t = prev
				copy(es[n].id[:], d.bytes(16, "entry id"))
				es[n].x = d.uvarint("entry value")
				if n > 0 && es[n].t < es[n-1].t {
					d.fail("entry order")
				}
			}
			sr.keys[k] = es
		}
		s.rules = append(s.rules, sr)
	}
	nc := d.count(2, "chained count")
	for i := 0; i < nc && d.err == nil; i++ {
		var a event.Alert
		if err := json.Unmarshal(d.bytes(d.uvarint("alert"), "alert"), &a); err != nil {
			d.fail("alert")
			break
		}
		s.chained = append(s.chained, &a)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailer")
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}
