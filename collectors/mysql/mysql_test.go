package mysql

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/collectors/internal/decodertest"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

type lineDecoder = decodertest.Decoder

func decodeFile(t testing.TB, d lineDecoder, name string) []event.Event {
	t.Helper()
	f, err := os.Open(testenv.Corpus(t, "dblogs", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []event.Event
	emit := func(e event.Event) { out = append(out, e) }
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if err := d.Line(sc.Bytes(), emit); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	d.Flush(emit)
	if d.Pending() {
		t.Error("Pending() after Flush")
	}
	for i := range out {
		e := &out[i]
		if e.Source.Product != "mysql" || e.Source.Category != "database" {
			t.Fatalf("event %d: log source %+v", i, e.Source)
		}
		if e.Time.IsZero() {
			t.Errorf("event %d has no time: %s", i, e.Raw)
		}
		seen := map[string]bool{}
		for _, fl := range e.Fields {
			if seen[fl.Key] {
				t.Errorf("event %d has field %s twice", i, fl.Key)
			}
			seen[fl.Key] = true
		}
		for _, s := range []string{"alicepw", "bobpw", "Secr3t!"} {
			if strings.Contains(string(e.AppendJSON(nil)), s) {
				t.Errorf("event %d leaks password %q: %s", i, s, e.AppendJSON(nil))
			}
		}
	}
	return out
}

func count(evs []event.Event, keys ...string) map[string]int {
	m := map[string]int{}
	for i := range evs {
		var parts []string
		for _, k := range keys {
			parts = append(parts, evs[i].Fields.Str(k))
		}
		m[strings.Join(parts, "/")]++
	}
	return m
}

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

func TestServerAuditCorpus(t *testing.T) {
	evs := decodeFile(t, NewServerAudit(Options{Host: "db1"}), "mariadb-server_audit.log")
	if len(evs) != 149 {
		t.Errorf("got %d events, want 149", len(evs))
	}
	c := count(evs, "event.action", "event.outcome")
	if c["login/failure"] != 3 || c["login/success"] != 10 || c["logout/success"] != 13 {
		t.Errorf("logins: %v; want 3 failed, 10 succeeded, 13 logouts", c)
	}
	e := find(t, evs, "user.name", "mallory")
	wantFields(t, e, map[string]string{"event.action": "login", "event.outcome": "failure", "db.response.status_code": "1045", "db.system": "mariadb", "source.address": "localhost"})
	e = find(t, evs, "db.statement", "GRANT ALL PRIVILEGES ON *.* TO bob@'%' WITH GRANT OPTION")
	wantFields(t, e, map[string]string{"db.operation": "GRANT", "event.action": "dcl", "db.name": "shop", "db.user": "root", "queryid": "19"})
	e = find(t, evs, "db.statement", "SELECT * FROM users INTO OUTFILE '/tmp/dbmon/my/out/users.csv' FIELDS TERMINATED BY ','")
	wantFields(t, e, map[string]string{"event.action": "export", "event.outcome": "success"})
	e = find(t, evs, "db.statement", "SELECT * FROM secrets")
	wantFields(t, e, map[string]string{"event.action": "error", "event.outcome": "failure", "db.response.status_code": "1142"})
	e = find(t, evs, "db.statement", "SET PASSWORD FOR bob@'%' = PASSWORD(*****)")
	wantFields(t, e, map[string]string{"db.operation": "SET PASSWORD", "event.action": "dcl"})
	e = find(t, evs, "db.sql.table", "tmp_drop")
	wantFields(t, e, map[string]string{"operation": "CREATE", "event.action": "ddl"})
}

func TestServerAuditHostPort(t *testing.T) {
	d := NewServerAudit(Options{})
	var got []event.Event
	err := d.Line([]byte(`20261129 15:34:56,vm,mallory,10.0.0.7:51234,7,0,FAILED_CONNECT,,,1045`), func(e event.Event) { got = append(got, e) })
	if err != nil || len(got) != 1 {
		t.Fatalf("err %v, %d events", err, len(got))
	}
	wantFields(t, &got[0], map[string]string{"source.ip": "10.0.0.7", "source.port": "51234", "event.outcome": "failure"})
}

func TestServerAuditErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"20261129 15:34:56,vm,root", "server_audit line 1: field host is missing"},
		{"yesterday,vm,root,localhost,5,3,QUERY,mysql,'x',0", `server_audit line 1: field timestamp: "yesterday" is not YYYYMMDD HH:MM:SS`},
		{"20261129 15:34:56,vm,root,localhost,5,3,QUERY,mysql,'x", "server_audit line 1: field object: unterminated quoted query"},
	}
	for _, tt := range tests {
		err := NewServerAudit(Options{}).Line([]byte(tt.in), func(event.Event) { t.Error("emitted") })
		if err == nil || err.Error() != tt.want {
			t.Errorf("Line(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestGeneralCorpus(t *testing.T) {
	evs := decodeFile(t, NewGeneral(Options{}), "mariadb-general.log")
	c := count(evs, "event.action", "event.outcome")
	if c["login/failure"] != 2 || c["login/success"] != 10 || c["login/unknown"] != 1 {
		t.Errorf("logins: %v; want 2 failed, 10 succeeded, 1 unknown (thread 8, unknown database)", c)
	}
	e := find(t, evs, "user.name", "mallory")
	wantFields(t, e, map[string]string{"event.outcome": "failure", "db.system": "mariadb"})
	e = find(t, evs, "db.statement", "SELECT * FROM users WHERE id = '1' OR '1'='1'")
	wantFields(t, e, map[string]string{"db.user": "alice", "db.name": "shop", "db.session.id": "10", "mysql.command": "Query"})
	if got := e.Time.Format("2006-01-02 15:04:05"); got != "2026-11-29 15:34:56" {
		t.Errorf("time of a line without one = %s, want the last written 2026-11-29 15:34:56", got)
	}
	e = find(t, evs, "db.statement", "ALTER USER root@localhost IDENTIFIED BY '*****'")
	wantFields(t, e, map[string]string{"event.action": "dcl", "db.user": "root"})
	e = find(t, evs, "db.statement", "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128), ssn CHAR(9), password_hash CHAR(32))")
	wantFields(t, e, map[string]string{"db.name": "shop", "event.action": "ddl"}) // after Init DB
}

func TestGeneralMySQL8Multiline(t *testing.T) {
	in := "/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n" +
		"2026-11-29T15:34:37.123456Z\t    8 Connect\teve@10.0.0.9 on shop using TCP/IP\n" +
		"2026-11-29T15:34:37.200000Z\t    8 Query\tSELECT *\nFROM users\nWHERE 1=1\n" +
		"2026-11-29T15:34:38.000000Z\t    8 Quit\t"
	d := NewGeneral(Options{})
	var evs []event.Event
	for _, l := range strings.Split(in, "\n") {
		if err := d.Line([]byte(l), func(e event.Event) { evs = append(evs, e) }); err != nil {
			t.Fatal(err)
		}
	}
	d.Flush(func(e event.Event) { evs = append(evs, e) })
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3", len(evs))
	}
	wantFields(t, &evs[1], map[string]string{"db.statement": "SELECT *\nFROM users\nWHERE 1=1", "db.system": "mysql", "source.ip": "10.0.0.9", "db.user": "eve"})
	wantFields(t, &evs[0], map[string]string{"event.outcome": "success"})
}

func TestSlowCorpus(t *testing.T) {
	evs := decodeFile(t, NewSlow(Options{}), "mariadb-slow.log")
	if len(evs) < 40 {
		t.Errorf("got %d entries, want at least 40", len(evs))
	}
	e := find(t, evs, "db.statement", "SELECT * FROM users WHERE id = '1' OR '1'='1'")
	wantFields(t, e, map[string]string{"db.response.rows": "20000", "Rows_sent": "20000", "db.user": "alice", "db.name": "shop", "source.ip": "127.0.0.1", "db.system": "mariadb"})
	if e.Fields.Str("Bytes_sent") == "" || e.Fields.Str("Rows_examined") == "" || e.Fields.Str("event.duration") == "" {
		t.Errorf("missing Bytes_sent, Rows_examined or event.duration: %v", e.Fields)
	}
	if got := e.Time.UTC().Format("2006-01-02 15:04:05"); got != "2026-11-29 15:34:56" {
		t.Errorf("time = %s", got)
	}
	e = find(t, evs, "db.operation", "SET PASSWORD")
	if !strings.Contains(e.Raw, "PASSWORD('*****')") {
		t.Errorf("raw not masked: %s", e.Raw)
	}
}

func TestErrorLogCorpus(t *testing.T) {
	evs := decodeFile(t, NewErrorLog(Options{}), "mariadb-error.log")
	c := count(evs, "event.action", "event.outcome")
	if c["login/failure"] != 2 {
		t.Errorf("got %v, want 2 failed logins", c)
	}
	e := find(t, evs, "user.name", "mallory")
	wantFields(t, e, map[string]string{"source.address": "localhost", "db.response.status_code": "1045", "db.session.id": "7", "log.level": "warning", "db.system": "mariadb"})
}

func TestErrorLogMySQL8(t *testing.T) {
	d := NewErrorLog(Options{})
	var evs []event.Event
	emit := func(e event.Event) { evs = append(evs, e) }
	if err := d.Line([]byte("2026-11-29T15:34:56.123456Z 8 [Note] [MY-010926] [Server] Access denied for user 'eve'@'10.0.0.9' (using password: YES)"), emit); err != nil {
		t.Fatal(err)
	}
	d.Flush(emit)
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	wantFields(t, &evs[0], map[string]string{"user.name": "eve", "source.ip": "10.0.0.9", "mysql.error_code": "MY-010926", "event.outcome": "failure"})
}

func TestGeneralInterleavedDenied(t *testing.T) {
	in := "261129 15:34:56\t     6 Connect\troot@10.0.0.9 on  using TCP/IP\n" +
		"\t\t     7 Query\tSELECT 1\n" +
		"\t\t     6 Connect\tAccess denied for user 'root'@'10.0.0.9' (using password: YES)"
	d := NewGeneral(Options{})
	var evs []event.Event
	emit := func(e event.Event) { evs = append(evs, e) }
	for _, l := range strings.Split(in, "\n") {
		if err := d.Line([]byte(l), emit); err != nil {
			t.Fatal(err)
		}
	}
	d.Flush(emit)
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3", len(evs))
	}
	wantFields(t, &evs[0], map[string]string{"event.action": "login", "event.outcome": "unknown"})
	wantFields(t, &evs[2], map[string]string{"event.action": "login", "event.outcome": "failure", "user.name": "root", "source.ip": "10.0.0.9"})
}

func TestServerAuditSyslog(t *testing.T) {
	d := NewServerAudit(Options{Host: "db1"})
	var evs []event.Event
	at := time.Date(2026, 11, 29, 15, 34, 56, 0, time.UTC)
	err := d.Syslog(at, []byte(`vm,alice,10.0.0.5,10,23,QUERY,shop,'SELECT * FROM users WHERE id = \'1\' OR \'1\'=\'1\'',0`), func(e event.Event) { evs = append(evs, e) })
	if err != nil || len(evs) != 1 {
		t.Fatalf("err %v, %d events", err, len(evs))
	}
	if !evs[0].Time.Equal(at) {
		t.Errorf("time %v, want %v", evs[0].Time, at)
	}
	wantFields(t, &evs[0], map[string]string{"db.statement": "SELECT * FROM users WHERE id = '1' OR '1'='1'", "db.user": "alice", "source.ip": "10.0.0.5", "serverhost": "vm", "timestamp": ""})
}
