package mysql

import (
	"fmt"
	"strings"
	"time"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// auditColumns are server_audit's columns; their names are the fields of the
// event.
var auditColumns = [...]string{
	"timestamp", "serverhost", "username", "host", "connectionid", "queryid", "operation", "database", "object", "retcode",
}

// ServerAudit decodes MariaDB's server_audit plugin file log:
// timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode
// with one record per line (the plugin escapes newlines in queries).
type ServerAudit struct {
	opts Options
	line int
}

// NewServerAudit returns a server_audit decoder.
func NewServerAudit(opts Options) *ServerAudit { return &ServerAudit{opts: opts} }

// Line decodes one line.
func (d *ServerAudit) Line(line []byte, emit func(event.Event)) error {
	d.line++
	if len(line) == 0 {
		return nil
	}
	return d.decode(string(line), time.Time{}, emit)
}

// Syslog decodes the message of one record that server_audit sent to
// syslog (server_audit_output_type=syslog): the file format without its
// timestamp column, which the syslog header carries (t).
func (d *ServerAudit) Syslog(t time.Time, msg []byte, emit func(event.Event)) error {
	d.line++
	return d.decode(string(msg), t, emit)
}

// decode reads a record; a zero t means the record starts with its
// timestamp column.
func (d *ServerAudit) decode(s string, t time.Time, emit func(event.Event)) error {
	var c [len(auditColumns)]string
	i, first := 0, 0
	if !t.IsZero() {
		first = 1
	}
	for n := first; n < len(c); n++ {
		if n == len(c)-2 { // object: a quoted query or a plain name
			obj, next, err := auditObject(s, i)
			if err != nil {
				return fmt.Errorf("server_audit line %d: field object: %w", d.line, err)
			}
			c[n] = obj
			if next >= len(s) || s[next] != ',' {
				return fmt.Errorf("server_audit line %d: field retcode is missing", d.line)
			}
			c[n+1] = s[next+1:]
			break
		}
		j := strings.IndexByte(s[i:], ',')
		if j < 0 {
			return fmt.Errorf("server_audit line %d: field %s is missing", d.line, auditColumns[n+1])
		}
		c[n] = s[i : i+j]
		i += j + 1
	}
	if first == 0 {
		var err error
		t, err = time.ParseInLocation("20060102 15:04:05", c[0], d.opts.loc())
		if err != nil {
			return fmt.Errorf("server_audit line %d: field timestamp: %q is not YYYYMMDD HH:MM:SS", d.line, c[0])
		}
	}
	ev := newEvent(t, "server_audit")
	ev.Raw = dbnorm.MaskPasswords(s)
	var b fields
	b.f = make(event.Fields, 0, 28)
	sys := d.opts.System
	if sys == "" {
		sys = "mariadb"
	}
	b.common(d.opts, sys)
	host, port := splitHostPort(c[3])
	b.str("db.name", c[7])
	b.user(c[2])
	b.client(host)
	b.num("source.port", port)
	b.str("db.session.id", c[4])
	op := c[6]
	retcode := c[9]
	action, outcome := "", "success"
	if retcode != "" && retcode != "0" {
		outcome = "failure"
	}
	switch op {
	case "CONNECT", "CHANGE_USER":
		action = dbnorm.ActionLogin
	case "FAILED_CONNECT":
		action, outcome = dbnorm.ActionLogin, "failure"
	case "DISCONNECT":
		action = dbnorm.ActionLogout
	case "QUERY", "QUERY_DDL", "QUERY_DML", "QUERY_DCL", "QUERY_DML_NO_SELECT":
		var stmt string
		stmt, action = b.statement(c[8])
		c[8] = stmt
		if outcome == "failure" {
			action = dbnorm.ActionError
		}
	case "READ", "WRITE":
		action, outcome = dbnorm.ActionQuery, "success"
		b.str("db.sql.table", c[8])
	case "CREATE", "ALTER", "DROP", "RENAME":
		action, outcome = dbnorm.ActionDDL, "success"
		b.str("db.sql.table", c[8])
	default:
		outcome = "unknown"
	}
	if retcode != "" {
		b.num("db.response.status_code", retcode)
	}
	if outcome == "failure" {
		b.str("error.message", mysqlErrorText(retcode))
	}
	b.str("event.action", action)
	b.str("event.outcome", outcome)
	b.str(event.FieldMessage, op+" "+c[8])
	for k, v := range c {
		if v != "" {
			b.f = append(b.f, event.Field{Key: auditColumns[k], Value: event.String(v)})
		}
	}
	ev.Fields = b.f
	emit(ev)
	return nil
}

// Flush does nothing: every server_audit record is one line.
func (d *ServerAudit) Flush(emit func(event.Event)) {}

// Pending is always false: every server_audit record is one line.
func (d *ServerAudit) Pending() bool { return false }

// auditObject reads the object column at s[i:]: 'a quoted query' with
// backslash escapes, or a plain name up to the next comma. It returns the
// value and the index after it.
func auditObject(s string, i int) (string, int, error) {
	if i >= len(s) || s[i] != '\'' {
		j := strings.LastIndexByte(s, ',')
		if j < i {
			return "", 0, fmt.Errorf("no comma before retcode")
		}
		return s[i:j], j, nil
	}
	// The quoted query ends at the last "'," of the line: retcode is a
	// number and holds neither.
	end := strings.LastIndex(s, "',")
	if end <= i {
		return "", 0, fmt.Errorf("unterminated quoted query")
	}
	q := s[i+1 : end]
	if strings.IndexByte(q, '\\') < 0 {
		return q, end + 1, nil
	}
	var b strings.Builder
	b.Grow(len(q))
	for k := 0; k < len(q); k++ {
		c := q[k]
		if c == '\\' && k+1 < len(q) {
			k++
			switch q[k] {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default:
				c = q[k]
			}
		}
		b.WriteByte(c)
	}
	return b.String(), end + 1, nil
}

// splitHostPort splits the "host:port" form of MariaDB 11.x/12; a host
// alone (or an IPv6 address) is returned as it is.
func splitHostPort(h string) (host, port string) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.Count(h, ":") > 1 && !strings.HasPrefix(h, "[") {
		return h, ""
	}
	p := h[i+1:]
	if p == "" {
		return h, ""
	}
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return h, ""
		}
	}
	return strings.Trim(h[:i], "[]"), p
}

// mysqlErrorText names the error numbers the detections care about.
func mysqlErrorText(code string) string {
	switch code {
	case "1044":
		return "access denied for user to database"
	case "1045":
		return "access denied for user (wrong password or unknown user)"
	case "1049":
		return "unknown database"
	case "1064":
		return "syntax error"
	case "1142", "1143", "1227", "1370":
		return "permission denied"
	case "1146":
		return "table does not exist"
	case "1051":
		return "unknown table"
	case "1086":
		return "file already exists"
	}
	return "error " + code
}
