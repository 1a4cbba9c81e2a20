package packet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// login is what a login event says.
type login struct {
	User, DB, Outcome, Code string
}

func logins(evs []event.Event) []login {
	var out []login
	for _, ev := range evs {
		if ev.Fields.Str("event.action") == "login" {
			out = append(out, login{ev.Fields.Str("db.user"), ev.Fields.Str("db.name"), ev.Fields.Str("event.outcome"), ev.Fields.Str("db.response.status_code")})
		}
	}
	return out
}

// errorCodes lists the error codes of the failed logins and statements and
// of the errors on their own, in order.
func errorCodes(evs []event.Event) []string {
	var out []string
	for _, ev := range evs {
		if code := ev.Fields.Str("db.response.status_code"); code != "" && ev.Fields.Str("event.outcome") == "failure" {
			out = append(out, code)
		}
	}
	return out
}

// statement finds the event of a statement.
func statement(t *testing.T, evs []event.Event, stmt string) *event.Event {
	t.Helper()
	for i := range evs {
		if evs[i].Fields.Str("db.statement") == stmt && evs[i].Fields.Str("event.action") != "error" {
			return &evs[i]
		}
	}
	t.Errorf("no event for statement %q", stmt)
	return &event.Event{}
}

type stmtCheck struct {
	stmt, action, op, outcome, rows, code, params string
}

func checkStatements(t *testing.T, evs []event.Event, checks []stmtCheck) {
	t.Helper()
	for _, c := range checks {
		ev := statement(t, evs, c.stmt)
		got := stmtCheck{c.stmt, ev.Fields.Str("event.action"), ev.Fields.Str("db.operation"), ev.Fields.Str("event.outcome"),
			ev.Fields.Str("db.response.rows"), ev.Fields.Str("db.response.status_code"), ev.Fields.Str("db.statement.parameters")}
		if diff := cmp.Diff(c, got, cmp.AllowUnexported(stmtCheck{})); diff != "" {
			t.Errorf("statement %q (-want +got):\n%s", c.stmt, diff)
		}
	}
}

// noSecrets fails when a password of the scenario appears in any field.
func noSecrets(t *testing.T, evs []event.Event, secrets ...string) {
	t.Helper()
	for _, ev := range evs {
		js := string(ev.AppendJSON(nil))
		for _, s := range secrets {
			if strings.Contains(js, s) {
				t.Errorf("password %q in clear: %s", s, js)
			}
		}
	}
}

func checkCommonFields(t *testing.T, evs []event.Event, product string, port string) {
	t.Helper()
	for _, ev := range evs {
		if ev.Source != (event.LogSource{Product: product, Category: "database", Service: "wire"}) {
			t.Errorf("log source %+v", ev.Source)
		}
		for _, k := range []string{"source.ip", "source.port", "destination.ip", "db.session.id", "network.transport", "network.protocol", "event.action"} {
			if ev.Fields.Str(k) == "" {
				t.Errorf("%s missing in %s", k, ev.AppendJSON(nil))
			}
		}
		if got := ev.Fields.Str("destination.port"); got != port {
			t.Errorf("destination.port = %s, want %s", got, port)
		}
		if ev.Time.IsZero() {
			t.Errorf("event without time: %s", ev.AppendJSON(nil))
		}
	}
}

// TestPostgresScenario checks the sessions that the corpus README lists for
// postgres.pcap.
func TestPostgresScenario(t *testing.T) {
	evs, st := decodeAll(t, testenv.Corpus(t, "pcaps", "postgres.pcap"), Config{Postgres: []uint16{5433}})
	checkCommonFields(t, evs, "postgresql", "5433")
	if st.Flows != 12 || st.DecodeErrors != 0 || st.Gaps != 0 || st.Packets != 760 {
		t.Errorf("stats: %+v; want 760 packets, 12 flows, no errors", st)
	}
	wantLogins := []login{
		{"postgres", "postgres", "failure", "28P01"},
		{"mallory", "postgres", "failure", "28P01"},
		{"postgres", "nosuchdb", "failure", "3D000"},
		{"postgres", "postgres", "success", ""},
		{"postgres", "shop", "success", ""},
		{"alice", "shop", "success", ""},
		{"postgres", "shop", "success", ""},
		{"alice", "shop", "success", ""},
		{"alice", "shop", "success", ""},
		{"alice", "shop", "success", ""},
		{"alice", "shop", "success", ""},
		{"alice", "shop", "success", ""},
	}
	if diff := cmp.Diff(wantLogins, logins(evs)); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"28P01", "28P01", "3D000", "42501", "42601", "42501"}, errorCodes(evs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	checkStatements(t, evs, []stmtCheck{
		{stmt: "CREATE ROLE alice LOGIN PASSWORD '*****';", action: "dcl", op: "CREATE ROLE", outcome: "success", rows: "0"},
		{stmt: "GRANT ALL PRIVILEGES ON secrets TO bob;", action: "dcl", op: "GRANT", outcome: "success", rows: "0"},
		{stmt: "ALTER ROLE bob SUPERUSER;", action: "dcl", op: "ALTER ROLE", outcome: "success", rows: "0"},
		{stmt: "CREATE TABLE secrets (id int, api_key text);", action: "ddl", op: "CREATE TABLE", outcome: "success", rows: "0"},
		{stmt: "SELECT * FROM users WHERE id = '1' OR '1'='1';", action: "query", op: "SELECT", outcome: "success", rows: "20000"},
		{stmt: "SELECT * FROM secrets;", action: "query", op: "SELECT", outcome: "failure", code: "42501"},
		{stmt: "SELEC * FROM users;", action: "query", op: "SELEC", outcome: "failure", code: "42601"},
		{stmt: "COPY  users TO STDOUT CSV", action: "export", op: "COPY", outcome: "success", rows: "20000"},
		{stmt: "COPY users TO '/tmp/dbmon/pg/users-server.csv' WITH (FORMAT csv, HEADER);", action: "export", op: "COPY", outcome: "success", rows: "20000"},
		{stmt: "DROP TABLE orders;", action: "ddl", op: "DROP TABLE", outcome: "success", rows: "0"},
		// pgx: named statements, binary int parameters
		{stmt: "SELECT id, ssn FROM users WHERE id BETWEEN $1 AND $2", action: "query", op: "SELECT", outcome: "success", rows: "5000", params: "$1 = '100', $2 = '5099'"},
		{stmt: "SELECT * FROM secrets WHERE id = $1", action: "query", op: "SELECT", outcome: "failure", code: "42501"}, // fails at Parse: never bound
	})
	// The 20,000-row result is about 1.5 MB of DataRow messages.
	if b := statement(t, evs, "SELECT * FROM users WHERE id = '1' OR '1'='1';").Fields.Str("db.response.bytes"); len(b) != 7 || b < "1400000" {
		t.Errorf("bytes of the 20k-row result = %s, want about 1.5 MB", b)
	}
	// pgbench -M prepared / -M extended: text parameters of the same statement.
	var pgbench int
	for _, ev := range evs {
		if ev.Fields.Str("db.statement") == "SELECT id, name, email FROM users WHERE id = $1;" && strings.HasPrefix(ev.Fields.Str("db.statement.parameters"), "$1 = '") {
			pgbench++
		}
	}
	if pgbench != 5 {
		t.Errorf("%d pgbench executions with parameters, want 5", pgbench)
	}
	noSecrets(t, evs, "alicepw", "bobpw", "Secr3t!")
	var flows int
	for _, ev := range evs {
		if ev.Fields.Str("event.action") == "flow" {
			flows++
			if ev.Fields.Str("network.encrypted") != "false" {
				t.Errorf("flow reported encrypted: %s", ev.AppendJSON(nil))
			}
		}
	}
	if flows != 12 {
		t.Errorf("%d flow records, want 12", flows)
	}
}

// TestMariaDBScenario checks the sessions that the corpus README lists for
// mariadb.pcap.
func TestMariaDBScenario(t *testing.T) {
	evs, st := decodeAll(t, testenv.Corpus(t, "pcaps", "mariadb.pcap"), Config{MySQL: []uint16{3307}})
	checkCommonFields(t, evs, "mysql", "3307")
	if st.Flows != 9 || st.DecodeErrors != 0 || st.Gaps != 0 || st.Packets != 352 {
		t.Errorf("stats: %+v; want 352 packets, 9 flows, no errors", st)
	}
	wantLogins := []login{
		{"root", "", "failure", "1045"},
		{"mallory", "", "failure", "1045"},
		{"root", "nosuchdb", "failure", "1049"},
		{"root", "", "success", ""},
		{"alice", "shop", "success", ""},
		{"root", "shop", "success", ""},
		{"alice", "shop", "success", ""},
		{"root", "shop", "success", ""},
		{"alice", "shop", "success", ""},
	}
	if diff := cmp.Diff(wantLogins, logins(evs)); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1045", "1045", "1049", "1142", "1142", "1064", "1146", "1086", "1051", "1142"}, errorCodes(evs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	checkStatements(t, evs, []stmtCheck{
		{stmt: "CREATE USER alice@'%' IDENTIFIED BY '*****'", action: "dcl", op: "CREATE USER", outcome: "success", rows: "0"},
		{stmt: "SET PASSWORD FOR bob@'%' = PASSWORD('*****')", action: "dcl", op: "SET PASSWORD", outcome: "success", rows: "0"},
		{stmt: "GRANT ALL PRIVILEGES ON *.* TO bob@'%' WITH GRANT OPTION", action: "dcl", op: "GRANT", outcome: "success", rows: "0"},
		{stmt: "SELECT * FROM users WHERE id = '1' OR '1'='1'", action: "query", op: "SELECT", outcome: "success", rows: "20000"},
		{stmt: "SELEC * FROM users", action: "query", op: "SELEC", outcome: "failure", code: "1064"},
		{stmt: "DROP TABLE orders", action: "ddl", op: "DROP TABLE", outcome: "success", rows: "0"},
		// go-sql-driver/mysql: COM_STMT_PREPARE/EXECUTE, binary parameters
		{stmt: "SELECT id, ssn FROM users WHERE id BETWEEN ? AND ?", action: "query", op: "SELECT", outcome: "success", rows: "5000", params: "100, 5099"},
		{stmt: "SELECT * FROM secrets WHERE id = ?", action: "query", op: "SELECT", outcome: "failure", code: "1142"},
	})
	noSecrets(t, evs, "alicepw", "bobpw", "Secr3t!", "newbobpw")
	// COM_INIT_DB switches the database of the following statements.
	if ev := statement(t, evs, "CREATE TABLE secrets (id INT, api_key VARCHAR(64))"); ev.Fields.Str("db.name") != "shop" {
		t.Errorf("db.name after COM_INIT_DB = %q, want shop", ev.Fields.Str("db.name"))
	}
}

// transcriptItem is one item of a pcap2mysql-log .expected transcript.
type transcriptItem struct {
	Data struct {
		Type        string
		Query       string
		Username    string
		Code        int
		StatementID uint32
		Results     []json.RawMessage
	}
}

type transcriptConn struct {
	Address string
	Items   []transcriptItem
}

// step is what both a transcript and our events say about a connection.
type step struct {
	Kind, Text string
	Rows       int
}

// TestPcap2mysqlTranscripts compares the decoded events with the JSON
// transcripts that pcap2mysql-log produced for the same captures: per
// connection, the logins, the statements run (queries and executed
// prepared statements), their row counts and the error numbers.
func TestPcap2mysqlTranscripts(t *testing.T) {
	dir := testenv.Corpus(t, "pcaps", "public", "pcap2mysql-log")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pcap")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name+".expected"))
			if err != nil {
				t.Fatal(err)
			}
			var conns []transcriptConn
			if err := json.Unmarshal(raw, &conns); err != nil {
				t.Fatal(err)
			}
			want := map[string][]step{}
			for _, c := range conns {
				cli, _, _ := strings.Cut(c.Address, " - ")
				prepared := map[uint32]string{}
				var lastPrepare string
				var steps []step
				for _, it := range c.Items {
					d := it.Data
					switch d.Type {
					case "Login":
						steps = append(steps, step{Kind: "login", Text: d.Username})
					case "Query":
						steps = append(steps, step{Kind: "stmt", Text: strings.TrimSpace(d.Query)})
					case "Prepare":
						lastPrepare = strings.TrimSpace(d.Query)
					case "PREPARE_OK":
						prepared[d.StatementID] = lastPrepare
					case "Execute":
						steps = append(steps, step{Kind: "stmt", Text: prepared[d.StatementID]})
					case "Error":
						steps = append(steps, step{Kind: "error", Text: itoa(d.Code)})
					case "SQL results":
						if n := len(steps) - 1; n >= 0 && steps[n].Kind == "stmt" {
							steps[n].Rows = len(d.Results)
						}
					}
				}
				if len(steps) > 0 {
					want[cli] = steps
				}
			}
			evs, _ := decodeAll(t, f, Config{MaxMessage: 1 << 20})
			got := map[string][]step{}
			for _, ev := range evs {
				cli := ev.Fields.Str("source.ip") + ":" + ev.Fields.Str("source.port")
				switch ev.Fields.Str("event.action") {
				case "login":
					if u := ev.Fields.Str("db.user"); u != "" {
						got[cli] = append(got[cli], step{Kind: "login", Text: u})
					}
				case "flow", "logout", "error":
				default:
					if ev.Fields.Str("mysql.command") != "" {
						s := step{Kind: "stmt", Text: ev.Fields.Str("db.statement")}
						if ev.Fields.Str("db.operation") == "SELECT" {
							s.Rows = atoi(ev.Fields.Str("db.response.rows"))
						}
						got[cli] = append(got[cli], s)
					}
				}
				// A failed login or statement carries its error; errors
				// on their own are events of their own.
				if code := ev.Fields.Str("db.response.status_code"); code != "" && ev.Fields.Str("event.outcome") == "failure" {
					got[cli] = append(got[cli], step{Kind: "error", Text: code})
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("connections differ from %s.expected (-want +got):\n%s", name, diff)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestDetect decodes the own captures without their ports configured: the
// PostgreSQL startup and the MySQL greeting give the ports away, and the
// events are those of a decode with the ports given.
func TestDetect(t *testing.T) {
	for _, c := range []capture{
		{"postgres.pcap", Config{Postgres: []uint16{5433}}},
		{"mariadb.pcap", Config{MySQL: []uint16{3307}}},
	} {
		t.Run(c.rel, func(t *testing.T) {
			path := testenv.Corpus(t, "pcaps", c.rel)
			want, _ := decodeAll(t, path, c.cfg)
			got, st := decodeAll(t, path, Config{Detect: true})
			if st.Detected != 1 {
				t.Errorf("%d ports detected, want 1", st.Detected)
			}
			// The first connection is known from its first data, not
			// from its SYN: its flow record and its flow id (the
			// PostgreSQL session id) differ; compare the rest.
			noFlows := func(evs []event.Event) []event.Event {
				var out []event.Event
				for _, ev := range evs {
					if ev.Fields.Str("event.action") != "flow" {
						ev.Fields = ev.Fields.Clone()
						ev.Fields.Delete("db.session.id")
						out = append(out, ev)
					}
				}
				return out
			}
			if diff := cmp.Diff(render(noFlows(want), Stats{}), render(noFlows(got), Stats{})); diff != "" {
				t.Errorf("events with detection differ (-configured +detected):\n%s", diff)
			}
		})
	}
}
