package pgwire

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// statementEvent starts the event of a statement: its masked text,
// operation and action.
func (s *Session) statementEvent(ts time.Time, masked, outcome string) event.Event {
	op, action := dbnorm.Classify(masked)
	ev := s.newEvent(ts, "database", action, outcome)
	ev.Fields = append(ev.Fields, event.Field{Key: "db.statement", Value: event.String(masked)})
	if op != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "db.operation", Value: event.String(op)})
	}
	return ev
}

// formatParams writes bind parameters as the server logs them:
// "$1 = 'a', $2 = '1'".
func formatParams(ps []string) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(" = ")
		if p == "NULL" {
			b.WriteString(p)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(p, "'", "''"))
		b.WriteByte('\'')
	}
	return dbnorm.MaskPasswords(b.String())
}

// Type oids of the binary parameter formats decoded.
const (
	oidBool    = 16
	oidBytea   = 17
	oidInt8    = 20
	oidInt2    = 21
	oidInt4    = 23
	oidText    = 25
	oidOID     = 26
	oidFloat4  = 700
	oidFloat8  = 701
	oidVarchar = 1043
	oidUUID    = 2950
)

// paramValue renders one bind parameter as text.
func paramValue(b []byte, binFormat bool, oid uint32) string {
	cut := ""
	if len(b) > maxParamLen {
		b, cut = b[:maxParamLen], "..."
	}
	if !binFormat {
		return strings.ToValidUTF8(string(b), "\uFFFD") + cut
	}
	switch {
	case oid == oidBool && len(b) == 1:
		return strconv.FormatBool(b[0] != 0)
	case (oid == oidInt2 || oid == 0) && len(b) == 2:
		return strconv.Itoa(int(int16(binary.BigEndian.Uint16(b))))
	case (oid == oidInt4 || oid == oidOID || oid == 0) && len(b) == 4:
		return strconv.Itoa(int(int32(binary.BigEndian.Uint32(b))))
	case (oid == oidInt8 || oid == 0) && len(b) == 8:
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10)
	case oid == oidFloat4 && len(b) == 4:
		return strconv.FormatFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(b))), 'g', -1, 32)
	case oid == oidFloat8 && len(b) == 8:
		return strconv.FormatFloat(math.Float64frombits(binary.BigEndian.Uint64(b)), 'g', -1, 64)
	case oid == oidUUID && len(b) == 16:
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	case oid == oidText || oid == oidVarchar || (oid == 0 && utf8.Valid(b) && printable(b)):
		return strings.ToValidUTF8(string(b), "\uFFFD") + cut
	}
	return `\x` + hex.EncodeToString(b) + cut
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
