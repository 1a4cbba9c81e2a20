package postgres

import (
	"strings"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

func TestStderrCorpus(t *testing.T) {
	evs := decodeFile(t, NewStderr(Options{Host: "db1"}), testenv.Corpus(t, "dblogs", "postgres-stderr.log"))
	if len(evs) != 198 {
		t.Errorf("got %d events, want 198 (as many as jsonlog)", len(evs))
	}
	checkScenario(t, evs)
	e := find(t, evs, "error.message", "syntax error at or near \"SELEC\" at character 1")
	wantFields(t, e, map[string]string{"db.statement": "SELEC * FROM users;", "db.response.status_code": "42601"})
}

func TestStderrPrefixes(t *testing.T) {
	tests := []struct {
		prefix, line string
		want         map[string]string
	}{
		{"%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
			"2026-11-29 15:36:09 UTC [17497]: [3-1] user=alice,db=shop,app=psql,client=10.0.0.5 LOG:  statement: DROP TABLE users",
			map[string]string{"db.user": "alice", "db.name": "shop", "source.ip": "10.0.0.5", "db.operation": "DROP TABLE", "event.action": "ddl", "process.pid": "17497"}},
		{"%m %r %u %d %c %e ",
			"2026-11-29 15:36:09.218 +07 10.1.2.3(5544) mallory postgres 6b0c4669.440e 28P01 FATAL:  password authentication failed for user \"mallory\"",
			map[string]string{"db.session.id": "6b0c4669.440e", "source.port": "5544", "db.response.status_code": "28P01", "event.action": "login", "event.outcome": "failure"}},
		{"", "LOG:  statement: SELECT 1", map[string]string{"db.operation": "SELECT"}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			d := NewStderr(Options{LinePrefix: tt.prefix})
			if tt.prefix == "" {
				d = &Stderr{b: newBuilder(Options{})}
			}
			var evs []event.Event
			emit := func(e event.Event) { evs = append(evs, e) }
			if err := d.Line([]byte(tt.line), emit); err != nil {
				t.Fatal(err)
			}
			d.Flush(emit)
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			wantFields(t, &evs[0], tt.want)
		})
	}
}

func TestStderrErrors(t *testing.T) {
	d := NewStderr(Options{})
	err := d.Line([]byte("garbage"), func(event.Event) {})
	if err == nil || err.Error() != `stderr line 1: no timestamp at column 1 for %m` {
		t.Errorf("error = %v", err)
	}
	err = d.Line([]byte("2026-11-29 15:36:09.218 UTC [17420] postgres@postgres/[unknown] 127.0.0.1 SOMETHING else"), func(event.Event) {})
	if err == nil || err.Error() != `stderr line 2: no severity (LOG:, ERROR:, ...) at column 75 after log_line_prefix` {
		t.Errorf("error = %v", err)
	}
}

func TestStderrRecordBounded(t *testing.T) {
	d := NewStderr(Options{})
	var evs []event.Event
	emit := func(e event.Event) { evs = append(evs, e) }
	first := "2026-11-29 15:36:09.887 UTC [17497] alice@shop/psql 127.0.0.1 LOG:  statement: SELECT"
	if err := d.Line([]byte(first), emit); err != nil {
		t.Fatal(err)
	}
	cont := []byte("\t" + strings.Repeat("x", 1023))
	for i := 0; i < 2*maxRecord/len(cont); i++ {
		if err := d.Line(cont, emit); err != nil {
			t.Fatal(err)
		}
	}
	d.Flush(emit)
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1", len(evs))
	}
	if n := len(evs[0].Raw); n > maxRecord+2*len(cont) {
		t.Errorf("raw record of %d bytes, want at most about %d", n, maxRecord)
	}
	if n := len(evs[0].Fields.Str("db.statement")); n > maxRecord+2*len(cont) || n < maxRecord/2 {
		t.Errorf("statement of %d bytes, want about %d", n, maxRecord)
	}
}
