package postgres

import (
	"fmt"
	"slices"
	"strings"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// JSONLog decodes log_destination=jsonlog: one JSON object per line. The
// object's own keys are kept as fields beside the normalised ones.
type JSONLog struct {
	b    builder
	line int
}

// NewJSONLog returns a jsonlog decoder.
func NewJSONLog(opts Options) *JSONLog { return &JSONLog{b: newBuilder(opts)} }

// Line decodes one line.
func (d *JSONLog) Line(line []byte, emit func(event.Event)) error {
	d.line++
	if len(line) == 0 {
		return nil
	}
	raw := string(line)
	own, err := parseFlatJSON(raw, make(event.Fields, 0, 24+normalisedFields))
	if err != nil {
		// not flat: a newer server's nested value; the general decoder
		// keeps it as dotted keys
		in, err2 := event.DecodeJSON(line)
		if err2 != nil {
			return fmt.Errorf("jsonlog line %d: %w", d.line, err)
		}
		// dotted keys of nested values could shadow normalised fields;
		// the raw line keeps them
		own = slices.DeleteFunc(in.Fields, func(f event.Field) bool { return strings.Contains(f.Key, ".") })
	}
	var r record
	for i := range own {
		fl := &own[i]
		v := fl.Value.Str
		switch fl.Key {
		case "timestamp":
			t, err := parseTime(v)
			if err != nil {
				return fmt.Errorf("jsonlog line %d: field timestamp: %w", d.line, err)
			}
			r.time = t
		case "user":
			r.user = v
		case "dbname":
			r.db = v
		case "pid":
			r.pid = v
		case "remote_host":
			r.host = v
		case "remote_port":
			r.port = v
		case "session_id":
			r.session = v
		case "application_name":
			r.app = v
		case "error_severity":
			r.severity = v
		case "state_code":
			r.sqlstate = v
		case "message":
			r.message = v
			fl.Value.Str = dbnorm.MaskPasswords(v)
		case "detail":
			r.detail = v
			fl.Value.Str = dbnorm.MaskPasswords(v)
		case "hint":
			r.hint = v
		case "context":
			r.context = v
		case "statement":
			r.statement = v
			fl.Value.Str = dbnorm.MaskPasswords(v)
		case "internal_query":
			fl.Value.Str = dbnorm.MaskPasswords(v)
		case "backend_type":
			r.backend = v
		}
	}
	if r.time.IsZero() {
		return fmt.Errorf("jsonlog line %d: field timestamp is missing", d.line)
	}
	if r.severity == "" {
		return fmt.Errorf("jsonlog line %d: field error_severity is missing", d.line)
	}
	emit(d.b.event(r.session, &r, own, raw))
	return nil
}

// Flush does nothing: every jsonlog record is one line.
func (d *JSONLog) Flush(emit func(event.Event)) {}

// Pending is always false: every jsonlog record is one line.
func (d *JSONLog) Pending() bool { return false }
