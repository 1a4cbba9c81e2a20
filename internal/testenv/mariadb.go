package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MariaDB is a throwaway MariaDB server with the server_audit plugin, on
// loopback, writing its server_audit, general, slow and error logs
// (LogFile). root connects through the socket without a password.
type MariaDB struct {
	Dir    string
	Port   int
	Socket string
	cmd    *exec.Cmd
}

// StartMariaDB starts mariadbd with server_audit (CONNECT, QUERY, TABLE
// events), the general log, the slow log (long_query_time=0) and the error
// log with log_warnings=4 in a temporary directory, and stops it when the
// test ends. It skips (fails in CI) when MariaDB is not installed, and under
// -short.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real MariaDB server; skipped under -short")
	}
	server := "/usr/sbin/mariadbd"
	if _, err := os.Stat(server); err != nil {
		Missing(t, "MariaDB is not installed (%s): apt-get install mariadb-server mariadb-client", server)
	}
	for _, p := range []string{"mariadb-install-db", "mariadb", "mariadb-admin"} {
		if _, err := exec.LookPath(p); err != nil {
			Missing(t, "%s is not installed: apt-get install mariadb-server mariadb-client", p)
		}
	}
	dir, err := os.MkdirTemp("", "vigil-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"data", "log", "out"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	root := os.Geteuid() == 0
	if root {
		if err := chownTo(dir, "mysql"); err != nil {
			t.Fatal(err)
		}
	}
	m := &MariaDB{Dir: dir, Port: FreePort(t), Socket: filepath.Join(dir, "mysqld.sock")}
	install := []string{"mariadb-install-db", "--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}
	if root {
		install = append(install, "--user=mysql")
	}
	if out, err := exec.Command(install[0], install[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	args := []string{server, "--no-defaults", "--datadir=" + filepath.Join(dir, "data"), "--socket=" + m.Socket,
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--port=" + strconv.Itoa(m.Port), "--bind-address=127.0.0.1",
		"--skip-networking=0", "--log-error=" + m.LogFile("error"), "--secure-file-priv=" + filepath.Join(dir, "out"),
		"--general-log=1", "--general-log-file=" + m.LogFile("general"), "--log-output=FILE",
		"--slow-query-log=1", "--slow-query-log-file=" + m.LogFile("slow"), "--long-query-time=0",
		"--plugin-load-add=server_audit", "--server-audit-logging=ON", "--server-audit-output-type=file",
		"--server-audit-file-path=" + m.LogFile("audit"), "--server-audit-events=CONNECT,QUERY,TABLE",
		"--log-warnings=4", "--ssl=0", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
		"--skip-name-resolve"}
	if root {
		args = append([]string{"runuser", "-u", "mysql", "--"}, args...)
	}
	m.cmd = exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	m.cmd.Stdout, m.cmd.Stderr = &out, &out
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting mariadbd: %v", err)
	}
	t.Cleanup(m.stop)
	for i := 0; ; i++ {
		if exec.Command("mariadb-admin", "--no-defaults", "--socket="+m.Socket, "-uroot", "ping").Run() == nil {
			break
		}
		if i > 300 {
			b, _ := os.ReadFile(m.LogFile("error"))
			t.Fatalf("mariadbd did not start in 60s: %s\n%s", out.String(), b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return m
}

// stop ends the server by the id in its pid file and waits for it.
func (m *MariaDB) stop() {
	b, err := os.ReadFile(filepath.Join(m.Dir, "mysqld.pid"))
	if err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		m.cmd.Process.Kill()
		<-done
	}
}

// Root runs sql as root over the socket (batch mode, --force).
func (m *MariaDB) Root(sql string) (string, error) {
	cmd := exec.Command("mariadb", "--no-defaults", "--socket="+m.Socket, "-uroot", "--batch", "--force", "-e", sql)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("mariadb as root: %w: %s", err, out.String())
	}
	return out.String(), nil
}

// SQL runs sql as user over TCP (batch mode, --force: later statements run
// after a failed one); a failed login or statement is an error.
func (m *MariaDB) SQL(user, password, db, sql string) (string, error) {
	args := []string{"--no-defaults", "--protocol=TCP", "-h127.0.0.1", "-P" + strconv.Itoa(m.Port), "--skip-ssl",
		"-u" + user, "--batch", "--force", "-e", sql}
	if password != "" {
		args = append(args, "-p"+password)
	}
	if db != "" {
		args = append(args, db)
	}
	cmd := exec.Command("mariadb", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("mariadb as %s: %w: %s", user, err, out.String())
	}
	return out.String(), nil
}

// Command returns a command for a client program (mysqldump, ...) with the
// TCP connection options first.
func (m *MariaDB) Command(user, password, name string, args ...string) *exec.Cmd {
	base := []string{"--no-defaults", "--protocol=TCP", "-h127.0.0.1", "-P" + strconv.Itoa(m.Port), "--skip-ssl", "-u" + user}
	if password != "" {
		base = append(base, "-p"+password)
	}
	return exec.Command(name, append(base, args...)...)
}

// LogFile returns the path of one of the server's logs: "audit"
// (server_audit), "general", "slow" or "error".
func (m *MariaDB) LogFile(kind string) string {
	switch kind {
	case "audit":
		return filepath.Join(m.Dir, "log", "server_audit.log")
	case "general":
		return filepath.Join(m.Dir, "log", "general.log")
	case "slow":
		return filepath.Join(m.Dir, "log", "slow.log")
	}
	return filepath.Join(m.Dir, "log", "error.log")
}
