package rules

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/formats"
	"github.com/danang-soc/vigil/internal/testenv"
)

// decodeLog reads the complete lines of a log file written by a running
// server through the named format.
func decodeLog(t *testing.T, format, path string, opts formats.Options) []event.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	}
	f, ok := formats.Lookup(format)
	if !ok {
		t.Fatalf("no format %s", format)
	}
	var evs []event.Event
	if err := formats.Read(bytes.NewReader(b), f.New(opts), func(e event.Event) { evs = append(evs, e) }); err != nil {
		t.Fatalf("decoding %s as %s: %v", path, format, err)
	}
	return evs
}

// detect runs events through the pack and returns what fired.
func detect(t *testing.T, evs []event.Event) *detector {
	t.Helper()
	d := newDetector(t, loadPack(t))
	for i := range evs {
		d.feed(t, &evs[i])
	}
	d.finish()
	return d
}

// stemsFired names the rule files whose rules raised something.
func stemsFired(t *testing.T, d *detector) map[string]bool {
	t.Helper()
	byID := map[string]string{}
	for stem, ids := range ruleFiles(t, d.rs) {
		for _, id := range ids {
			byID[id] = stem
		}
	}
	out := map[string]bool{}
	for _, h := range d.hits {
		out[byID[h.RuleID]] = true
	}
	return out
}

func wantFired(t *testing.T, what string, fired map[string]bool, want []string) {
	t.Helper()
	var missing []string
	for _, s := range want {
		if !fired[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		var got []string
		for s := range fired {
			got = append(got, s)
		}
		slices.Sort(got)
		t.Errorf("%s: rules that did not fire: %v\n(fired: %v)", what, missing, got)
	}
}

// noSevere fails on any alert of level high or critical.
func noSevere(t *testing.T, what string, d *detector, evs []event.Event) {
	t.Helper()
	for _, h := range d.hits {
		if h.Level >= event.LevelHigh {
			raw := ""
			if h.Event >= 0 && h.Event < len(evs) {
				raw = evs[h.Event].Raw
			}
			t.Errorf("%s: benign workload raised %v: %s", what, h, raw)
		}
	}
}

// waitFor waits until the file holds s (the logging collector writes
// asynchronously).
func waitFor(t *testing.T, path, s string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(s)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q", path, s)
}

func TestPostgresEndToEnd(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pw := pg.Password
	must := func(user, password, db, sql string) {
		t.Helper()
		if out, err := pg.Psql(user, password, db, sql); err != nil {
			t.Fatalf("%s: %v %s", sql, err, out)
		}
	}
	// Benign: an application's accounts and pgbench for a while.
	must("postgres", pw, "postgres", "CREATE DATABASE bench")
	if out, err := pg.Command("postgres", pw, "bench", "pgbench", "-i", "-q", "-s", "1").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if out, err := pg.Command("postgres", pw, "bench", "pgbench", "-c", "2", "-T", "3", "-n").CombinedOutput(); err != nil {
		t.Fatalf("pgbench: %v\n%s", err, out)
	}
	if out, err := pg.Command("postgres", pw, "bench", "pgbench", "-c", "1", "-T", "2", "-n", "-S", "-M", "prepared").CombinedOutput(); err != nil {
		t.Fatalf("pgbench -S: %v\n%s", err, out)
	}
	must("postgres", pw, "postgres", "SELECT 'benign-done'")
	waitFor(t, pg.LogFile("jsonlog"), "benign-done")
	for _, format := range []string{"jsonlog", "csvlog", "stderr"} {
		evs := decodeLog(t, "postgres-"+format, pg.LogFile(format), formats.Options{Host: "pg1", LinePrefix: pg.LinePrefix})
		if len(evs) < 1000 {
			t.Errorf("%s: only %d events from the benign workload", format, len(evs))
		}
		noSevere(t, "postgres "+format, detect(t, evs), evs)
	}

	// The attack.
	for i := 0; i < 6; i++ {
		pg.Psql("postgres", "wrong"+fmt.Sprint(i), "postgres", "SELECT 1")
	}
	for _, u := range []string{"mallory", "admin", "backup", "report"} {
		pg.Psql(u, "Summer2026!", "postgres", "SELECT 1")
	}
	must("postgres", pw, "postgres", "CREATE DATABASE shop")
	for _, sql := range []string{
		"CREATE ROLE alice LOGIN PASSWORD 'alicepw'",
		"CREATE ROLE bob LOGIN PASSWORD 'bobpw'",
		"CREATE TABLE users (id int PRIMARY KEY, name text, email text, password_hash text)",
		"INSERT INTO users SELECT g, 'user'||g, 'user'||g||'@example.com', md5(g::text) FROM generate_series(1,20000) g",
		"CREATE TABLE secrets (id int, api_key text)",
		"CREATE TABLE tmp_t (x int)",
		"GRANT SELECT ON users TO alice",
		"GRANT ALL PRIVILEGES ON secrets TO bob",
		"ALTER ROLE bob SUPERUSER",
		"GRANT pg_read_server_files TO alice WITH ADMIN OPTION",
	} {
		must("postgres", pw, "shop", sql)
	}
	for _, sql := range []string{
		"SELECT * FROM users WHERE id = '1' OR '1'='1'",
		"SELECT id, name FROM users WHERE name = 'x' UNION SELECT 1, version()",
		"SELECT id FROM users WHERE id = 1 UNION/**/SELECT 2",
		"SELECT pg_sleep(0.1)",
		"SELECT * FROM users WHERE name = 'x'; SELECT current_user; --'",
	} {
		must("alice", "alicepw", "shop", sql)
	}
	for i := 0; i < 5; i++ {
		pg.Psql("alice", "alicepw", "shop", "SELECT * FROM secrets")
	}
	for _, sql := range []string{
		"COPY users TO '" + pg.Dir + "/users.csv' WITH (FORMAT csv)",
		"COPY (SELECT * FROM secrets) TO STDOUT",
		"CREATE TABLE cmd (line text); COPY cmd FROM PROGRAM 'echo pwned'",
		"SELECT pg_read_file('postgresql.conf', 0, 10)",
		"SELECT usename, passwd FROM pg_shadow",
		"ALTER SYSTEM SET log_statement = 'none'",
		"ALTER SYSTEM SET pgaudit.log = 'none'",
		"ALTER SYSTEM RESET ALL",
		"TRUNCATE tmp_t",
		"DELETE FROM tmp_t",
		"DROP TABLE tmp_t",
		"CREATE FUNCTION sys_exec(text) RETURNS int AS '/tmp/nope.so', 'sys_exec' LANGUAGE C STRICT",
	} {
		pg.Psql("postgres", pw, "shop", sql) // some fail on purpose; the attempt is logged
	}
	if out, err := pg.Command("postgres", pw, "shop", "pg_dump", "-t", "users").CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out[:min(len(out), 500)])
	}
	must("postgres", pw, "postgres", "SELECT 'attack-done'")
	waitFor(t, pg.LogFile("jsonlog"), "attack-done")
	waitFor(t, pg.LogFile("csvlog"), "attack-done")
	waitFor(t, pg.LogFile("stderr"), "attack-done")

	want := []string{
		"db_login_failed", "db_bruteforce_login", "db_password_spraying", "db_login_success",
		"db_role_created", "db_superuser_granted", "db_grant_all", "db_grant_option", "db_pg_privileged_role_granted",
		"db_sqli_tautology", "db_sqli_union_catalog", "db_sqli_comment_evasion", "db_sqli_time_delay", "db_sqli_stacked_query",
		"db_permission_denied", "db_permission_denied_repeated",
		"db_pg_copy_to_file", "db_pg_copy_to_client", "db_pg_copy_program", "db_pg_server_file_access",
		"db_password_hash_access", "db_pg_logging_changed", "db_pg_audit_disabled", "db_pg_audit_settings_changed",
		"db_truncate_table", "db_delete_all_rows", "db_drop_table", "db_udf_creation", "db_dump_tool",
		"db_sensitive_table_access",
	}
	for _, format := range []string{"jsonlog", "csvlog", "stderr"} {
		evs := decodeLog(t, "postgres-"+format, pg.LogFile(format), formats.Options{Host: "pg1", LinePrefix: pg.LinePrefix})
		for i := range evs {
			for _, s := range []string{"alicepw", "bobpw", pw} {
				if strings.Contains(string(evs[i].AppendJSON(nil)), s) {
					t.Errorf("%s: event %d leaks a password: %s", format, i, evs[i].Raw)
				}
			}
		}
		wantFired(t, "postgres "+format, stemsFired(t, detect(t, evs)), want)
	}
}

func TestMariaDBEndToEnd(t *testing.T) {
	m := testenv.StartMariaDB(t)
	root := func(sql string) {
		t.Helper()
		if out, err := m.Root(sql); err != nil {
			t.Fatalf("%s: %v %s", sql, err, out)
		}
	}
	// Benign: an application's schema, account and ordinary reads and writes.
	root("CREATE DATABASE app; CREATE TABLE app.items (id INT PRIMARY KEY, name VARCHAR(64), qty INT);" +
		"CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT SELECT, INSERT, UPDATE, DELETE ON app.* TO app@'%'")
	var work strings.Builder
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&work, "INSERT INTO items VALUES (%d, 'item%d', %d);", i, i, i%7)
	}
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&work, "SELECT name, qty FROM items WHERE id = %d; UPDATE items SET qty = qty + 1 WHERE id = %d;", i, i)
	}
	work.WriteString("DELETE FROM items WHERE id > 190; SELECT COUNT(*) FROM items;")
	for i := 0; i < 5; i++ {
		if out, err := m.SQL("app", "apppw", "app", work.String()); err != nil {
			t.Fatalf("app workload: %v %s", err, out)
		}
		work.Reset()
		fmt.Fprintf(&work, "SELECT id, name FROM items WHERE qty > %d ORDER BY id LIMIT 10; UPDATE items SET name = 'renamed%d' WHERE id = %d;", i, i, i+1)
	}
	root("SELECT 'benign-done'")
	logs := map[string]string{"mariadb-audit": "audit", "mysql-general": "general", "mysql-slow": "slow", "mysql-error": "error"}
	waitFor(t, m.LogFile("general"), "benign-done")
	for format, kind := range logs {
		evs := decodeLog(t, format, m.LogFile(kind), formats.Options{Host: "my1"})
		noSevere(t, format, detect(t, evs), evs)
	}

	// The attack.
	root("CREATE DATABASE shop; USE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128));" +
		"INSERT INTO shop.users SELECT seq, CONCAT('user',seq), CONCAT('user',seq,'@example.com') FROM seq_1_to_20000;" +
		"CREATE TABLE shop.secrets (id INT, api_key VARCHAR(64)); CREATE TABLE shop.tmp_t (x INT);" +
		"CREATE USER alice@'%' IDENTIFIED BY 'alicepw'; CREATE USER bob@'%' IDENTIFIED BY 'bobpw';" +
		"GRANT SELECT ON shop.users TO alice@'%'; GRANT ALL PRIVILEGES ON *.* TO bob@'%' WITH GRANT OPTION;" +
		"SET PASSWORD FOR bob@'%' = PASSWORD('newbobpw')")
	for i := 0; i < 6; i++ {
		m.SQL("alice", "wrong", "shop", "SELECT 1")
	}
	for _, u := range []string{"mallory", "admin", "backup", "report"} {
		m.SQL(u, "Summer2026!", "", "SELECT 1")
	}
	for _, sql := range []string{
		"SELECT * FROM users WHERE id = '1' OR '1'='1'",
		"SELECT id, name FROM users WHERE name = 'x' UNION SELECT 1, @@version",
		"SELECT SLEEP(0.1)",
	} {
		if out, err := m.SQL("alice", "alicepw", "shop", sql); err != nil {
			t.Fatalf("%s: %v %s", sql, err, out)
		}
	}
	for i := 0; i < 5; i++ {
		m.SQL("alice", "alicepw", "shop", "SELECT * FROM secrets")
	}
	m.Root("USE shop; SELECT * FROM users INTO OUTFILE '" + m.Dir + "/out/users.csv';" +
		"SELECT LOAD_FILE('/etc/hostname'); SELECT user, authentication_string FROM mysql.user;" +
		"SELECT api_key FROM secrets; TRUNCATE tmp_t; DELETE FROM tmp_t; DROP TABLE tmp_t;" +
		"CREATE FUNCTION sys_exec RETURNS INTEGER SONAME 'lib_mysqludf_sys.so'") // fails; the attempt is logged
	if out, err := m.Command("root", "", "mysqldump", "shop", "users").CombinedOutput(); err != nil {
		t.Fatalf("mysqldump: %v\n%s", err, out[:min(len(out), 500)])
	}
	root("SET GLOBAL server_audit_logging=OFF; SELECT 'attack-done'")
	waitFor(t, m.LogFile("general"), "attack-done")

	fired := map[string]bool{}
	for format, kind := range logs {
		evs := decodeLog(t, format, m.LogFile(kind), formats.Options{Host: "my1"})
		for i := range evs {
			for _, s := range []string{"alicepw", "bobpw", "apppw"} {
				if strings.Contains(string(evs[i].AppendJSON(nil)), s) {
					t.Errorf("%s: event %d leaks a password: %s", format, i, evs[i].Raw)
				}
			}
		}
		for s := range stemsFired(t, detect(t, evs)) {
			fired[s] = true
		}
		if format == "mariadb-audit" {
			wantFired(t, format, stemsFired(t, detect(t, evs)), []string{"db_bruteforce_login", "db_password_spraying", "db_sqli_tautology", "db_permission_denied_repeated"})
		}
	}
	wantFired(t, "mariadb", fired, []string{
		"db_login_failed", "db_bruteforce_login", "db_password_spraying", "db_login_success",
		"db_role_created", "db_superuser_granted", "db_grant_all", "db_grant_option", "db_role_changed",
		"db_sqli_tautology", "db_sqli_union_catalog", "db_sqli_time_delay",
		"db_permission_denied", "db_permission_denied_repeated",
		"db_mysql_into_outfile", "db_mass_read", "db_mysql_server_file_access", "db_password_hash_access",
		"db_truncate_table", "db_delete_all_rows", "db_drop_table", "db_udf_creation", "db_dump_tool",
		"db_sensitive_table_access", "db_mysql_audit_disabled",
	})
}
