package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/google/gopacket/layers"
)

// The capture file formats are read here rather than with pcapgo: packets
// are handed out as slices of the buffer (or of the mapped file) without a
// copy, and corrupt lengths cannot make the reader allocate gigabytes.

// peeker is a source of bytes that can be looked at before being consumed:
// a *bufio.Reader, or memReader over a file in memory.
type peeker interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
}

// memReader is a peeker over bytes in memory.
type memReader struct {
	b   []byte
	off int
}

func (m *memReader) Peek(n int) ([]byte, error) {
	if rest := len(m.b) - m.off; n > rest {
		if rest == 0 {
			return nil, io.EOF
		}
		return m.b[m.off:], io.ErrUnexpectedEOF
	}
	return m.b[m.off : m.off+n], nil
}

func (m *memReader) Discard(n int) (int, error) {
	if rest := len(m.b) - m.off; n > rest {
		m.off = len(m.b)
		return rest, io.ErrUnexpectedEOF
	}
	m.off += n
	return n, nil
}

// errCorrupt is a record whose header makes no sense.
var errCorrupt = errors.New("corrupt capture record")

// packetSource yields the packets of a capture. data is valid until the
// next call.
type packetSource interface {
	next() (link layers.LinkType, ts time.Time, data []byte, err error)
}

// openCapture reads the file header and returns the source of packets.
func openCapture(p peeker) (packetSource, error) {
	magic, err := p.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotCapture, err)
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1:
		return openPcap(p)
	case 0x0a0d0d0a:
		return &pcapngReader{p: p}, nil
	}
	return nil, ErrNotCapture
}

type pcapReader struct {
	p     peeker
	order binary.ByteOrder
	nano  bool
	link  layers.LinkType
}

func openPcap(p peeker) (*pcapReader, error) {
	h, err := p.Peek(24)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotCapture, err)
	}
	r := &pcapReader{p: p, order: binary.LittleEndian}
	switch binary.LittleEndian.Uint32(h) {
	case 0xa1b23c4d:
		r.nano = true
	case 0xd4c3b2a1:
		r.order = binary.BigEndian
	case 0x4d3cb2a1:
		r.order, r.nano = binary.BigEndian, true
	}
	r.link = layers.LinkType(r.order.Uint32(h[20:24]) & 0xffff)
	p.Discard(24)
	return r, nil
}

func (r *pcapReader) next() (layers.LinkType, time.Time, []byte, error) {
	h, err := r.p.Peek(16)
	if err != nil {
		if err == io.EOF {
			return 0, time.Time{}, nil, io.EOF
		}
		return 0, time.Time{}, nil, io.ErrUnexpectedEOF
	}
	sec, frac := r.order.Uint32(h[0:4]), r.order.Uint32(h[4:8])
	n := int(r.order.Uint32(h[8:12]))
	if n > maxSnaplen || (frac >= 1e9) || (!r.nano && frac >= 1e6) {
		return 0, time.Time{}, nil, errCorrupt
	}
	if !r.nano {
		frac *= 1000
	}
	rec, err := r.p.Peek(16 + n)
	if err != nil {
		return 0, time.Time{}, nil, io.ErrUnexpectedEOF
	}
	r.p.Discard(16 + n)
	return r.link, time.Unix(int64(sec), int64(frac)).UTC(), rec[16:], nil
}

// pcapngReader reads the blocks of a pcapng file: section headers,
// interface descriptions, enhanced and simple packets; other blocks are
// skipped.
type pcapngReader struct {
	p      peeker
	order  binary.ByteOrder
	ifaces []ngIface
}

type ngIface struct {
	link  layers.LinkType
	scale float64 // seconds per timestamp unit, as a power of ten or two
	exp10 int     // when >= 0, the unit is 10^-exp10 s
}

func (r *pcapngReader) next() (layers.LinkType, time.Time, []byte, error) {
	for {
		h, err := r.p.Peek(8)
		if err != nil {
			if err == io.EOF {
				return 0, time.Time{}, nil, io.EOF
			}
			return 0, time.Time{}, nil, io.ErrUnexpectedEOF
		}
		typ := binary.LittleEndian.Uint32(h[0:4])
		if typ == 0x0a0d0d0a {
			sh, err := r.p.Peek(12)
			if err != nil {
				return 0, time.Time{}, nil, io.ErrUnexpectedEOF
			}
			switch binary.LittleEndian.Uint32(sh[8:12]) {
			case 0x1a2b3c4d:
				r.order = binary.LittleEndian
			case 0x4d3c2b1a:
				r.order = binary.BigEndian
			default:
				return 0, time.Time{}, nil, errCorrupt
			}
			r.ifaces = r.ifaces[:0]
		} else if r.order == nil {
			return 0, time.Time{}, nil, errCorrupt
		} else {
			typ = r.order.Uint32(h[0:4])
		}
		n := int(r.order.Uint32(h[4:8]))
		if n < 12 || n%4 != 0 {
			return 0, time.Time{}, nil, errCorrupt
		}
		switch typ {
		case 1, 3, 6: // interface description, simple packet, enhanced packet
			if n > maxSnaplen+4096 {
				return 0, time.Time{}, nil, errCorrupt
			}
		default:
			if _, err := r.p.Discard(n); err != nil {
				return 0, time.Time{}, nil, io.ErrUnexpectedEOF
			}
			continue
		}
		b, err := r.p.Peek(n)
		if err != nil {
			return 0, time.Time{}, nil, io.ErrUnexpectedEOF
		}
		r.p.Discard(n)
		body := b[8 : n-4]
		switch typ {
		case 1:
			if len(body) < 8 {
				return 0, time.Time{}, nil, errCorrupt
			}
			r.ifaces = append(r.ifaces, ngIface{link: layers.LinkType(r.order.Uint16(body)), exp10: 6})
			r.ifaceOptions(&r.ifaces[len(r.ifaces)-1], body[8:])
		case 3:
			if len(r.ifaces) == 0 || len(body) < 4 {
				return 0, time.Time{}, nil, errCorrupt
			}
			caplen := min(int(r.order.Uint32(body)), len(body)-4)
			return r.ifaces[0].link, time.Time{}, body[4 : 4+caplen], nil
		case 6:
			if len(body) < 20 {
				return 0, time.Time{}, nil, errCorrupt
			}
			id := int(r.order.Uint32(body))
			caplen := int(r.order.Uint32(body[12:16]))
			if id >= len(r.ifaces) || caplen > len(body)-20 {
				return 0, time.Time{}, nil, errCorrupt
			}
			units := uint64(r.order.Uint32(body[4:8]))<<32 | uint64(r.order.Uint32(body[8:12]))
			return r.ifaces[id].link, r.ifaces[id].time(units), body[20 : 20+caplen], nil
		}
	}
}

func (r *pcapngReader) ifaceOptions(ifc *ngIface, opts []byte) {
	for len(opts) >= 4 {
		code, n := r.order.Uint16(opts), int(r.order.Uint16(opts[2:]))
		opts = opts[4:]
		if code == 0 || n > len(opts) {
			return
		}
		if code == 9 && n >= 1 { // if_tsresol
			v := opts[0]
			if v&0x80 == 0 {
				ifc.exp10 = int(v)
			} else {
				ifc.exp10 = -1
				ifc.scale = math.Ldexp(1, -int(v&0x7f))
			}
		}
		opts = opts[(n+3)&^3:]
	}
}

func (i *ngIface) time(units uint64) time.Time {
	if i.exp10 >= 0 {
		if i.exp10 > 9 {
			div := uint64(math.Pow10(i.exp10 - 9))
			return time.Unix(0, int64(units/div)).UTC()
		}
		per := uint64(math.Pow10(i.exp10))
		mul := uint64(math.Pow10(9 - i.exp10))
		return time.Unix(int64(units/per), int64(units%per*mul)).UTC()
	}
	secs := float64(units) * i.scale
	return time.Unix(0, int64(secs*1e9)).UTC()
}
