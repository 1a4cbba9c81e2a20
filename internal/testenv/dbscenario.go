package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// The scripted database scenarios of vigil's integration tests: a benign
// workload that must raise no alert of level high or critical, and an
// attack that must fire the rules of vigil's database pack listed in
// PostgresAttackRules and MariaDBAttackRules (rule file stems under
// rules/sigma). End-to-end tests run them against servers started with
// StartPostgres and StartMariaDB and read the logs the servers write.

// Benign runs an ordinary workload: pgbench's initialisation, a few
// seconds of its TPC-B-like transactions and of prepared select-only ones,
// in a database "bench".
func (p *Postgres) Benign(t testing.TB) {
	t.Helper()
	if out, err := p.Psql("postgres", p.Password, "postgres", "CREATE DATABASE bench"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for _, args := range [][]string{
		{"-i", "-q", "-s", "1"},
		{"-c", "2", "-T", "3", "-n"},
		{"-c", "1", "-T", "2", "-n", "-S", "-M", "prepared"},
	} {
		if out, err := p.Command("postgres", p.Password, "bench", "pgbench", args...).CombinedOutput(); err != nil {
			t.Fatalf("pgbench %v: %v\n%s", args, err, out)
		}
	}
}

// PostgresAttackRules are the rule file stems Attack must fire in each of
// the server's log formats.
var PostgresAttackRules = []string{
	"db_login_failed", "db_bruteforce_login", "db_password_spraying", "db_login_success",
	"db_role_created", "db_superuser_granted", "db_grant_all", "db_grant_option", "db_pg_privileged_role_granted",
	"db_sqli_tautology", "db_sqli_union_catalog", "db_sqli_comment_evasion", "db_sqli_time_delay", "db_sqli_stacked_query",
	"db_permission_denied", "db_permission_denied_repeated",
	"db_pg_copy_to_file", "db_pg_copy_to_client", "db_pg_copy_program", "db_pg_server_file_access",
	"db_password_hash_access", "db_pg_logging_changed", "db_pg_audit_disabled", "db_pg_audit_settings_changed",
	"db_truncate_table", "db_delete_all_rows", "db_drop_table", "db_udf_creation", "db_dump_tool",
	"db_sensitive_table_access",
}

// Attack runs the scripted attack through psql and pg_dump: password
// guessing and spraying, new roles and privileges up to superuser, SQL
// injection fingerprints, repeated permission-denied reads of "secrets",
// exports to server files and to the client, COPY PROGRAM, server file
// reads, password hashes, logging and pgaudit switched off (ALTER SYSTEM,
// not reloaded), TRUNCATE/DELETE/DROP, a C-language function and a dump.
// The passwords "alicepw" and "bobpw" are written in clear by the server's
// statement log.
func (p *Postgres) Attack(t testing.TB) {
	t.Helper()
	pw := p.Password
	must := func(user, password, db, sql string) {
		t.Helper()
		if out, err := p.Psql(user, password, db, sql); err != nil {
			t.Fatalf("%s: %v %s", sql, err, out)
		}
	}
	for i := 0; i < 6; i++ {
		p.Psql("postgres", fmt.Sprintf("wrong%d", i), "postgres", "SELECT 1") // fails: the point
	}
	for _, u := range []string{"mallory", "admin", "backup", "report"} {
		p.Psql(u, "Summer2026!", "postgres", "SELECT 1")
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
		p.Psql("alice", "alicepw", "shop", "SELECT * FROM secrets") // permission denied
	}
	for _, sql := range []string{
		"COPY users TO '" + p.Dir + "/users.csv' WITH (FORMAT csv)",
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
		p.Psql("postgres", pw, "shop", sql) // some fail on purpose; the attempt is logged
	}
	if out, err := p.Command("postgres", pw, "shop", "pg_dump", "-t", "users").CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out[:min(len(out), 500)])
	}
}

// Benign runs an application's ordinary work: a schema and an account
// created by root, then inserts, reads by key, updates and deletes.
func (m *MariaDB) Benign(t testing.TB) {
	t.Helper()
	if out, err := m.Root("CREATE DATABASE app; CREATE TABLE app.items (id INT PRIMARY KEY, name VARCHAR(64), qty INT);" +
		"CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT SELECT, INSERT, UPDATE, DELETE ON app.* TO app@'%'"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
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
}

// MariaDBAttackRules are the rule file stems Attack must fire across the
// server's logs (server_audit, general, slow, error).
var MariaDBAttackRules = []string{
	"db_login_failed", "db_bruteforce_login", "db_password_spraying", "db_login_success",
	"db_role_created", "db_superuser_granted", "db_grant_all", "db_grant_option", "db_role_changed",
	"db_sqli_tautology", "db_sqli_union_catalog", "db_sqli_time_delay",
	"db_permission_denied", "db_permission_denied_repeated",
	"db_mysql_into_outfile", "db_mass_read", "db_mysql_server_file_access", "db_password_hash_access",
	"db_truncate_table", "db_delete_all_rows", "db_drop_table", "db_udf_creation", "db_dump_tool",
	"db_sensitive_table_access", "db_mysql_audit_disabled",
}

// MariaDBAuditRules are the stems Attack must fire from the server_audit
// log alone.
var MariaDBAuditRules = []string{"db_bruteforce_login", "db_password_spraying", "db_sqli_tautology", "db_permission_denied_repeated"}

// Attack runs the scripted attack through the mariadb client and
// mysqldump; it ends by switching server_audit logging off.
func (m *MariaDB) Attack(t testing.TB) {
	t.Helper()
	if out, err := m.Root("CREATE DATABASE shop; USE shop; CREATE TABLE shop.users (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128));" +
		"INSERT INTO shop.users SELECT seq, CONCAT('user',seq), CONCAT('user',seq,'@example.com') FROM seq_1_to_20000;" +
		"CREATE TABLE shop.secrets (id INT, api_key VARCHAR(64)); CREATE TABLE shop.tmp_t (x INT);" +
		"CREATE USER alice@'%' IDENTIFIED BY 'alicepw'; CREATE USER bob@'%' IDENTIFIED BY 'bobpw';" +
		"GRANT SELECT ON shop.users TO alice@'%'; GRANT ALL PRIVILEGES ON *.* TO bob@'%' WITH GRANT OPTION;" +
		"SET PASSWORD FOR bob@'%' = PASSWORD('newbobpw')"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for i := 0; i < 6; i++ {
		m.SQL("alice", "wrong", "shop", "SELECT 1") // fails: the point
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
		m.SQL("alice", "alicepw", "shop", "SELECT * FROM secrets") // permission denied
	}
	m.Root("USE shop; SELECT * FROM users INTO OUTFILE '" + m.Dir + "/out/users.csv';" +
		"SELECT LOAD_FILE('/etc/hostname'); SELECT user, authentication_string FROM mysql.user;" +
		"SELECT api_key FROM secrets; TRUNCATE tmp_t; DELETE FROM tmp_t; DROP TABLE tmp_t;" +
		"CREATE FUNCTION sys_exec RETURNS INTEGER SONAME 'lib_mysqludf_sys.so'") // the last fails; the attempt is logged
	if out, err := m.Command("root", "", "mysqldump", "shop", "users").CombinedOutput(); err != nil {
		t.Fatalf("mysqldump: %v\n%s", err, out[:min(len(out), 500)])
	}
	if out, err := m.Root("SET GLOBAL server_audit_logging=OFF"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
}
