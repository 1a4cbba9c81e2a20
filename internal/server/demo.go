package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/formats"
)

// The demo: a realistic attack on the PostgreSQL server of a city system,
// written as the server itself logs it (stderr format with
// log_line_prefix '%m [%p] %q%u@%d/%a %h ', log_connections and
// log_statement=all, pgaudit on), replayed through the same decoder and
// ingest path as a real log file. An attacker brute-forces the postgres
// account from an outside address, gets in, creates a backdoor superuser,
// switches auditing off, reads server files and exports the citizen table.
const (
	demoHost     = "db-citizens-01"
	demoAsset    = "danang-citizen-registry"
	demoAttacker = "203.0.113.45"
)

type demoStep struct {
	after time.Duration // since the previous line
	pid   int
	user  string // "" = [unknown]
	db    string
	app   string
	level string
	msg   string
}

func demoScript() []demoStep {
	var s []demoStep
	pid := 24100
	for i := 0; i < 8; i++ {
		pid++
		s = append(s,
			demoStep{150 * time.Millisecond, pid, "", "", "", "LOG", fmt.Sprintf("connection received: host=%s port=%d", demoAttacker, 51200+i)},
			demoStep{5 * time.Millisecond, pid, "postgres", "citizens", "", "FATAL", `password authentication failed for user "postgres"`},
			demoStep{0, pid, "postgres", "citizens", "", "DETAIL", `Connection matched pg_hba.conf line 97: "host    all             all             0.0.0.0/0               scram-sha-256"`},
		)
	}
	pid++
	stmt := func(sql string) demoStep {
		return demoStep{120 * time.Millisecond, pid, "postgres", "citizens", "psql", "LOG", "statement: " + sql}
	}
	s = append(s,
		demoStep{400 * time.Millisecond, pid, "", "", "", "LOG", fmt.Sprintf("connection received: host=%s port=%d", demoAttacker, 51240)},
		demoStep{6 * time.Millisecond, pid, "postgres", "citizens", "", "LOG", `connection authenticated: identity="postgres" method=scram-sha-256 (/etc/postgresql/15/main/pg_hba.conf:97)`},
		demoStep{0, pid, "postgres", "citizens", "", "LOG", "connection authorized: user=postgres database=citizens application_name=psql"},
		stmt("SELECT current_user, version();"),
		stmt("CREATE ROLE svc_backup WITH LOGIN SUPERUSER PASSWORD 'Backup#2026';"),
		stmt("GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO svc_backup WITH GRANT OPTION;"),
		stmt("ALTER SYSTEM SET pgaudit.log = 'none';"),
		stmt("SELECT pg_reload_conf();"),
		stmt("SELECT pg_read_file('/etc/passwd');"),
		stmt("SELECT * FROM citizens WHERE id = '1' OR '1'='1';"),
		stmt("COPY citizens TO '/tmp/.cache/citizens.csv' WITH CSV HEADER;"),
		stmt("DROP TABLE audit_trail;"),
		demoStep{300 * time.Millisecond, pid, "postgres", "citizens", "psql", "LOG", "disconnection: session time: 0:00:01.512 user=postgres database=citizens host=" + demoAttacker + " port=51240"},
	)
	return s
}

// demoLog renders the script as log text whose last line is at end.
func demoLog(end time.Time) string {
	steps := demoScript()
	var total time.Duration
	for _, st := range steps {
		total += st.after
	}
	t := end.Add(-total).UTC()
	var b strings.Builder
	for _, st := range steps {
		t = t.Add(st.after)
		user, db, app, host := "[unknown]", "[unknown]", "[unknown]", demoAttacker
		if st.user != "" {
			user, db = st.user, st.db
		}
		if st.app != "" {
			app = st.app
		}
		fmt.Fprintf(&b, "%s UTC [%d] %s@%s/%s %s %s:  %s\n", t.Format("2006-01-02 15:04:05.000"), st.pid, user, db, app, host, st.level, st.msg)
	}
	return b.String()
}

// runDemo replays the attack through the postgres-stderr decoder into
// ingest, as the file collector would.
func (s *Server) runDemo(ctx context.Context) error {
	f, ok := formats.Lookup("postgres-stderr")
	if !ok {
		return fmt.Errorf("demo: the postgres-stderr format is missing")
	}
	dec := f.New(formats.Options{Host: demoHost, AssetID: demoAsset})
	var events []event.Event
	if err := formats.Read(strings.NewReader(demoLog(s.opts.Now())), dec, func(e event.Event) { events = append(events, e) }); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := s.in.Write(ctx, events); err != nil {
		return fmt.Errorf("demo: ingesting %d events: %w", len(events), err)
	}
	s.log.Info("demo attack replayed", "events", len(events), "host", demoHost)
	return nil
}
