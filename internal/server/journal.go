package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/danang-soc/vigil/event"
)

// The correlation journal makes correlation state exact across a crash.
// The engine's state is snapshotted only every few seconds, but a batch is
// acknowledged on the bus as soon as it is processed: the base-rule matches
// of batches acknowledged since the last snapshot would be lost with the
// process. So each batch appends the matches it fed to correlation to a
// small journal in the store before it is acknowledged. Every observation
// has a sequence number; a snapshot records the last one it covers, and on
// start the journal's later observations are replayed on top of it. The
// journal is cleared at each snapshot and forces one when it grows past
// maxJournalBytes, so it stays small.
const (
	snapshotKey     = "correlate.snapshot"
	journalKey      = "correlate.journal"
	snapshotMagic   = "VCS1"
	maxJournalBytes = 4 << 20
)

type observation struct {
	Seq   uint64          `json:"seq"`
	Refs  []string        `json:"refs"`
	Event json.RawMessage `json:"event"`
}

// journal is guarded by pipeline.corrMu.
type journal struct {
	seq     uint64 // last sequence number given
	pending []observation
	bytes   int
	dirty   bool
}

func (j *journal) add(refs []string, ev *event.Event) {
	j.seq++
	o := observation{Seq: j.seq, Refs: refs, Event: ev.AppendJSON(nil)}
	j.pending = append(j.pending, o)
	j.bytes += len(o.Event) + 64
	j.dirty = true
}

// encodeSnapshot prefixes the engine's snapshot with the journal position
// it covers.
func encodeSnapshot(seq uint64, engine []byte) []byte {
	b := make([]byte, 0, len(snapshotMagic)+8+len(engine))
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, engine...)
}

func decodeSnapshot(b []byte) (seq uint64, engine []byte, err error) {
	if len(b) < len(snapshotMagic)+8 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return 0, nil, errors.New("correlation snapshot has no journal header")
	}
	b = b[len(snapshotMagic):]
	return binary.BigEndian.Uint64(b), b[8:], nil
}

// flushJournal writes the journal if this batch added to it; called before
// the batch is acknowledged.
func (p *pipeline) flushJournal(ctx context.Context, st stateStore) error {
	p.corrMu.Lock()
	if !p.journal.dirty {
		p.corrMu.Unlock()
		return nil
	}
	b, err := json.Marshal(p.journal.pending)
	p.journal.dirty = false
	big := p.journal.bytes > maxJournalBytes
	p.corrMu.Unlock()
	if err != nil {
		return fmt.Errorf("encoding correlation journal: %w", err)
	}
	if err := st.PutState(ctx, journalKey, b); err != nil {
		// Written again by the retry of the batch.
		p.corrMu.Lock()
		p.journal.dirty = true
		p.corrMu.Unlock()
		return fmt.Errorf("writing correlation journal: %w", err)
	}
	if big {
		return p.snapshot(ctx, st)
	}
	return nil
}

// stateStore is the store's small key/value table.
type stateStore interface {
	PutState(ctx context.Context, key string, blob []byte) error
	State(ctx context.Context, key string) ([]byte, error)
}

// snapshot saves the engine's state and empties the journal. The pipeline
// waits meanwhile, so that the snapshot and the journal agree.
func (p *pipeline) snapshot(ctx context.Context, st stateStore) error {
	p.corrMu.Lock()
	defer p.corrMu.Unlock()
	eng := p.corr.Load()
	if eng == nil {
		return nil
	}
	var b bytes.Buffer
	if err := eng.Snapshot(&b); err != nil {
		return fmt.Errorf("snapshotting correlation: %w", err)
	}
	if err := st.PutState(ctx, snapshotKey, encodeSnapshot(p.journal.seq, b.Bytes())); err != nil {
		return fmt.Errorf("saving correlation snapshot: %w", err)
	}
	// A crash here replays nothing twice: the journal's entries are all at
	// or below the snapshot's position.
	if len(p.journal.pending) > 0 {
		if err := st.PutState(ctx, journalKey, []byte("[]")); err != nil {
			return fmt.Errorf("clearing correlation journal: %w", err)
		}
	}
	p.journal.pending, p.journal.bytes, p.journal.dirty = nil, 0, false
	return nil
}

// recover restores the engine from the stored snapshot and replays the
// journal after it. Alerts the replay raises are returned for storing (their
// ids are derived from their events, so one raised before the crash is not
// stored twice).
func (p *pipeline) recover(ctx context.Context, st stateStore) ([]event.Alert, error) {
	p.corrMu.Lock()
	defer p.corrMu.Unlock()
	eng := p.corr.Load()
	var since uint64
	blob, err := st.State(ctx, snapshotKey)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading correlation snapshot: %w", err)
	default:
		seq, engine, err := decodeSnapshot(blob)
		if err == nil {
			err = eng.Restore(bytes.NewReader(engine))
		}
		if err != nil {
			// Losing half-seen patterns is better than not starting.
			p.log.Error("correlation state not restored", "err", err)
		} else {
			since = seq
		}
	}
	p.journal.seq = since
	blob, err = st.State(ctx, journalKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading correlation journal: %w", err)
	}
	var obs []observation
	if err := json.Unmarshal(blob, &obs); err != nil {
		p.log.Error("correlation journal unreadable; not replayed", "err", err)
		return nil, nil
	}
	var alerts []event.Alert
	emit := func(a event.Alert) { alerts = append(alerts, a) }
	for _, o := range obs {
		if o.Seq <= since {
			continue
		}
		ev, err := event.DecodeJSON(o.Event)
		if err != nil {
			p.log.Error("correlation journal entry unreadable; skipped", "seq", o.Seq, "err", err)
			continue
		}
		if err := eng.Observe(o.Refs, &ev, emit); err != nil {
			p.late.Inc()
		}
		p.journal.pending = append(p.journal.pending, o)
		p.journal.bytes += len(o.Event) + 64
		p.journal.seq = max(p.journal.seq, o.Seq)
	}
	if len(obs) > 0 {
		p.log.Info("correlation journal replayed", "observations", len(p.journal.pending), "alerts", len(alerts))
	}
	return alerts, nil
}
