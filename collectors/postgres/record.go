package postgres

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// record is one server log record in the terms every format shares.
type record struct {
	time      time.Time
	user      string
	db        string
	pid       string
	host      string // client address, "[local]" for a Unix socket
	port      string
	session   string
	app       string
	severity  string
	sqlstate  string
	message   string
	detail    string
	hint      string
	context   string
	statement string // the statement of an error (STATEMENT line, "statement" key)
	backend   string
}

// sessionInfo is what a session's earlier lines told about its client.
type sessionInfo struct {
	user, db, host, port, app string
}

// builder turns records into events and keeps the session join table.
type builder struct {
	opts     Options
	sessions map[string]sessionInfo
}

func newBuilder(opts Options) builder {
	return builder{opts: opts, sessions: make(map[string]sessionInfo)}
}

// join fills what r lacks from its session and remembers what r adds.
func (b *builder) join(key string, r *record) {
	if key == "" {
		return
	}
	s, ok := b.sessions[key]
	if ok {
		if r.user == "" {
			r.user = s.user
		}
		if r.db == "" {
			r.db = s.db
		}
		if r.host == "" {
			r.host = s.host
		}
		if r.port == "" {
			r.port = s.port
		}
		if r.app == "" {
			r.app = s.app
		}
	}
	n := sessionInfo{user: r.user, db: r.db, host: r.host, port: r.port, app: r.app}
	if n != s {
		if !ok && len(b.sessions) >= b.opts.maxSessions() {
			clear(b.sessions)
		}
		b.sessions[key] = n
	}
}

func (b *builder) forget(key string) { delete(b.sessions, key) }

// normalisedFields is about how many fields build adds.
const normalisedFields = 28

// Prefixes of the messages the builder understands.
const (
	auditPrefix = "AUDIT: "
)

// build returns the event of r. own holds the log's own fields (already
// masked), put before the normalised ones.
func (b *builder) build(r *record, own event.Fields, raw string) event.Event {
	// The log's own fields come first; the normalised ones are appended,
	// in own's spare capacity when it has enough.
	f := own
	if cap(f)-len(f) < normalisedFields {
		f = make(event.Fields, len(own), len(own)+normalisedFields)
		copy(f, own)
	}
	ev := event.Event{
		Time:   r.time,
		Source: event.LogSource{Product: "postgresql", Category: "database"},
		Raw:    dbnorm.MaskPasswords(raw),
	}
	str := func(k, v string) {
		if v != "" {
			f = append(f, event.Field{Key: k, Value: event.String(v)})
		}
	}
	num := func(k, v string) {
		if v != "" {
			f = append(f, event.Field{Key: k, Value: event.Number(v)})
		}
	}
	str("db.system", "postgresql")
	str(event.FieldHost, b.opts.Host)
	str("vigil.asset.id", b.opts.AssetID)
	str("db.name", r.db)
	str("db.user", r.user)
	str("user.name", r.user)
	if r.host != "" && r.host != "[local]" {
		str("source.address", r.host)
		if _, err := netip.ParseAddr(r.host); err == nil {
			str("source.ip", r.host)
		}
	}
	num("source.port", r.port)
	num("process.pid", r.pid)
	str("db.session.id", r.session)
	str("postgresql.application_name", r.app)
	str("log.level", r.severity)

	msg := dbnorm.MaskPasswords(r.message)
	action, outcome := "", ""
	var stmt string
	switch {
	case strings.HasPrefix(msg, auditPrefix):
		ev.Source.Service = "pgaudit"
		a, err := parseAudit(msg[len(auditPrefix):])
		if err != nil {
			str("vigil.parse_error", err.Error())
			break
		}
		if a.statement != "<not logged>" {
			stmt = a.statement
		}
		action = a.fill(&f)
		outcome = "success"
	case r.severity == "ERROR" || r.severity == "FATAL" || r.severity == "PANIC":
		if r.sqlstate == "" {
			r.sqlstate = guessSQLState(msg)
		}
		str("db.response.status_code", r.sqlstate)
		str("error.message", msg)
		stmt = r.statement
		action, outcome = dbnorm.ActionError, "failure"
		if strings.HasPrefix(r.sqlstate, "28") {
			action = dbnorm.ActionLogin
		}
	default:
		action, outcome, stmt = b.logMessage(r, msg, &f)
	}
	if stmt != "" {
		stmt = dbnorm.MaskPasswords(stmt)
		op, act := dbnorm.Classify(stmt)
		str("db.statement", stmt)
		str("db.operation", op)
		if action == "" || action == dbnorm.ActionQuery {
			action = act
		}
	}
	if p := detailParameters(r.detail); p != "" {
		str("db.statement.parameters", dbnorm.MaskPasswords(p))
	}
	str("event.action", action)
	str("event.outcome", outcome)
	if f.Index(event.FieldMessage) < 0 { // jsonlog and csvlog have their own, masked
		str(event.FieldMessage, msg)
	}
	ev.Fields = f
	return ev
}

// logMessage reads the LOG-level messages about connections and statements.
func (b *builder) logMessage(r *record, msg string, f *event.Fields) (action, outcome, stmt string) {
	num := func(k, v string) {
		if v != "" {
			*f = append(*f, event.Field{Key: k, Value: event.Number(v)})
		}
	}
	switch {
	case strings.HasPrefix(msg, "statement: "):
		return dbnorm.ActionQuery, "unknown", msg[len("statement: "):]
	case strings.HasPrefix(msg, "duration: "):
		rest := msg[len("duration: "):]
		ms, tail, _ := strings.Cut(rest, " ms")
		if d, err := strconv.ParseFloat(ms, 64); err == nil {
			num("event.duration", strconv.FormatInt(int64(d*1e6), 10))
		}
		tail = strings.TrimLeft(tail, " ")
		if tail == "" {
			return dbnorm.ActionQuery, "success", ""
		}
		return dbnorm.ActionQuery, "success", extendedStatement(tail, f)
	case strings.HasPrefix(msg, "execute "):
		return dbnorm.ActionQuery, "unknown", extendedStatement(msg, f)
	case strings.HasPrefix(msg, "connection received: "):
		return dbnorm.ActionConnect, "unknown", ""
	case strings.HasPrefix(msg, "connection authenticated: "):
		return dbnorm.ActionConnect, "success", ""
	case strings.HasPrefix(msg, "connection authorized: "):
		return dbnorm.ActionLogin, "success", ""
	case strings.HasPrefix(msg, "disconnection: "):
		if v := kvAfter(msg, "session time: "); v != "" {
			if d, ok := parseSessionTime(v); ok {
				num("event.duration", strconv.FormatInt(int64(d), 10))
			}
		}
		return dbnorm.ActionLogout, "success", ""
	}
	return "", "", ""
}

// extendedStatement reads "parse|bind|execute NAME: STATEMENT" (extended
// query protocol) or "statement: STATEMENT".
func extendedStatement(s string, f *event.Fields) string {
	if rest, ok := strings.CutPrefix(s, "statement: "); ok {
		return rest
	}
	phase, rest, ok := strings.Cut(s, " ")
	if !ok {
		return ""
	}
	switch phase {
	case "parse", "bind", "execute", "execute fetch":
	default:
		return ""
	}
	name, stmt, ok := strings.Cut(rest, ": ")
	if !ok {
		return ""
	}
	*f = append(*f,
		event.Field{Key: "postgresql.phase", Value: event.String(phase)},
		event.Field{Key: "postgresql.prepared_statement", Value: event.String(name)})
	return stmt
}

// detailParameters returns the bind parameters of a DETAIL "parameters: $1 = '...'".
func detailParameters(detail string) string {
	p, ok := strings.CutPrefix(detail, "parameters: ")
	if !ok {
		return ""
	}
	return p
}

// kvAfter returns the text after key up to the next space.
func kvAfter(s, key string) string {
	_, v, ok := strings.Cut(s, key)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, " ")
	return v
}

// parseSessionTime reads "H:MM:SS.fff" into a duration.
func parseSessionTime(s string) (time.Duration, bool) {
	h, rest, ok1 := strings.Cut(s, ":")
	m, sec, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	ss, err3 := strconv.ParseFloat(sec, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, false
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute + time.Duration(ss*float64(time.Second)), true
}

// guessSQLState gives the SQLSTATE of common errors when the log format
// does not carry it (stderr without %e).
func guessSQLState(msg string) string {
	switch {
	case strings.HasPrefix(msg, "password authentication failed"),
		strings.HasPrefix(msg, "authentication failed"):
		return "28P01"
	case strings.HasPrefix(msg, "no pg_hba.conf entry"),
		strings.HasPrefix(msg, "role \"") && strings.HasSuffix(msg, "\" does not exist"):
		return "28000"
	case strings.HasPrefix(msg, "permission denied"), strings.HasPrefix(msg, "must be owner"),
		strings.HasPrefix(msg, "must be superuser"):
		return "42501"
	case strings.HasPrefix(msg, "syntax error"):
		return "42601"
	case strings.HasPrefix(msg, "database \"") && strings.HasSuffix(msg, "\" does not exist"):
		return "3D000"
	case strings.HasPrefix(msg, "relation \"") && strings.HasSuffix(msg, "\" does not exist"):
		return "42P01"
	}
	return ""
}

// event joins r with its session (key: session id, or process id) and
// builds its event.
func (b *builder) event(key string, r *record, own event.Fields, raw string) event.Event {
	if rest, ok := strings.CutPrefix(r.message, "connection received: "); ok {
		if h := kvAfter(rest, "host="); h != "" && r.host == "" {
			r.host = h
		}
		if p := kvAfter(rest, "port="); p != "" {
			r.port = p
		}
	}
	b.join(key, r)
	ev := b.build(r, own, raw)
	if strings.HasPrefix(r.message, "disconnection: ") || (r.severity == "FATAL" && key != "") {
		b.forget(key)
	}
	return ev
}
