package mysql

import (
	"net/netip"
	"time"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// Options configure a decoder.
type Options struct {
	// Host is the database server's name ("host.name").
	Host string
	// AssetID names the protected system the database belongs to
	// ("vigil.asset.id").
	AssetID string
	// System is "mariadb" or "mysql" ("db.system"). The server_audit log
	// is MariaDB's; for the others the default is read from the log's
	// header when it has one, else "mysql".
	System string
	// Location is the time zone of timestamps written without one
	// (server_audit, MariaDB general and slow logs); default UTC.
	Location *time.Location
	// MaxSessions bounds the thread join table (default 10000).
	MaxSessions int
}

func (o Options) loc() *time.Location {
	if o.Location != nil {
		return o.Location
	}
	return time.UTC
}

func (o Options) maxSessions() int {
	if o.MaxSessions > 0 {
		return o.MaxSessions
	}
	return 10000
}

// fields builds an event's fields.
type fields struct{ f event.Fields }

func (b *fields) str(k, v string) {
	if v != "" {
		b.f = append(b.f, event.Field{Key: k, Value: event.String(v)})
	}
}

func (b *fields) num(k, v string) {
	if v != "" {
		b.f = append(b.f, event.Field{Key: k, Value: event.Number(v)})
	}
}

// common adds the fields every event of a decoder has.
func (b *fields) common(o Options, system string) {
	b.str("db.system", system)
	b.str(event.FieldHost, o.Host)
	b.str("vigil.asset.id", o.AssetID)
}

// client adds the client's address: "source.ip" when it is an address,
// "source.address" always.
func (b *fields) client(host string) {
	if host == "" {
		return
	}
	b.str("source.address", host)
	if _, err := netip.ParseAddr(host); err == nil {
		b.str("source.ip", host)
	}
}

// user adds "db.user" and "user.name".
func (b *fields) user(u string) {
	b.str("db.user", u)
	b.str("user.name", u)
}

// statement adds the masked statement, its operation, and returns its
// action.
func (b *fields) statement(stmt string) (masked, action string) {
	stmt = dbnorm.MaskPasswords(stmt)
	op, action := dbnorm.Classify(stmt)
	b.str("db.statement", stmt)
	b.str("db.operation", op)
	return stmt, action
}

func newEvent(t time.Time, service string) event.Event {
	return event.Event{Time: t, Source: event.LogSource{Product: "mysql", Category: "database", Service: service}}
}

// thread is what a connection's earlier records told.
type thread struct{ user, host, db string }

type threads struct {
	max int
	m   map[string]thread
}

func (t *threads) get(id string) thread { return t.m[id] }

func (t *threads) put(id string, th thread) {
	if t.m == nil {
		t.m = make(map[string]thread)
	}
	if _, ok := t.m[id]; !ok && len(t.m) >= t.max {
		clear(t.m)
	}
	t.m[id] = th
}

func (t *threads) forget(id string) { delete(t.m, id) }
