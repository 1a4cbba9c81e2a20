package packet

import "encoding/binary"

// Link types of capture files (the pcap LINKTYPE_ values).
const (
	linkNull     = 0
	linkEthernet = 1
	linkRaw      = 101
	linkLoop     = 108
	linkSLL      = 113
	linkSLL2     = 276
	linkIPv4     = 228
	linkIPv6     = 229
	linkRawBSD   = 12
	linkRawOBSD  = 14
)

// TCP flags.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// segment is one decoded TCP segment. Payload aliases the packet buffer.
type segment struct {
	src, dst         [16]byte // IPv4 as IPv4-mapped IPv6
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	payload          []byte
}

var v4prefix = [12]byte{10: 0xff, 11: 0xff}

// parseFrame decodes a link-layer frame down to TCP. ok is false for
// anything that is not an unfragmented TCP segment; bad is true when the
// frame claims to be IP/TCP but is malformed or truncated.
func parseFrame(link int, b []byte, s *segment) (ok, bad bool) {
	var etype uint16
	switch link {
	case linkEthernet:
		if len(b) < 14 {
			return false, true
		}
		etype = binary.BigEndian.Uint16(b[12:14])
		b = b[14:]
		for etype == 0x8100 || etype == 0x88a8 || etype == 0x9100 {
			if len(b) < 4 {
				return false, true
			}
			etype = binary.BigEndian.Uint16(b[2:4])
			b = b[4:]
		}
	case linkSLL:
		if len(b) < 16 {
			return false, true
		}
		etype = binary.BigEndian.Uint16(b[14:16])
		b = b[16:]
	case linkSLL2:
		if len(b) < 20 {
			return false, true
		}
		etype = binary.BigEndian.Uint16(b[0:2])
		b = b[20:]
	case linkNull, linkLoop:
		if len(b) < 4 {
			return false, true
		}
		// The family is in host byte order of the capturing machine.
		fam := binary.LittleEndian.Uint32(b[:4])
		if fam > 0xffff {
			fam = binary.BigEndian.Uint32(b[:4])
		}
		b = b[4:]
		switch fam {
		case 2:
			etype = 0x0800
		case 10, 24, 28, 30:
			etype = 0x86dd
		default:
			return false, false
		}
	case linkRaw, linkRawBSD, linkRawOBSD, linkIPv4, linkIPv6:
		if len(b) < 1 {
			return false, true
		}
		switch b[0] >> 4 {
		case 4:
			etype = 0x0800
		case 6:
			etype = 0x86dd
		default:
			return false, true
		}
	default:
		return false, false
	}
	switch etype {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return false, true
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || total < ihl || len(b) < ihl {
			return false, true
		}
		if b[9] != 6 {
			return false, false
		}
		if frag := binary.BigEndian.Uint16(b[6:8]); frag&0x3fff != 0 {
			return false, false // fragments are not reassembled
		}
		if total < len(b) {
			b = b[:total] // drop link-layer padding
		}
		s.src, s.dst = [16]byte{}, [16]byte{}
		copy(s.src[:12], v4prefix[:])
		copy(s.dst[:12], v4prefix[:])
		copy(s.src[12:], b[12:16])
		copy(s.dst[12:], b[16:20])
		b = b[ihl:]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return false, true
		}
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		next := b[6]
		copy(s.src[:], b[8:24])
		copy(s.dst[:], b[24:40])
		b = b[40:]
		if plen != 0 && plen < len(b) {
			b = b[:plen]
		}
		for next != 6 {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(b) < 8 {
					return false, true
				}
				n := (int(b[1]) + 1) * 8
				if len(b) < n {
					return false, true
				}
				next, b = b[0], b[n:]
			default: // fragments and other protocols
				return false, false
			}
		}
	default:
		return false, false
	}
	if len(b) < 20 {
		return false, true
	}
	off := int(b[12]>>4) * 4
	if off < 20 || len(b) < off {
		return false, true
	}
	s.srcPort = binary.BigEndian.Uint16(b[0:2])
	s.dstPort = binary.BigEndian.Uint16(b[2:4])
	s.seq = binary.BigEndian.Uint32(b[4:8])
	s.ack = binary.BigEndian.Uint32(b[8:12])
	s.flags = b[13]
	s.payload = b[off:]
	return true, false
}
