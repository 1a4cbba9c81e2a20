package mysql

import (
	"fmt"
	"strings"
	"time"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// ErrorLog decodes the server's error log: "2026-11-29 15:34:56 6 [Warning]
// Access denied for user 'root'@'localhost' (using password: YES)" (MariaDB)
// or "2026-11-29T15:34:56.123456Z 8 [Note] [MY-010926] [Server] Access
// denied ..." (MySQL 8). Lines that do not start with a timestamp continue
// the record before them, so the last record stays pending until the next
// one starts or Flush.
type ErrorLog struct {
	opts   Options
	system string
	line   int

	pending bool
	rec     errRecord
	raw     []byte
	more    []byte // continuation lines of the pending record
}

type errRecord struct {
	time   time.Time
	thread string
	level  string
	code   string
	msg    string
}

// NewErrorLog returns an error-log decoder.
func NewErrorLog(opts Options) *ErrorLog { return &ErrorLog{opts: opts, system: opts.System} }

// Line decodes one line.
func (d *ErrorLog) Line(line []byte, emit func(event.Event)) error {
	d.line++
	s := string(line)
	r, ok := d.parse(s)
	if !ok {
		if d.pending {
			if len(d.raw) <= maxRecord { // beyond, the rest of the record is dropped
				d.more = append(append(d.more, '\n'), s...)
				d.raw = append(append(d.raw, '\n'), s...)
			}
			return nil
		}
		if strings.TrimSpace(s) == "" {
			return nil
		}
		return fmt.Errorf("error log line %d: no timestamp and no record to continue", d.line)
	}
	d.Flush(emit)
	d.rec, d.pending = r, true
	d.raw, d.more = append(d.raw[:0], s...), d.more[:0]
	if d.system == "" && strings.Contains(s, "MariaDB") {
		d.system = "mariadb"
	}
	return nil
}

func (d *ErrorLog) parse(s string) (errRecord, bool) {
	var r errRecord
	var rest string
	switch {
	case len(s) > 20 && s[4] == '-' && s[10] == 'T': // MySQL 8
		ts, tail, _ := strings.Cut(s, " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return r, false
		}
		r.time, rest = t, tail
	case len(s) > 20 && s[4] == '-' && s[10] == ' ' && s[13] == ':': // MariaDB
		t, err := time.ParseInLocation("2006-01-02 15:04:05", s[:19], d.opts.loc())
		if err != nil {
			return r, false
		}
		r.time, rest = t, strings.TrimLeft(s[19:], " ")
	default:
		return r, false
	}
	// thread id, then [Level]
	th, tail, ok := strings.Cut(rest, " [")
	if !ok {
		return r, false
	}
	r.thread = th
	lvl, tail, ok := strings.Cut(tail, "] ")
	if !ok {
		return r, false
	}
	r.level = lvl
	if strings.HasPrefix(tail, "[MY-") { // MySQL 8: [MY-010926] [Server]
		code, t2, _ := strings.Cut(tail[1:], "] ")
		r.code = code
		tail = t2
		if strings.HasPrefix(tail, "[") {
			if _, t3, ok := strings.Cut(tail, "] "); ok {
				tail = t3
			}
		}
	}
	r.msg = tail
	return r, true
}

// Flush emits the pending record.
func (d *ErrorLog) Flush(emit func(event.Event)) {
	if !d.pending {
		return
	}
	d.pending = false
	r := &d.rec
	if len(d.more) > 0 {
		r.msg += string(d.more)
		d.more = d.more[:0]
	}
	sys := d.system
	if sys == "" {
		sys = "mysql"
	}
	ev := newEvent(r.time, "error")
	ev.Raw = dbnorm.MaskPasswords(string(d.raw))
	var b fields
	b.f = make(event.Fields, 0, 16)
	b.common(d.opts, sys)
	msg := dbnorm.MaskPasswords(r.msg)
	b.str("log.level", strings.ToLower(r.level))
	if r.thread != "0" {
		b.str("db.session.id", r.thread)
	}
	b.str("mysql.error_code", r.code)
	switch {
	case strings.HasPrefix(msg, "Access denied for user "):
		if u, h, ok := deniedUser(msg); ok {
			b.user(u)
			b.client(h)
		}
		b.num("db.response.status_code", "1045")
		b.str("error.message", msg)
		b.str("event.action", dbnorm.ActionLogin)
		b.str("event.outcome", "failure")
	case strings.HasPrefix(msg, "Aborted connection "):
		// Aborted connection 12 to db: 'shop' user: 'alice' host: '10.0.0.5' (Got timeout reading communication packets)
		b.str("db.name", quotedAfter(msg, "db: '"))
		b.user(quotedAfter(msg, "user: '"))
		b.client(quotedAfter(msg, "host: '"))
		b.str("error.message", msg)
		b.str("event.action", dbnorm.ActionLogout)
		b.str("event.outcome", "failure")
	case r.level == "ERROR":
		b.str("error.message", msg)
		b.str("event.action", dbnorm.ActionError)
		b.str("event.outcome", "failure")
	}
	b.str(event.FieldMessage, msg)
	ev.Fields = b.f
	emit(ev)
}

// Pending reports whether a record may continue on the next line.
func (d *ErrorLog) Pending() bool { return d.pending }

func quotedAfter(s, key string) string {
	_, v, ok := strings.Cut(s, key)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, "'")
	return v
}
