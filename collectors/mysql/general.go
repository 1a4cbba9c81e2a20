package mysql

import (
	"fmt"
	"strings"
	"time"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// commands are the general log's command names.
var commands = map[string]bool{
	"Connect": true, "Quit": true, "Query": true, "Init DB": true, "Prepare": true, "Execute": true,
	"Close stmt": true, "Reset stmt": true, "Long Data": true, "Field List": true, "Statistics": true,
	"Ping": true, "Change user": true, "Processlist": true, "Kill": true, "Refresh": true,
	"Shutdown": true, "Debug": true, "Set option": true, "Fetch": true, "Daemon": true,
	"Binlog Dump": true, "Register Slave": true, "Table Dump": true, "Connect Out": true,
	"Create DB": true, "Drop DB": true, "Time": true, "Delayed insert": true, "Sleep": true,
	"Reset connection": true, "Bulk_execute": true,
}

// General decodes the general query log (log_output=FILE) in MariaDB's
// style ("261129 15:34:37\t     3 Query\t...", later lines of the same
// second without the time) and MySQL 8's ("2026-11-29T15:34:37.123456Z\t
// 3 Query\t..."). A query that spans lines continues until the next record,
// so the last record stays pending until the next one starts or Flush.
type General struct {
	opts    Options
	system  string
	line    int
	last    time.Time
	threads threads

	pending bool
	rec     generalRecord
	raw     []byte
	more    []byte // continuation lines of the pending record's argument
}

type generalRecord struct {
	time    time.Time
	id      string
	command string
	arg     string
	failed  bool // a Connect followed by its Access denied
}

// maxRecord bounds a record that spans lines (bytes).
const maxRecord = 4 << 20

// NewGeneral returns a general-log decoder.
func NewGeneral(opts Options) *General {
	return &General{opts: opts, system: opts.System, threads: threads{max: opts.maxSessions()}}
}

// Line decodes one line.
func (d *General) Line(line []byte, emit func(event.Event)) error {
	d.line++
	s := string(line)
	if strings.Contains(s, ", Version: ") && (strings.HasPrefix(s, "/") || strings.Contains(s, "mysqld") || strings.Contains(s, "mariadbd")) {
		d.Flush(emit)
		if d.system == "" {
			d.system = "mysql"
			if strings.Contains(s, "MariaDB") {
				d.system = "mariadb"
			}
		}
		return nil
	}
	if strings.HasPrefix(s, "Tcp port: ") || strings.HasPrefix(s, "Time") && strings.Contains(s, "Command\tArgument") {
		d.Flush(emit)
		return nil
	}
	r, ok, err := d.parse(s)
	if err != nil {
		return fmt.Errorf("general log line %d: %w", d.line, err)
	}
	if !ok {
		if d.pending {
			if len(d.raw) <= maxRecord { // beyond, the rest of the record is dropped
				d.more = append(append(d.more, '\n'), s...)
				d.raw = append(append(d.raw, '\n'), s...)
			}
			return nil
		}
		if s == "" {
			return nil
		}
		return fmt.Errorf("general log line %d: not a record (TIME ID COMMAND\\tARGUMENT) and no record to continue", d.line)
	}
	if d.pending && d.rec.command == "Connect" && r.command == "Connect" && r.id == d.rec.id &&
		strings.HasPrefix(r.arg, "Access denied") {
		d.rec.failed = true
		d.rec.arg = r.arg
		d.more = d.more[:0]
		d.raw = append(append(d.raw, '\n'), s...)
		return nil
	}
	d.emitPending(emit, r.id)
	d.rec, d.pending = r, true
	d.raw, d.more = append(d.raw[:0], s...), d.more[:0]
	return nil
}

// parse reads a record's first line; ok is false for a continuation line.
func (d *General) parse(s string) (generalRecord, bool, error) {
	var r generalRecord
	tab := strings.IndexByte(s, '\t')
	if tab < 0 {
		return r, false, nil
	}
	if tab > 0 {
		ts := s[:tab]
		var t time.Time
		var err error
		switch {
		case len(ts) >= 20 && ts[4] == '-' && ts[10] == 'T':
			t, err = time.Parse(time.RFC3339Nano, ts)
		case len(ts) >= 15 && ts[6] == ' ':
			t, err = time.ParseInLocation("060102 15:04:05", strings.Replace(ts, "  ", " 0", 1), d.opts.loc())
		default:
			return r, false, nil
		}
		if err != nil {
			return r, false, fmt.Errorf("field time: %q is not a timestamp", ts)
		}
		d.last = t
	}
	rest := strings.TrimLeft(s[tab:], "\t ")
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i == len(rest) || rest[i] != ' ' {
		return r, false, nil
	}
	r.id = rest[:i]
	cmd, arg, ok := strings.Cut(rest[i+1:], "\t")
	if !ok || !commands[cmd] {
		return r, false, nil
	}
	r.time, r.command, r.arg = d.last, cmd, arg
	return r, true, nil
}

// emitPending emits the pending record; next is the thread id of the record
// that follows it, which tells whether a Connect succeeded.
func (d *General) emitPending(emit func(event.Event), next string) {
	if !d.pending {
		return
	}
	d.pending = false
	r := &d.rec
	if len(d.more) > 0 {
		r.arg += string(d.more)
		d.more = d.more[:0]
	}
	sys := d.system
	if sys == "" {
		sys = "mysql"
	}
	ev := newEvent(r.time, "general")
	ev.Raw = dbnorm.MaskPasswords(string(d.raw))
	var b fields
	b.f = make(event.Fields, 0, 20)
	b.common(d.opts, sys)
	th := d.threads.get(r.id)
	action, outcome := "", "success"
	msg := r.command
	switch r.command {
	case "Connect":
		action = dbnorm.ActionLogin
		if r.failed || strings.HasPrefix(r.arg, "Access denied") { // denied, maybe after another thread's line
			r.failed = true
			outcome = "failure"
			b.str("error.message", r.arg)
			b.num("db.response.status_code", "1045")
			if u, h, ok := deniedUser(r.arg); ok {
				th.user, th.host = u, h
			}
		} else {
			// "user@host on db using TCP/IP"
			who, rest, _ := strings.Cut(r.arg, " on ")
			u, h, _ := strings.Cut(who, "@")
			db, _, _ := strings.Cut(strings.TrimLeft(rest, " "), " using")
			th = thread{user: u, host: h, db: strings.TrimSpace(db)}
			if next != r.id {
				outcome = "unknown" // no later record tells whether it succeeded
			}
			d.threads.put(r.id, th)
		}
		msg += " " + r.arg
	case "Quit":
		action = dbnorm.ActionLogout
		d.threads.forget(r.id)
	case "Init DB":
		th.db = r.arg
		d.threads.put(r.id, th)
		action = dbnorm.ActionQuery
		msg += " " + r.arg
	case "Query", "Execute", "Prepare":
		var stmt string
		stmt, action = b.statement(r.arg)
		msg += " " + stmt
		if r.command == "Query" {
			if u, ok := useDB(stmt); ok {
				th.db = u
				d.threads.put(r.id, th)
			}
		}
	default:
		outcome = "unknown"
	}
	b.str("db.name", th.db)
	b.user(th.user)
	b.client(th.host)
	b.str("db.session.id", r.id)
	b.str("mysql.command", r.command)
	b.str("event.action", action)
	b.str("event.outcome", outcome)
	b.str(event.FieldMessage, msg)
	ev.Fields = b.f
	emit(ev)
}

// Flush emits the pending record.
func (d *General) Flush(emit func(event.Event)) { d.emitPending(emit, "") }

// Pending reports whether a record may still continue on the next line.
func (d *General) Pending() bool { return d.pending }

// deniedUser reads "Access denied for user 'u'@'h' (using password: YES)".
func deniedUser(s string) (user, host string, ok bool) {
	_, rest, ok := strings.Cut(s, "for user '")
	if !ok {
		return "", "", false
	}
	user, rest, ok = strings.Cut(rest, "'@'")
	if !ok {
		return "", "", false
	}
	host, _, ok = strings.Cut(rest, "'")
	return user, host, ok
}

// useDB reads "USE db" / "use `db`".
func useDB(stmt string) (string, bool) {
	if len(stmt) < 5 || !strings.EqualFold(stmt[:4], "use ") {
		return "", false
	}
	db := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(stmt[4:]), ";"))
	return strings.Trim(db, "`"), db != ""
}
