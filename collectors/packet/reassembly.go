package packet

import (
	"slices"
	"time"
)

// halfStream reassembles one direction of a TCP connection. Bytes are
// delivered in sequence order as soon as they are contiguous; segments that
// come early are copied and held, within the flow and global bounds, until
// the hole before them fills or is given up on.
type halfStream struct {
	started bool   // next is known
	fresh   bool   // the connection was found at its start: no bytes came before
	base    uint32 // sequence number of the first byte of the stream
	next    uint32 // sequence number of the next byte to deliver
	fin     bool   // FIN seen
	finSeq  uint32 // sequence number of the FIN
	held    []heldSegment
	heldLen int

	packets, bytes uint64 // all segments and payload bytes seen, for the flow record
}

type heldSegment struct {
	seq  uint32
	ts   time.Time
	data []byte
}

// done reports whether the stream has ended: its FIN came and every byte
// before it was delivered.
func (h *halfStream) done() bool {
	return h.fin && len(h.held) == 0 && (!h.started || seqDiff(h.next, h.finSeq) >= 0)
}

// seqDiff is a-b in sequence space, which wraps around.
func seqDiff(a, b uint32) int32 { return int32(a - b) }

// deliverFunc receives contiguous bytes of one direction.
type deliverFunc func(ts time.Time, b []byte)

// gapFunc is told that bytes were lost; resume is the stream offset of the
// next byte delivered.
type gapFunc func(resume uint32)

// add takes the payload of one segment. It returns the number of bytes newly
// held out of order (negative when bytes were released).
func (h *halfStream) add(a *Decoder, ts time.Time, seq uint32, payload []byte, deliver deliverFunc, gap gapFunc) {
	if !h.started {
		// A capture that starts inside the connection: begin here, and tell
		// the decoder that what came before is unknown.
		h.started = true
		h.next, h.base = seq, seq
		if !h.fresh {
			a.stats.Gaps++
			gap(0)
		}
	}
	d := seqDiff(seq, h.next)
	if d < 0 {
		if int(-d) >= len(payload) {
			a.stats.Retransmitted++
			return
		}
		payload = payload[-d:]
		seq = h.next
		d = 0
	}
	if d > 0 {
		a.stats.OutOfOrder++
		h.hold(a, ts, seq, payload)
		if h.heldLen > a.cfg.MaxFlowBuffer || a.buffered > a.cfg.MaxBuffer {
			h.skip(a, gap)
			h.drain(a, deliver)
		}
		return
	}
	deliver(ts, payload)
	h.next += uint32(len(payload))
	if len(h.held) > 0 {
		h.drain(a, deliver)
	}
}

// hold copies an early segment into the sorted held list.
func (h *halfStream) hold(a *Decoder, ts time.Time, seq uint32, payload []byte) {
	i, found := slices.BinarySearchFunc(h.held, seq, func(s heldSegment, seq uint32) int {
		return int(seqDiff(s.seq, seq))
	})
	if found {
		if len(h.held[i].data) >= len(payload) {
			a.stats.Retransmitted++
			return
		}
		h.heldLen -= len(h.held[i].data)
		a.buffered -= len(h.held[i].data)
		h.held[i] = heldSegment{seq, ts, append([]byte(nil), payload...)}
	} else {
		h.held = slices.Insert(h.held, i, heldSegment{seq, ts, append([]byte(nil), payload...)})
	}
	h.heldLen += len(payload)
	a.buffered += len(payload)
}

// drain delivers the held segments that have become contiguous.
func (h *halfStream) drain(a *Decoder, deliver deliverFunc) {
	n := 0
	for _, s := range h.held {
		d := seqDiff(s.seq, h.next)
		if d > 0 {
			break
		}
		n++
		h.heldLen -= len(s.data)
		a.buffered -= len(s.data)
		if int(-d) < len(s.data) {
			b := s.data[-d:]
			deliver(s.ts, b)
			h.next += uint32(len(b))
		}
	}
	if n > 0 {
		clear(h.held[:n])
		h.held = h.held[n:]
		if len(h.held) == 0 {
			h.held = nil
		}
	}
}

// skip gives up on the hole before the first held segment.
func (h *halfStream) skip(a *Decoder, gap gapFunc) {
	if len(h.held) == 0 {
		return
	}
	a.stats.Gaps++
	a.stats.LostBytes += uint64(seqDiff(h.held[0].seq, h.next))
	h.next = h.held[0].seq
	gap(h.next - h.base)
}

// flush delivers everything held, declaring the holes lost.
func (h *halfStream) flush(a *Decoder, deliver deliverFunc, gap gapFunc) {
	for len(h.held) > 0 {
		h.skip(a, gap)
		h.drain(a, deliver)
	}
}
