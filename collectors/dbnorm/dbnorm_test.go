package dbnorm

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		stmt, op, action string
	}{
		{"SELECT * FROM users WHERE id = '1' OR '1'='1'", "SELECT", ActionQuery},
		{"  /* x */ -- c\n select 1", "SELECT", ActionQuery},
		{"(SELECT 1) UNION (SELECT 2)", "SELECT", ActionQuery},
		{"insert into t values (1)", "INSERT", ActionQuery},
		{"CREATE ROLE alice LOGIN PASSWORD 'x'", "CREATE ROLE", ActionDCL},
		{"CREATE USER bob@'%' IDENTIFIED BY 'x'", "CREATE USER", ActionDCL},
		{"ALTER ROLE bob SUPERUSER", "ALTER ROLE", ActionDCL},
		{"DROP USER IF EXISTS bob", "DROP USER", ActionDCL},
		{"GRANT ALL PRIVILEGES ON *.* TO bob@'%' WITH GRANT OPTION", "GRANT", ActionDCL},
		{"REVOKE ALL ON secrets FROM bob", "REVOKE", ActionDCL},
		{"SET PASSWORD FOR bob@'%' = PASSWORD('x')", "SET PASSWORD", ActionDCL},
		{"SET GLOBAL server_audit_logging=OFF", "SET", ActionQuery},
		{"CREATE TABLE users (id int)", "CREATE TABLE", ActionDDL},
		{"CREATE UNIQUE INDEX i ON t(x)", "CREATE INDEX", ActionDDL},
		{"CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ select 1 $$ LANGUAGE sql", "CREATE FUNCTION", ActionDDL},
		{"CREATE DEFINER=`root`@`localhost` PROCEDURE p() SELECT 1", "CREATE PROCEDURE", ActionDDL},
		{"CREATE ALGORITHM = MERGE VIEW v AS SELECT 1", "CREATE VIEW", ActionDDL},
		{"CREATE MATERIALIZED VIEW v AS SELECT 1", "CREATE MATERIALIZED VIEW", ActionDDL},
		{"CREATE TEMP TABLE t (x int)", "CREATE TABLE", ActionDDL},
		{"DROP TABLE IF EXISTS orders", "DROP TABLE", ActionDDL},
		{"ALTER SYSTEM SET pgaudit.log = 'none'", "ALTER SYSTEM", ActionDDL},
		{"ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO x", "ALTER DEFAULT PRIVILEGES", ActionDCL},
		{"TRUNCATE users", "TRUNCATE", ActionDDL},
		{"COPY users TO '/tmp/x.csv' WITH (FORMAT csv)", "COPY", ActionExport},
		{"COPY (SELECT * FROM secrets) TO STDOUT", "COPY", ActionExport},
		{"COPY users FROM '/tmp/x.csv'", "COPY", ActionQuery},
		{"COPY t FROM PROGRAM 'id'", "COPY", ActionQuery},
		{"SELECT * FROM users INTO OUTFILE '/tmp/u.csv'", "SELECT", ActionExport},
		{"select load_file('/etc/passwd') into dumpfile '/tmp/x'", "SELECT", ActionExport},
		{"SELECT outfile_name FROM t", "SELECT", ActionQuery},
		{"WITH x AS (SELECT 1) DELETE FROM t USING x", "DELETE", ActionQuery},
		{"with recursive x(n) as (select 1) select * from x", "SELECT", ActionQuery},
		{"RENAME USER a TO b", "RENAME USER", ActionDCL},
		{"RENAME TABLE a TO b", "RENAME", ActionDDL},
		{"/*!40101 SET NAMES utf8 */", "SET", ActionQuery},
		{"", "", ActionQuery},
		{"   ;", "", ActionQuery},
		{"CREATE", "CREATE", ActionDDL},
	}
	for _, tt := range tests {
		op, action := Classify(tt.stmt)
		if op != tt.op || action != tt.action {
			t.Errorf("Classify(%q) = %q, %q; want %q, %q", tt.stmt, op, action, tt.op, tt.action)
		}
	}
}

func TestMaskPasswords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"CREATE ROLE alice LOGIN PASSWORD 'alicepw';", "CREATE ROLE alice LOGIN PASSWORD '*****';"},
		{"alter role x with encrypted password 'it''s';", "alter role x with encrypted password '*****';"},
		{"CREATE USER alice@'%' IDENTIFIED BY 'alicepw'", "CREATE USER alice@'%' IDENTIFIED BY '*****'"},
		{"ALTER USER root@localhost IDENTIFIED BY 'Secr3t!'", "ALTER USER root@localhost IDENTIFIED BY '*****'"},
		{"CREATE USER u IDENTIFIED WITH mysql_native_password BY 'pw'", "CREATE USER u IDENTIFIED WITH mysql_native_password BY '*****'"},
		{"ALTER USER u IDENTIFIED VIA ed25519 USING PASSWORD('pw')", "ALTER USER u IDENTIFIED VIA ed25519 USING PASSWORD('*****')"},
		{"GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD '*ABCDEF'", "GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD '*****'"},
		{"SET PASSWORD FOR bob@'%' = PASSWORD('newbobpw')", "SET PASSWORD FOR bob@'%' = PASSWORD('*****')"},
		{"SET PASSWORD = 'x'", "SET PASSWORD = '*****'"},
		{`QUERY,shop,'CREATE USER a IDENTIFIED BY \'pw\'',0`, `QUERY,shop,'CREATE USER a IDENTIFIED BY \'*****\'',0`},
		{`{"message":"statement: CREATE ROLE a PASSWORD 'x'"}`, `{"message":"statement: CREATE ROLE a PASSWORD '*****'"}`},
		{"select dblink_connect('host=db user=a password=s3cret dbname=x')", "select dblink_connect('host=db user=a password=***** dbname=x')"},
		{"SELECT password_hash FROM users", "SELECT password_hash FROM users"},
		{"CREATE ROLE a PASSWORD NULL", "CREATE ROLE a PASSWORD NULL"},
		{"ALTER ROLE a PASSWORD 'unterminated", "ALTER ROLE a PASSWORD '*****"},
		{"no secrets here", "no secrets here"},
		{"PASSWORD", "PASSWORD"},
	}
	for _, tt := range tests {
		if got := MaskPasswords(tt.in); got != tt.want {
			t.Errorf("MaskPasswords(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func FuzzMaskPasswords(f *testing.F) {
	for _, s := range []string{
		"CREATE ROLE alice LOGIN PASSWORD 'alicepw';",
		"SET PASSWORD FOR bob@'%' = PASSWORD('newbobpw')",
		`'CREATE USER root@\'127.0.0.1\' IDENTIFIED BY *****'`,
		"password=x", "IDENTIFIED WITH a BY \\'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := MaskPasswords(s)
		if MaskPasswords(m) != m {
			t.Errorf("masking is not idempotent: %q -> %q -> %q", s, m, MaskPasswords(m))
		}
		Classify(s)
	})
}

func BenchmarkClassify(b *testing.B) {
	for b.Loop() {
		Classify("SELECT u.id, u.email, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE o.amount > 100")
	}
}

func BenchmarkMaskPasswordsClean(b *testing.B) {
	for b.Loop() {
		MaskPasswords("SELECT u.id, u.email, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE o.amount > 100")
	}
}
