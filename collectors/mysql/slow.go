package mysql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// Slow decodes the slow query log: an entry is "# Time:" (optional),
// "# User@Host:", more "# Key: value" lines, "use db;", "SET timestamp=N;"
// and the statement, which may span lines. An entry is pending until the
// next one starts or Flush.
type Slow struct {
	opts   Options
	system string
	line   int
	last   time.Time

	pending bool
	start   int
	e       slowEntry
	raw     []byte
}

type slowEntry struct {
	time       time.Time
	user, host string
	ip         string
	kv         event.Fields // the log's own Key: value pairs
	db         string
	stmt       strings.Builder
}

// NewSlow returns a slow-log decoder.
func NewSlow(opts Options) *Slow { return &Slow{opts: opts, system: opts.System} }

// Line decodes one line.
func (d *Slow) Line(line []byte, emit func(event.Event)) error {
	d.line++
	s := string(line)
	switch {
	case strings.HasPrefix(s, "# Time: "):
		d.Flush(emit)
		ts := strings.TrimSpace(s[len("# Time: "):])
		var t time.Time
		var err error
		if strings.Contains(ts, "T") {
			t, err = time.Parse(time.RFC3339Nano, ts)
		} else {
			t, err = time.ParseInLocation("060102 15:04:05", strings.Replace(ts, "  ", " 0", 1), d.opts.loc())
		}
		if err != nil {
			return fmt.Errorf("slow log line %d: field Time: %q is not a timestamp", d.line, ts)
		}
		d.last = t
		return nil
	case strings.HasPrefix(s, "# User@Host: "):
		d.Flush(emit)
		d.pending, d.start = true, d.line
		d.e = slowEntry{time: d.last}
		d.raw = append(d.raw[:0], s...)
		// root[root] @ localhost [127.0.0.1]  Id: 8
		v := s[len("# User@Host: "):]
		u, rest, ok := strings.Cut(v, " @ ")
		if !ok {
			d.pending = false
			return fmt.Errorf("slow log line %d: field User@Host: no \" @ \" in %q", d.line, v)
		}
		if i := strings.IndexByte(u, '['); i >= 0 {
			u = u[:i]
		}
		d.e.user = u
		host, rest, _ := strings.Cut(rest, " [")
		d.e.host = strings.TrimSpace(host)
		ip, rest, _ := strings.Cut(rest, "]")
		d.e.ip = ip
		d.kvs(rest)
		return nil
	case !d.pending:
		if strings.Contains(s, ", Version: ") {
			if d.system == "" {
				d.system = "mysql"
				if strings.Contains(s, "MariaDB") {
					d.system = "mariadb"
				}
			}
		}
		return nil // headers and blank lines between entries
	}
	if len(d.raw) > maxRecord {
		return nil // the entry is full; the rest of it is dropped
	}
	d.raw = append(append(d.raw, '\n'), s...)
	switch {
	case strings.HasPrefix(s, "# explain:"), s == "#":
	case strings.HasPrefix(s, "# ") && d.e.stmt.Len() == 0:
		d.kvs(s[2:])
	case strings.HasPrefix(s, "SET timestamp=") && d.e.stmt.Len() == 0:
		sec, err := strconv.ParseInt(strings.TrimSuffix(s[len("SET timestamp="):], ";"), 10, 64)
		if err != nil {
			return fmt.Errorf("slow log line %d: field timestamp: %q is not seconds", d.line, s)
		}
		d.e.time = time.Unix(sec, 0).UTC()
	case strings.HasPrefix(s, "use ") && d.e.stmt.Len() == 0:
		db, _ := useDB(s)
		d.e.db = db
	default:
		if d.e.stmt.Len() > 0 {
			d.e.stmt.WriteByte('\n')
		}
		if d.e.stmt.Len() < maxStatement {
			d.e.stmt.WriteString(s)
		}
	}
	return nil
}

// maxStatement bounds the statement kept of a slow-log entry (bytes).
const maxStatement = 1 << 20

// kvs reads "Key: value  Key2: value2"; a key may have no value
// ("Schema:   QC_hit: No").
func (d *Slow) kvs(s string) {
	toks := strings.Fields(s)
	for i := 0; i < len(toks); i++ {
		k, ok := strings.CutSuffix(toks[i], ":")
		if !ok || k == "" {
			continue
		}
		if i+1 < len(toks) && !strings.HasSuffix(toks[i+1], ":") {
			if d.e.kv.Index(k) < 0 && !normalisedKey(k) {
				d.e.kv = append(d.e.kv, event.Field{Key: k, Value: event.String(toks[i+1])})
			}
			i++
		}
	}
}

// Flush emits the pending entry.
func (d *Slow) Flush(emit func(event.Event)) {
	if !d.pending {
		return
	}
	d.pending = false
	e := &d.e
	sys := d.system
	if sys == "" {
		sys = "mysql"
	}
	ev := newEvent(e.time, "slow")
	ev.Raw = dbnorm.MaskPasswords(string(d.raw))
	var b fields
	b.f = make(event.Fields, 0, 24+len(e.kv))
	b.common(d.opts, sys)
	db := e.db
	for _, kv := range e.kv {
		if kv.Key == "Schema" && db == "" {
			db = kv.Value.Str
		}
	}
	b.str("db.name", db)
	b.user(e.user)
	if e.ip != "" {
		b.client(e.ip)
	} else if e.host != "localhost" {
		b.client(e.host)
	}
	stmt := strings.TrimSuffix(strings.TrimSpace(e.stmt.String()), ";")
	_, action := b.statement(stmt)
	for _, kv := range e.kv {
		v := kv.Value.Str
		switch kv.Key {
		case "Rows_sent":
			b.num("db.response.rows", v)
		case "Thread_id", "Id":
			b.str("db.session.id", v)
		case "Query_time":
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				b.num("event.duration", strconv.FormatInt(int64(f*1e9), 10))
			}
		}
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			kv.Value = event.Number(v)
		}
		b.f = append(b.f, kv)
	}
	b.str("event.action", action)
	b.str("event.outcome", "success")
	b.str(event.FieldMessage, dbnorm.MaskPasswords(stmt))
	ev.Fields = b.f
	emit(ev)
}

// Pending reports whether an entry waits for more lines.
func (d *Slow) Pending() bool { return d.pending }

// normalisedKey reports whether a slow-log key would collide with a
// normalised field.
func normalisedKey(k string) bool { return strings.Contains(k, ".") || k == "message" }
