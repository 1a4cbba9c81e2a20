package pgwire

import (
	"encoding/binary"
	"time"
)

// maxLength is the largest message length believed; the server's own limit
// is 1 GiB.
const maxLength = 1 << 30

// framer splits one direction's byte stream into messages. Bodies that the
// session wants are collected up to the message bound; the rest are only
// counted.
type framer struct {
	typed  bool // messages start with a type byte (all but the startup ones)
	hdr    [5]byte
	nhdr   int
	typ    byte
	size   int // body length of the current message
	remain int // body bytes still to come
	keep   bool
	body   []byte
	start  time.Time
	lost   bool // bytes were lost: look for a message boundary
}

func (f *framer) reset() {
	f.nhdr, f.remain, f.size = 0, 0, 0
	f.body = f.body[:0]
}

func (f *framer) hdrLen() int {
	if f.typed {
		return 5
	}
	return 4
}

// feed splits b into messages and hands each complete one to s.
func (s *Session) feed(f *framer, fromClient bool, ts time.Time, b []byte) {
	if f.lost {
		if !plausible(f, fromClient, b) {
			return
		}
		f.lost = false
		f.reset()
	}
	for len(b) > 0 {
		if f.remain > 0 {
			n := min(f.remain, len(b))
			if f.keep {
				if room := s.opt.MaxMessage - len(f.body); room > 0 {
					f.body = append(f.body, b[:min(n, room)]...)
				}
			}
			f.remain -= n
			b = b[n:]
			if f.remain == 0 {
				s.dispatch(f, fromClient)
			}
			continue
		}
		hs := f.hdrLen()
		var h []byte
		if f.nhdr == 0 && len(b) >= hs {
			h, b = b[:hs], b[hs:]
		} else {
			n := copy(f.hdr[f.nhdr:hs], b)
			f.nhdr += n
			b = b[n:]
			if f.nhdr < hs {
				return
			}
			f.nhdr = 0
			h = f.hdr[:hs]
		}
		var length int
		if f.typed {
			f.typ = h[0]
			length = int(binary.BigEndian.Uint32(h[1:5]))
		} else {
			f.typ = 0
			length = int(binary.BigEndian.Uint32(h[0:4]))
			if length > 10000 {
				length = -1 // startup packets are small
			}
		}
		if length < 4 || length > maxLength {
			s.errors++
			f.lost = true
			return
		}
		if (f.typ == 'D' || f.typ == 'd') && !fromClient && length-4 <= len(b) {
			// The common case of a result: a row wholly in this
			// segment is counted, not framed, and so are the whole
			// rows after it.
			rows, n := countRows(b[length-4:])
			b = b[length-4+n:]
			if len(s.pending) > 0 {
				head := s.pending[0]
				head.rows += 1 + rows
				head.bytes += int64(length) + 1 + int64(n)
			}
			continue
		}
		f.size = length - 4
		f.remain = f.size
		f.start = ts
		f.keep = s.wants(fromClient, f)
		f.body = f.body[:0]
		if !f.keep && f.remain <= len(b) {
			b = b[f.remain:]
			f.remain = 0
		}
		if f.remain == 0 {
			s.dispatch(f, fromClient)
		}
	}
}

// countRows counts the DataRow and CopyData messages that lie wholly at the
// start of b and returns how many bytes they take. It reads only their
// headers: a result's rows are counted, never decoded. (Each header's
// place depends on the one before, so the loop is kept short: an index
// rather than a reslice, the length read as one word.)
func countRows(b []byte) (rows int64, n int) {
	for n+5 <= len(b) {
		_ = b[n+4]
		if t := b[n]; t != 'D' && t != 'd' {
			break
		}
		length := int(uint32(b[n+1])<<24 | uint32(b[n+2])<<16 | uint32(b[n+3])<<8 | uint32(b[n+4]))
		next := n + 1 + length
		if length < 4 || length > maxLength || next > len(b) {
			break // malformed, or not wholly in b
		}
		rows++
		n = next
	}
	return rows, n
}

// plausible reports whether b, the start of a segment after lost bytes,
// starts with a message of the direction: a known type and a sane length,
// followed by another when the first ends inside b.
func plausible(f *framer, fromClient bool, b []byte) bool {
	if !f.typed {
		return len(b) >= 8 && int(binary.BigEndian.Uint32(b)) <= 10000 && int(binary.BigEndian.Uint32(b)) >= 8
	}
	for checked := 0; checked < 2; checked++ {
		if len(b) < 5 {
			return checked > 0 || len(b) == 0
		}
		known := serverTypes
		if fromClient {
			known = clientTypes
		}
		if !known[b[0]] {
			return false
		}
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if n < 4 || n > maxLength {
			return false
		}
		if 1+n >= len(b) {
			return true
		}
		b = b[1+n:]
	}
	return true
}

var clientTypes, serverTypes = func() (c, s [256]bool) {
	for _, t := range "BCdcfDEHFPpQSX" {
		c[t] = true
	}
	for _, t := range "R123cCdDEGHWnNAstTSsIKVvZ" {
		s[t] = true
	}
	return
}()
