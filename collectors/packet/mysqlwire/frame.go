package mysqlwire

import (
	"time"
)

// maxPacket is the largest payload of one protocol packet; longer payloads
// are split into packets of this size.
const maxPacket = 1<<24 - 1

// framer splits one direction's byte stream into protocol packets, joining
// the parts of a payload longer than maxPacket. Only the first bytes of a
// payload that the session asks for are kept.
type framer struct {
	hdr    [4]byte
	nhdr   int
	seq    byte
	size   int // length of the current packet
	total  int // length of the logical payload so far
	remain int
	limit  int // bytes of the payload to keep
	body   []byte
	start  time.Time
	cont   bool // the current packet continues a payload of maxPacket parts
	lost   bool
	// rows, when set, is offered each whole packet first: b starts with
	// its size bytes and goes on with the bytes after it. It counts the
	// packet and the whole packets after it as rows of a result, as long
	// as they are rows, and returns how many bytes of b it took (0 when
	// the packet is not a row). The rows counted are not framed.
	rows func(size int, b []byte) int
}

func (f *framer) reset() {
	f.nhdr, f.remain, f.size, f.total = 0, 0, 0, 0
	f.cont = false
	f.body = f.body[:0]
}

// feed splits b into payloads and hands each to handle.
func (f *framer) feed(ts time.Time, b []byte, limit func(seq byte) int, handle func(f *framer), plausible func(b []byte) bool) {
	if f.lost {
		if !plausible(b) {
			return
		}
		f.lost = false
		f.reset()
	}
	for len(b) > 0 {
		if f.remain > 0 {
			n := min(f.remain, len(b))
			if room := f.limit - len(f.body); room > 0 {
				f.body = append(f.body, b[:min(n, room)]...)
			}
			f.remain -= n
			b = b[n:]
			if f.remain == 0 {
				f.end(handle)
			}
			continue
		}
		var h []byte
		if f.nhdr == 0 && len(b) >= 4 {
			h, b = b[:4], b[4:]
		} else {
			n := copy(f.hdr[f.nhdr:], b)
			f.nhdr += n
			b = b[n:]
			if f.nhdr < 4 {
				return
			}
			f.nhdr = 0
			h = f.hdr[:]
		}
		f.size = packetSize(h)
		f.seq = h[3]
		if f.rows != nil && !f.cont && f.size > 0 && f.size < maxPacket && f.size <= len(b) {
			if n := f.rows(f.size, b); n > 0 {
				b = b[n:]
				continue
			}
		}
		f.remain = f.size
		if !f.cont {
			f.start = ts
			f.total = 0
			f.body = f.body[:0]
			f.limit = limit(f.seq)
		}
		f.total += f.size
		if len(f.body) >= f.limit && f.remain <= len(b) {
			b = b[f.remain:]
			f.remain = 0
		}
		if f.remain == 0 {
			f.end(handle)
		}
	}
}

// packetSize reads the payload length from a packet header.
func packetSize(h []byte) int { return int(h[0]) | int(h[1])<<8 | int(h[2])<<16 }

func (f *framer) end(handle func(f *framer)) {
	if f.size == maxPacket {
		f.cont = true
		return
	}
	f.cont = false
	handle(f)
	if cap(f.body) > keepBuffer {
		f.body = nil // an idle connection keeps no large buffer
	}
}

// keepBuffer is the largest packet buffer kept between packets.
const keepBuffer = 4 << 10
