package postgres

import (
	"strings"
	"testing"

	"github.com/danang-soc/vigil/event"
)

// find returns the first event whose field key has the value want.
func find(t *testing.T, evs []event.Event, key, want string) *event.Event {
	t.Helper()
	for i := range evs {
		if evs[i].Fields.Str(key) == want {
			return &evs[i]
		}
	}
	t.Fatalf("no event with %s = %q", key, want)
	return nil
}

func wantFields(t *testing.T, e *event.Event, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := e.Fields.Str(k); got != v {
			t.Errorf("event %q: %s = %q, want %q", e.Fields.Str("message"), k, got, v)
		}
	}
}

// checkScenario asserts what the corpus' scripted PostgreSQL session must
// give, whatever the log format.
func checkScenario(t *testing.T, evs []event.Event) {
	t.Helper()
	var loginFail, loginOK, denied int
	for i := range evs {
		e := &evs[i]
		if e.Source.Product != "postgresql" || e.Source.Category != "database" {
			t.Fatalf("event %d: log source %+v", i, e.Source)
		}
		if e.Time.IsZero() {
			t.Errorf("event %d has no time", i)
		}
		seen := map[string]bool{}
		for _, fl := range e.Fields {
			if seen[fl.Key] {
				t.Errorf("event %d has field %s twice", i, fl.Key)
			}
			seen[fl.Key] = true
		}
		for _, s := range []string{"alicepw", "bobpw", "Secr3t!"} {
			if strings.Contains(e.Raw, s) || strings.Contains(string(e.AppendJSON(nil)), s) {
				t.Errorf("event %d leaks password %q: %s", i, s, e.Raw)
			}
		}
		switch a, o := e.Fields.Str("event.action"), e.Fields.Str("event.outcome"); {
		case a == "login" && o == "failure":
			loginFail++
		case a == "login" && o == "success":
			loginOK++
		}
		if e.Fields.Str("db.response.status_code") == "42501" {
			denied++
		}
	}
	if loginFail != 2 {
		t.Errorf("got %d failed logins, want 2 (postgres wrong password, mallory)", loginFail)
	}
	if loginOK < 8 {
		t.Errorf("got %d successful logins, want at least 8", loginOK)
	}
	if denied != 2 {
		t.Errorf("got %d permission-denied errors, want 2", denied)
	}

	e := find(t, evs, "user.name", "mallory")
	wantFields(t, e, map[string]string{
		"event.action": "login", "event.outcome": "failure", "db.response.status_code": "28P01",
		"source.ip": "127.0.0.1", "source.port": "40630", "db.name": "postgres", "db.system": "postgresql",
	})

	e = find(t, evs, "db.statement", "CREATE ROLE alice LOGIN PASSWORD '*****';")
	wantFields(t, e, map[string]string{
		"db.operation": "CREATE ROLE", "event.action": "dcl", "db.user": "postgres",
		"source.port": "40646", "message": "statement: CREATE ROLE alice LOGIN PASSWORD '*****';",
	})

	e = find(t, evs, "db.statement", "ALTER ROLE bob SUPERUSER;")
	wantFields(t, e, map[string]string{"db.operation": "ALTER ROLE", "event.action": "dcl"})

	e = find(t, evs, "pgaudit.command", "GRANT")
	wantFields(t, e, map[string]string{"pgaudit.class": "ROLE", "event.action": "dcl", "db.operation": "GRANT", "pgaudit.audit_type": "SESSION"})

	e = find(t, evs, "error.message", "permission denied for table secrets")
	wantFields(t, e, map[string]string{
		"event.action": "error", "event.outcome": "failure", "db.statement": "SELECT * FROM secrets;",
		"db.user": "alice", "db.name": "shop", "db.operation": "SELECT",
	})

	e = find(t, evs, "db.statement", "COPY users TO '/tmp/dbmon/pg/users-server.csv' WITH (FORMAT csv, HEADER);")
	wantFields(t, e, map[string]string{"event.action": "export", "db.operation": "COPY"})

	// The foreign-key check flood is kept but marked.
	var subs, fk int
	for i := range evs {
		if evs[i].Fields.Str("vigil.substatement") == "true" {
			subs++
			if strings.HasPrefix(evs[i].Fields.Str("db.statement"), `SELECT 1 FROM ONLY "public"."users" x`) {
				fk++
			}
		}
	}
	if subs != 4 || fk != 3 { // 3 foreign-key checks and COPY (SELECT ...)'s inner COPY
		t.Errorf("got %d sub-statements (%d foreign-key checks), want 4 (3)", subs, fk)
	}

	e = find(t, evs, "db.statement.parameters", "$1 = '100', $2 = '5099'")
	wantFields(t, e, map[string]string{"db.statement": "SELECT id, ssn FROM users WHERE id BETWEEN $1 AND $2", "postgresql.application_name": "goclient"})

	e = find(t, evs, "pgaudit.parameters", "100,5099")
	wantFields(t, e, map[string]string{"pgaudit.statement_id": "2", "pgaudit.object_name": "public.users"})

	e = find(t, evs, "event.action", "logout")
	if e.Fields.Str("event.duration") == "" {
		t.Errorf("disconnection has no event.duration: %v", e.Fields)
	}
}
