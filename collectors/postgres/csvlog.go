package postgres

import (
	"fmt"
	"strings"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// csvColumns are csvlog's columns in order (PostgreSQL 13 has the first 23,
// 14 adds backend_type... query_id). Their names are the fields of the
// event.
var csvColumns = [...]string{
	"log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
	"session_line_num", "command_tag", "session_start_time", "virtual_transaction_id",
	"transaction_id", "error_severity", "sql_state_code", "message", "detail", "hint",
	"internal_query", "internal_query_pos", "context", "query", "query_pos", "location",
	"application_name", "backend_type", "leader_pid", "query_id",
}

// maskedColumns may hold statements and so passwords.
var maskedColumns = [len(csvColumns)]bool{13: true, 14: true, 16: true, 18: true, 19: true}

// maxRecord bounds a record that spans lines (bytes).
const maxRecord = 4 << 20

// CSVLog decodes log_destination=csvlog, an RFC 4180 CSV file whose records
// span lines when a value holds a newline.
type CSVLog struct {
	b       builder
	line    int
	start   int // line number of the pending record's first line
	buf     []byte
	inQuote bool
	cols    [len(csvColumns) + 1]string
}

// NewCSVLog returns a csvlog decoder.
func NewCSVLog(opts Options) *CSVLog { return &CSVLog{b: newBuilder(opts)} }

// Line decodes one line; a line that ends inside a quoted value leaves the
// record pending.
func (d *CSVLog) Line(line []byte, emit func(event.Event)) error {
	d.line++
	if len(d.buf) == 0 {
		if len(line) == 0 {
			return nil
		}
		d.start = d.line
	} else {
		d.buf = append(d.buf, '\n')
	}
	for _, c := range line {
		if c == '"' {
			d.inQuote = !d.inQuote
		}
	}
	d.buf = append(d.buf, line...)
	if d.inQuote {
		if len(d.buf) > maxRecord {
			d.reset()
			return fmt.Errorf("csvlog line %d: record longer than %d bytes, dropped", d.start, maxRecord)
		}
		return nil
	}
	defer d.reset()
	ev, err := d.record(string(d.buf), 23)
	if err != nil {
		return fmt.Errorf("csvlog line %d: %w", d.start, err)
	}
	emit(ev)
	return nil
}

func (d *CSVLog) reset() {
	d.buf = d.buf[:0]
	d.inQuote = false
}

// Flush emits a record cut inside a quoted value (the end of a truncated
// file; PostgreSQL writes whole records) as far as it goes, the open value
// closed, when its fields still parse.
func (d *CSVLog) Flush(emit func(event.Event)) {
	if len(d.buf) == 0 {
		return
	}
	raw := string(d.buf) + `"`
	d.reset()
	if ev, err := d.record(raw, 14); err == nil { // through message
		emit(ev)
	}
}

// Pending reports whether a record spans lines still to come.
func (d *CSVLog) Pending() bool { return len(d.buf) > 0 }

// record parses one record of at least minFields fields (23 for a whole
// one: PostgreSQL 13's count).
func (d *CSVLog) record(raw string, minFields int) (event.Event, error) {
	n := 0
	for i := 0; ; {
		if n == len(d.cols) {
			return event.Event{}, fmt.Errorf("record has more than %d fields", len(csvColumns))
		}
		v, next, err := csvField(raw, i)
		if err != nil {
			return event.Event{}, fmt.Errorf("field %d (%s): %w", n+1, colName(n), err)
		}
		d.cols[n] = v
		n++
		if next >= len(raw) {
			break
		}
		i = next + 1
	}
	if n < minFields || n > len(csvColumns) {
		return event.Event{}, fmt.Errorf("record has %d fields, want %d to %d", n, minFields, len(csvColumns))
	}
	for i := n; i < len(csvColumns); i++ {
		d.cols[i] = ""
	}
	c := d.cols[:len(csvColumns)]
	t, err := parseTime(c[0])
	if err != nil {
		return event.Event{}, fmt.Errorf("field log_time: %w", err)
	}
	r := record{
		time: t, user: c[1], db: c[2], pid: c[3], session: c[5],
		severity: c[11], sqlstate: c[12], message: c[13], detail: c[14], hint: c[15],
		context: c[18], statement: c[19], app: c[22],
	}
	if r.severity == "" {
		return event.Event{}, fmt.Errorf("field error_severity is empty")
	}
	if c[4] != "" {
		if i := strings.LastIndexByte(c[4], ':'); i > 0 && c[4][0] != '[' {
			r.host, r.port = c[4][:i], c[4][i+1:]
		} else {
			r.host = c[4]
		}
	}
	if c[23] != "" {
		r.backend = c[23]
	}
	if r.sqlstate == "00000" {
		r.sqlstate = ""
	}
	own := make(event.Fields, 0, n+normalisedFields)
	for i, v := range c {
		if v == "" {
			continue
		}
		if maskedColumns[i] {
			v = dbnorm.MaskPasswords(v)
		}
		own = append(own, event.Field{Key: csvColumns[i], Value: event.String(v)})
	}
	return d.b.event(r.session, &r, own, raw), nil
}

func colName(i int) string {
	if i < len(csvColumns) {
		return csvColumns[i]
	}
	return "extra"
}
