package postgres

import (
	"testing"

	"github.com/danang-soc/vigil/internal/testenv"
)

func TestPgauditCorpus(t *testing.T) {
	evs := decodeFile(t, NewStderr(Options{}), testenv.Corpus(t, "dblogs", "pgaudit.log"))
	if len(evs) != 57 {
		t.Fatalf("got %d events, want 57", len(evs))
	}
	classes := count(evs, "pgaudit.class")
	if classes["READ"] == 0 || classes["WRITE"] == 0 || classes["DDL"] == 0 || classes["ROLE"] == 0 {
		t.Errorf("pgaudit classes = %v, want READ, WRITE, DDL and ROLE", classes)
	}
	for i := range evs {
		if evs[i].Source.Service != "pgaudit" {
			t.Errorf("event %d: service %q, want pgaudit", i, evs[i].Source.Service)
		}
	}
	e := find(t, evs, "pgaudit.object_name", `"RI_ConstraintTrigger_a_16409" on public.users`)
	wantFields(t, e, map[string]string{"pgaudit.object_type": "TRIGGER", "pgaudit.command": "DROP TABLE", "db.statement": "DROP TABLE orders;"})
	e = find(t, evs, "db.statement", "CREATE ROLE alice LOGIN PASSWORD <REDACTED>")
	wantFields(t, e, map[string]string{"db.operation": "CREATE ROLE", "event.action": "dcl"})
}

func TestPgauditRows(t *testing.T) {
	evs := decodeFile(t, NewStderr(Options{}), testenv.Corpus(t, "dblogs", "pgaudit-log_rows.log"))
	if len(evs) != 5 {
		t.Fatalf("got %d events, want 5", len(evs))
	}
	e := find(t, evs, "db.statement", "SELECT * FROM users WHERE id < 50")
	wantFields(t, e, map[string]string{"db.response.rows": "49", "pgaudit.rows": "49"})
	e = find(t, evs, "db.statement", "ALTER SYSTEM SET pgaudit.log_rows = on")
	wantFields(t, e, map[string]string{"db.operation": "ALTER SYSTEM", "event.action": "ddl", "db.response.rows": ""})
}

func TestParseAuditErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SESSION,1", "pgaudit record has 2 fields, want 9 or 10"},
		{"BOGUS,1,1,READ,SELECT,,,x,<none>", `pgaudit audit type "BOGUS" is neither SESSION nor OBJECT`},
		{"SESSION,x,1,READ,SELECT,,,x,<none>", `pgaudit statement id "x" is not a number`},
		{`SESSION,1,1,READ,SELECT,,,"x,<none>`, "pgaudit field 8: unterminated quoted field"},
	}
	for _, tt := range tests {
		_, err := parseAudit(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("parseAudit(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}
