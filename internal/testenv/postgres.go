package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgresBin is where Debian installs PostgreSQL 15's server programs.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// Postgres is a throwaway PostgreSQL server with pgaudit, on loopback, that
// writes its log as stderr, csvlog and jsonlog at once (LogFile).
type Postgres struct {
	Dir      string // temporary directory holding data, socket and logs
	Port     int
	Password string // of the superuser "postgres"
	// LinePrefix is the server's log_line_prefix.
	LinePrefix string
	asUser     []string // runuser prefix when running as root
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartPostgres starts a PostgreSQL 15 server with pgaudit loaded
// (pgaudit.log = read, write, ddl, role, misc; log_statement = all;
// connections and durations logged) in a temporary directory, creates the
// pgaudit extension and the "auditor" role in database postgres, and stops
// it when the test ends. It skips (fails in CI) when PostgreSQL or pgaudit
// is not installed, and under -short.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real PostgreSQL server; skipped under -short")
	}
	for _, p := range []string{filepath.Join(PostgresBin, "initdb"), filepath.Join(PostgresBin, "pg_ctl")} {
		if _, err := os.Stat(p); err != nil {
			Missing(t, "PostgreSQL 15 is not installed (%s): apt-get install postgresql-15 postgresql-15-pgaudit", p)
		}
	}
	if _, err := exec.LookPath("psql"); err != nil {
		Missing(t, "psql is not installed: apt-get install postgresql-client-15")
	}
	if matches, _ := filepath.Glob("/usr/lib/postgresql/15/lib/pgaudit.so"); len(matches) == 0 {
		Missing(t, "pgaudit is not installed: apt-get install postgresql-15-pgaudit")
	}
	dir, err := os.MkdirTemp("", "vigil-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &Postgres{Dir: dir, Port: FreePort(t), Password: "Secr3t!", LinePrefix: "%m [%p] %q%u@%d/%a %h "}
	if os.Geteuid() == 0 {
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
		if err := chownTo(dir, "postgres"); err != nil {
			t.Fatal(err)
		}
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(p.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		chownTo(pw, "postgres")
	}
	data := filepath.Join(dir, "data")
	p.run(t, filepath.Join(PostgresBin, "initdb"), "-D", data, "-U", "postgres", "--pwfile="+pw,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
	conf := fmt.Sprintf(`listen_addresses='127.0.0.1'
port=%d
unix_socket_directories='%s'
ssl=off
logging_collector=on
log_destination='stderr,csvlog,jsonlog'
log_directory='%s'
log_filename='postgresql'
log_line_prefix='%s'
log_connections=on
log_disconnections=on
log_statement='all'
log_min_duration_statement=0
shared_preload_libraries='pgaudit'
pgaudit.log='read, write, ddl, role, misc'
pgaudit.log_parameter=on
pgaudit.log_relation=on
pgaudit.role='auditor'
fsync=off
`, p.Port, dir, filepath.Join(dir, "log"), p.LinePrefix)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(conf)
	f.Close()
	p.run(t, filepath.Join(PostgresBin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "pg_ctl.log"), "-w", "-t", "60", "start")
	t.Cleanup(p.stop)
	if _, err := p.Psql("postgres", p.Password, "postgres", "CREATE EXTENSION pgaudit; CREATE ROLE auditor NOLOGIN;"); err != nil {
		t.Fatalf("setting up pgaudit: %v", err)
	}
	return p
}

func (p *Postgres) run(t testing.TB, name string, args ...string) {
	t.Helper()
	argv := append(append([]string{}, p.asUser...), append([]string{name}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// stop stops the server by the process id in postmaster.pid (fast
// shutdown) and waits for it to go.
func (p *Postgres) stop() {
	b, err := os.ReadFile(filepath.Join(p.Dir, "data", "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGINT)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// Psql runs sql with psql over TCP as user, and returns its output
// (unaligned, tuples only). Errors of statements do not stop the script
// (ON_ERROR_STOP is off); a failed login is an error.
func (p *Postgres) Psql(user, password, db, sql string) (string, error) {
	return p.PsqlApp(user, password, db, "psql", sql)
}

// PsqlApp is Psql with another application_name.
func (p *Postgres) PsqlApp(user, password, db, app, sql string) (string, error) {
	cmd := exec.Command("psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", user, "-d", db, "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGAPPNAME="+app, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("psql as %s: %w: %s", user, err, out.String())
	}
	return out.String(), nil
}

// Command returns a command for a client program (pgbench, pg_dump, ...)
// with the connection set in its environment.
func (p *Postgres) Command(user, password, db, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(p.Port), "PGUSER="+user,
		"PGPASSWORD="+password, "PGDATABASE="+db, "PGSSLMODE=disable")
	return cmd
}

// LogFile returns the path of the server log in one format: "stderr",
// "csvlog" or "jsonlog".
func (p *Postgres) LogFile(format string) string {
	name := "postgresql"
	switch format {
	case "csvlog":
		name += ".csv"
	case "jsonlog":
		name += ".json"
	}
	return filepath.Join(p.Dir, "log", name)
}

// chownTo gives path (recursively) to the named system user.
func chownTo(path, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
