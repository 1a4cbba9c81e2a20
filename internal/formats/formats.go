// Package formats is the explicit table of the log formats vigil can read:
// each names a stateful line decoder from a collector package. `vigil hunt
// --log FORMAT:FILE` and the file collector look formats up here; adding a
// format is adding a row.
//
// Concurrency: the table is read-only and safe for concurrent use; each
// Decoder it makes is owned by one goroutine.
package formats

import (
	"slices"
	"time"

	"github.com/danang-soc/vigil/collectors/mysql"
	"github.com/danang-soc/vigil/collectors/postgres"
	"github.com/danang-soc/vigil/event"
)

// Decoder turns the lines of one log into events. Records may span lines.
type Decoder interface {
	// Line decodes one line, without its newline, and emits the records
	// it completes. An error names the line and the field; the decoder
	// stays usable.
	Line(line []byte, emit func(event.Event)) error
	// Flush emits a pending record, at the end of input or when the log
	// has been idle.
	Flush(emit func(event.Event))
	// Pending reports whether a record is incomplete; a tailing collector
	// checkpoints only when it is false.
	Pending() bool
}

// Options configure a decoder; each format uses what applies to it.
type Options struct {
	// Host is the name of the server that wrote the log ("host.name").
	Host string
	// AssetID names the protected system ("vigil.asset.id").
	AssetID string
	// LinePrefix is PostgreSQL's log_line_prefix (postgres-stderr;
	// default postgres.DefaultLinePrefix).
	LinePrefix string
	// Location is the server's time zone, for logs that write local times
	// without a zone (MariaDB/MySQL server_audit, general and slow logs);
	// default UTC.
	Location *time.Location
}

// Format is one readable log format.
type Format struct {
	Name        string
	Description string
	New         func(Options) Decoder
}

var table = []Format{
	{"postgres-jsonlog", "PostgreSQL log_destination=jsonlog, pgaudit records included",
		func(o Options) Decoder { return postgres.NewJSONLog(pgOptions(o)) }},
	{"postgres-csvlog", "PostgreSQL log_destination=csvlog, pgaudit records included",
		func(o Options) Decoder { return postgres.NewCSVLog(pgOptions(o)) }},
	{"postgres-stderr", "PostgreSQL plain log with log_line_prefix (default '" + postgres.DefaultLinePrefix + "'), pgaudit records included",
		func(o Options) Decoder { return postgres.NewStderr(pgOptions(o)) }},
	{"mariadb-audit", "MariaDB server_audit plugin file log",
		func(o Options) Decoder { return mysql.NewServerAudit(myOptions(o)) }},
	{"mysql-general", "MariaDB/MySQL general query log",
		func(o Options) Decoder { return mysql.NewGeneral(myOptions(o)) }},
	{"mysql-slow", "MariaDB/MySQL slow query log",
		func(o Options) Decoder { return mysql.NewSlow(myOptions(o)) }},
	{"mysql-error", "MariaDB/MySQL error log (access denied, aborted connections)",
		func(o Options) Decoder { return mysql.NewErrorLog(myOptions(o)) }},
}

func pgOptions(o Options) postgres.Options {
	return postgres.Options{Host: o.Host, AssetID: o.AssetID, LinePrefix: o.LinePrefix}
}

func myOptions(o Options) mysql.Options {
	return mysql.Options{Host: o.Host, AssetID: o.AssetID, Location: o.Location}
}

// Lookup returns the format called name.
func Lookup(name string) (Format, bool) {
	for _, f := range table {
		if f.Name == name {
			return f, true
		}
	}
	return Format{}, false
}

// All returns every format, sorted by name.
func All() []Format {
	out := slices.Clone(table)
	slices.SortFunc(out, func(a, b Format) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
