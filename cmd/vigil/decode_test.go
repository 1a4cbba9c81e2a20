package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

func runDecode(args ...string) (code int, out, errOut string) {
	var o, e bytes.Buffer
	code = run(context.Background(), append([]string{"decode"}, args...), stdio{strings.NewReader(""), &o, &e})
	return code, o.String(), e.String()
}

func TestDecodeCommand(t *testing.T) {
	pg := testenv.Corpus(t, "pcaps", "postgres.pcap")
	my := testenv.Corpus(t, "pcaps", "mariadb.pcap")

	t.Run("text", func(t *testing.T) {
		code, out, errOut := runDecode(pg, "--port-pg", "5433")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{
			`127.0.0.1:40630 login failure login mallory@postgres failure: 28P01 password authentication failed for user "mallory"`,
			`query failure SELECT * FROM secrets; -> 42501 permission denied for table secrets`,
			`dcl success CREATE ROLE alice LOGIN PASSWORD '*****'; -> 0 rows`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if strings.Contains(out, " flow ") {
			t.Error("flow records printed without --flows")
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out, errOut := runDecode("--json", "--port-mysql", "3307", my, "--flows")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var logins, flows int
		for _, l := range lines {
			ev, err := event.DecodeJSON([]byte(l))
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if ev.ID.IsZero() || ev.Source.Product != "mysql" {
				t.Errorf("event without id or log source: %s", l)
			}
			switch ev.Fields.Str("event.action") {
			case "login":
				logins++
			case "flow":
				flows++
			}
		}
		if logins != 9 || flows != 9 {
			t.Errorf("%d logins and %d flows, want 9 of each", logins, flows)
		}
	})
	t.Run("ports detected", func(t *testing.T) {
		code, out, _ := runDecode(pg)
		logins := 0
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 3 && f[3] == "login" {
				logins++
			}
		}
		if code != 0 || logins != 12 {
			t.Errorf("exit %d, %d logins; want 0 and 12:\n%s", code, logins, out)
		}
	})
	t.Run("no detection: nothing on a port not given", func(t *testing.T) {
		code, out, _ := runDecode(pg, "--detect=false")
		if code != 0 || out != "" {
			t.Errorf("exit %d, output %q; want 0 and nothing", code, out)
		}
	})
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"no file", nil, 2},
		{"two files", []string{pg, my}, 2},
		{"bad port", []string{pg, "--port-pg", "x"}, 2},
		{"port for both protocols", []string{pg, "--port-pg", "5433", "--port-mysql", "5433"}, 2},
		{"missing file", []string{"/nonexistent.pcap"}, 1},
		{"not a capture", []string{"decode_test.go"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := runDecode(tt.args...); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
		})
	}
}
