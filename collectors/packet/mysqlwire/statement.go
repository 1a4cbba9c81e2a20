package mysqlwire

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/collectors/packet/internal/stmttext"
	"github.com/danang-soc/vigil/event"
)

// statement reports a COM_QUERY or COM_STMT_EXECUTE, or a failed
// COM_STMT_PREPARE, answered at ts; a zero ts means that its answer was not
// seen.
func (s *Session) statement(c *command, ts time.Time) {
	outcome := "success"
	switch {
	case c.err != nil:
		outcome = "failure"
	case ts.IsZero():
		outcome = "unknown"
	}
	q := stmttext.Mask(c.query)
	op, action := dbnorm.Classify(q)
	ev := s.newEvent(c.ts, "database", action, outcome)
	f := ev.Fields
	if q != "" {
		f = append(f, event.Field{Key: "db.statement", Value: event.String(q)})
	}
	if op != "" {
		f = append(f, event.Field{Key: "db.operation", Value: event.String(op)})
	}
	if !ts.IsZero() {
		f = append(f, event.Field{Key: "event.duration", Value: event.Int(int64(ts.Sub(c.ts)))})
	}
	switch c.cmd {
	case comStmtExecute:
		f = append(f, event.Field{Key: "mysql.command", Value: event.String("COM_STMT_EXECUTE")})
		if c.params != "" {
			f = append(f, event.Field{Key: "db.statement.parameters", Value: event.String(c.params)})
		}
	case comStmtPrepare:
		f = append(f, event.Field{Key: "mysql.command", Value: event.String("COM_STMT_PREPARE")})
	default:
		f = append(f, event.Field{Key: "mysql.command", Value: event.String("COM_QUERY")})
	}
	rows := c.rows
	if c.results == 0 || (c.rows == 0 && c.ok != nil) {
		if c.ok != nil {
			rows = int64(c.ok.affected)
		}
	}
	if (c.err == nil && !ts.IsZero()) || rows > 0 {
		f = append(f, event.Field{Key: "db.response.rows", Value: event.Int(rows)})
	}
	if !ts.IsZero() || c.bytes > 0 {
		f = append(f, event.Field{Key: "db.response.bytes", Value: event.Int(c.bytes)})
	}
	msg := stmttext.Message(q)
	switch {
	case c.err != nil:
		f = appendError(f, c.err)
		msg += " -> " + strconv.Itoa(int(c.err.code)) + " " + c.err.message
	case ts.IsZero():
		msg += " -> no answer seen"
	default:
		msg += " -> " + strconv.FormatInt(rows, 10) + " rows"
	}
	f = append(f, event.Field{Key: event.FieldMessage, Value: event.String(msg)})
	ev.Fields = f
	s.emit(ev)
}

// Column types of the binary protocol.
const (
	typeDecimal    = 0x00
	typeTiny       = 0x01
	typeShort      = 0x02
	typeLong       = 0x03
	typeFloat      = 0x04
	typeDouble     = 0x05
	typeNull       = 0x06
	typeTimestamp  = 0x07
	typeLongLong   = 0x08
	typeInt24      = 0x09
	typeDate       = 0x0a
	typeTime       = 0x0b
	typeDateTime   = 0x0c
	typeYear       = 0x0d
	typeNewDate    = 0x0e
	typeTimestamp2 = 0x11
	typeDateTime2  = 0x12
	typeTime2      = 0x13
)

// executeParams renders the parameters of a COM_STMT_EXECUTE as
// "'person', 33".
func (s *Session) executeParams(st *stmt, b []byte, truncated bool) string {
	n := st.nparams
	if n <= 0 || len(b) < 5 {
		return ""
	}
	b = b[5:] // flags, iteration count
	nb := (n + 7) / 8
	if len(b) < nb+1 {
		if !truncated {
			s.errors++
		}
		return ""
	}
	nulls := b[:nb]
	bound := b[nb]
	b = b[nb+1:]
	if bound == 1 {
		if len(b) < 2*n {
			if !truncated {
				s.errors++
			}
			return ""
		}
		st.types = append(st.types[:0], b[:2*n]...)
		b = b[2*n:]
	}
	if len(st.types) < 2*n {
		return ""
	}
	var out strings.Builder
	for i := 0; i < n && i < maxParams; i++ {
		if i > 0 {
			out.WriteString(", ")
		}
		if nulls[i/8]&(1<<(i%8)) != 0 {
			out.WriteString("NULL")
			continue
		}
		v, m, ok := binaryValue(st.types[2*i], st.types[2*i+1]&0x80 != 0, b)
		if !ok {
			if !truncated {
				s.errors++
			}
			out.WriteString("?")
			break
		}
		out.WriteString(v)
		b = b[m:]
	}
	return dbnorm.MaskPasswords(out.String())
}

// binaryValue decodes one value of the binary protocol and the bytes it
// took.
func binaryValue(typ byte, unsigned bool, b []byte) (string, int, bool) {
	fixed := func(n int) bool { return len(b) >= n }
	switch typ {
	case typeNull:
		return "NULL", 0, true
	case typeTiny:
		if !fixed(1) {
			break
		}
		if unsigned {
			return strconv.Itoa(int(b[0])), 1, true
		}
		return strconv.Itoa(int(int8(b[0]))), 1, true
	case typeShort, typeYear:
		if !fixed(2) {
			break
		}
		v := binary.LittleEndian.Uint16(b)
		if unsigned || typ == typeYear {
			return strconv.Itoa(int(v)), 2, true
		}
		return strconv.Itoa(int(int16(v))), 2, true
	case typeLong, typeInt24:
		if !fixed(4) {
			break
		}
		v := binary.LittleEndian.Uint32(b)
		if unsigned {
			return strconv.FormatUint(uint64(v), 10), 4, true
		}
		return strconv.Itoa(int(int32(v))), 4, true
	case typeLongLong:
		if !fixed(8) {
			break
		}
		v := binary.LittleEndian.Uint64(b)
		if unsigned {
			return strconv.FormatUint(v, 10), 8, true
		}
		return strconv.FormatInt(int64(v), 10), 8, true
	case typeFloat:
		if !fixed(4) {
			break
		}
		return strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 'g', -1, 32), 4, true
	case typeDouble:
		if !fixed(8) {
			break
		}
		return strconv.FormatFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)), 'g', -1, 64), 8, true
	case typeDate, typeDateTime, typeTimestamp, typeNewDate, typeTimestamp2, typeDateTime2:
		if !fixed(1) || len(b) < 1+int(b[0]) {
			break
		}
		return "'" + dateTime(b[1:1+int(b[0])]) + "'", 1 + int(b[0]), true
	case typeTime, typeTime2:
		if !fixed(1) || len(b) < 1+int(b[0]) {
			break
		}
		return "'" + timeValue(b[1:1+int(b[0])]) + "'", 1 + int(b[0]), true
	default: // strings, blobs, decimals, JSON, enums, bits, geometry
		n, m := lenenc(b)
		if m == 0 || uint64(len(b)-m) < n {
			break
		}
		v := b[m : m+int(n)]
		cut := ""
		if len(v) > maxParamLen {
			v, cut = v[:maxParamLen], "..."
		}
		if typ == typeDecimal || typ == 0xf6 {
			return string(v), m + int(n), true
		}
		if !utf8.Valid(v) {
			return "x'" + hex.EncodeToString(v) + "'" + cut, m + int(n), true
		}
		return "'" + strings.ReplaceAll(string(v), "'", "''") + cut + "'", m + int(n), true
	}
	return "", 0, false
}

func dateTime(b []byte) string {
	var y, mo, d, h, mi, sec, us int
	if len(b) >= 4 {
		y, mo, d = int(binary.LittleEndian.Uint16(b)), int(b[2]), int(b[3])
	}
	if len(b) >= 7 {
		h, mi, sec = int(b[4]), int(b[5]), int(b[6])
	}
	if len(b) >= 11 {
		us = int(binary.LittleEndian.Uint32(b[7:]))
	}
	out := pad(y, 4) + "-" + pad(mo, 2) + "-" + pad(d, 2)
	if len(b) >= 7 {
		out += " " + pad(h, 2) + ":" + pad(mi, 2) + ":" + pad(sec, 2)
	}
	if us != 0 {
		out += "." + pad(us, 6)
	}
	return out
}

func timeValue(b []byte) string {
	if len(b) < 8 {
		return "00:00:00"
	}
	sign := ""
	if b[0] == 1 {
		sign = "-"
	}
	days := int(binary.LittleEndian.Uint32(b[1:]))
	out := sign + pad(days*24+int(b[5]), 2) + ":" + pad(int(b[6]), 2) + ":" + pad(int(b[7]), 2)
	if len(b) >= 12 {
		if us := int(binary.LittleEndian.Uint32(b[8:])); us != 0 {
			out += "." + pad(us, 6)
		}
	}
	return out
}

func pad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// inflater undoes the compressed protocol of one direction: each
// compressed packet (7-byte header) holds a piece of the ordinary packet
// stream, deflated when its uncompressed length is not 0.
type inflater struct {
	hdr    [7]byte
	nhdr   int
	clen   int
	ulen   int
	remain int
	buf    []byte
	skip   bool // the packet is larger than kept: its contents are lost
	lost   bool
	zr     io.ReadCloser
	out    []byte
}

// maxCompressed bounds one compressed packet kept to inflate it.
const maxCompressed = 1 << 20

func (s *Session) inflate(z *inflater, fromClient bool, ts time.Time, b []byte) {
	feed := s.feedServer
	if fromClient {
		feed = s.feedClient
	}
	if z.lost {
		z.lost = false
		z.nhdr, z.remain = 0, 0
		z.buf = z.buf[:0]
	}
	for len(b) > 0 {
		if z.remain > 0 {
			n := min(z.remain, len(b))
			if !z.skip {
				z.buf = append(z.buf, b[:n]...)
			}
			z.remain -= n
			b = b[n:]
			if z.remain == 0 {
				s.inflated(z, fromClient, ts, feed)
			}
			continue
		}
		n := copy(z.hdr[z.nhdr:], b)
		z.nhdr += n
		b = b[n:]
		if z.nhdr < 7 {
			return
		}
		z.nhdr = 0
		z.clen = int(z.hdr[0]) | int(z.hdr[1])<<8 | int(z.hdr[2])<<16
		z.ulen = int(z.hdr[4]) | int(z.hdr[5])<<8 | int(z.hdr[6])<<16
		z.remain = z.clen
		z.buf = z.buf[:0]
		z.skip = z.clen > maxCompressed
		if z.remain == 0 {
			s.inflated(z, fromClient, ts, feed)
		}
	}
}

func (s *Session) inflated(z *inflater, fromClient bool, ts time.Time, feed func(time.Time, []byte)) {
	if z.skip {
		s.errors++
		s.lose(fromClient, func(*command) bool { return false })
		z.lost = false
		return
	}
	defer func() {
		if cap(z.buf) > keepBuffer {
			z.buf = nil
		}
	}()
	if z.ulen == 0 {
		feed(ts, z.buf)
		return
	}
	var err error
	if z.zr == nil {
		z.zr, err = zlib.NewReader(bytes.NewReader(z.buf))
	} else {
		err = z.zr.(zlib.Resetter).Reset(bytes.NewReader(z.buf), nil)
	}
	if err != nil {
		s.errors++
		s.lose(fromClient, func(*command) bool { return false })
		z.lost = false
		return
	}
	if cap(z.out) < 32<<10 {
		z.out = make([]byte, 32<<10)
	}
	z.out = z.out[:cap(z.out)]
	total := 0
	for total < z.ulen {
		n, err := z.zr.Read(z.out)
		if n > 0 {
			total += n
			feed(ts, z.out[:n])
		}
		if err != nil {
			if err != io.EOF || total != z.ulen {
				s.errors++
				s.lose(fromClient, func(*command) bool { return false })
				z.lost = false
			}
			return
		}
	}
}
