package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/internal/identity"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, stdio{strings.NewReader(stdin), &out, &errb})
	return code, out.String(), errb.String()
}

func TestTokensAndUsersCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	code, out, errOut := runCLI(t, "", "tokens", "create", "--data", dir, "--role", "agent", "--name", "db-01")
	if code != 0 {
		t.Fatalf("tokens create: exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]

	// While "the server" has the database open, the CLI adds a user.
	srv, err := identity.Open(ctx, filepath.Join(dir, identity.FileName), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, err := srv.VerifyToken(ctx, secret)
	if err != nil {
		t.Fatalf("the printed token %q does not verify: %v", secret, err)
	}
	if p.Role != identity.RoleAgent || p.Name != "db-01" {
		t.Errorf("token principal = %+v, want agent db-01", p)
	}
	if code, _, errOut := runCLI(t, "mật khẩu đủ dài 123\n", "users", "create", "--data", dir, "--name", "lan", "--role", "viewer"); code != 0 {
		t.Fatalf("users create: exit %d, stderr %s", code, errOut)
	}
	if u, err := srv.Authenticate(ctx, "lan", "mật khẩu đủ dài 123"); err != nil || u.Role != identity.RoleViewer {
		t.Fatalf("the new user cannot log in: %+v, %v", u, err)
	}

	for _, tc := range []struct {
		name      string
		stdin     string
		args      []string
		wantCode  int
		wantInErr string
	}{
		{"unknown role", "", []string{"tokens", "create", "--data", dir, "--role", "root"}, 2, "valid roles: admin, analyst, viewer, agent"},
		{"missing role", "", []string{"tokens", "create", "--data", dir}, 2, "--role are required"},
		{"missing data", "", []string{"tokens", "create", "--role", "agent"}, 2, "--data and --role are required"},
		{"unknown subcommand", "", []string{"tokens", "delete"}, 2, "unknown subcommand"},
		{"revoke unknown", "", []string{"tokens", "revoke", "--data", dir, "--id", "99"}, 1, "not found"},
		{"no password", "", []string{"users", "create", "--data", dir, "--name", "hoa", "--role", "viewer"}, 2, "no password on standard input"},
		{"short password", "short\n", []string{"users", "create", "--data", dir, "--name", "hoa", "--role", "viewer"}, 1, "password must be"},
		{"duplicate user", "another long password\n", []string{"users", "create", "--data", dir, "--name", "LAN", "--role", "viewer"}, 1, "already exists"},
		{"agent account", "another long password\n", []string{"users", "create", "--data", dir, "--name", "x", "--role", "agent"}, 2, "API tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.stdin, tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantInErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.wantCode, tc.wantInErr)
			}
		})
	}

	if code, _, _ := runCLI(t, "", "tokens", "revoke", "--data", dir, "--id", "1"); code != 0 {
		t.Fatal("revoke failed")
	}
	code, out, _ = runCLI(t, "", "tokens", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "db-01") || strings.Contains(out, secret) {
		t.Errorf("tokens list: exit %d, output %q: want db-01 listed without its secret", code, out)
	}
}
