package server

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/collectors/packet"
	"github.com/danang-soc/vigil/internal/formats"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/danang-soc/vigil/rules"
	"gopkg.in/yaml.v3"
)

// These tests run real database servers, drive attacks (or an ordinary
// workload) through their real clients, and check what vigil serve raises
// from the logs the servers write: the whole path an administrator sets up
// with a `files:` configuration.

func startDBServer(t *testing.T, files []FileInput) *testServer {
	return startDBServerConfig(t, Config{Files: files})
}

func startDBServerConfig(t *testing.T, cfg Config) *testServer {
	t.Helper()
	b, err := fs.ReadFile(rules.FS, "placeholders.yml")
	if err != nil {
		t.Fatal(err)
	}
	var ph map[string][]string
	if err := yaml.Unmarshal(b, &ph); err != nil {
		t.Fatal(err)
	}
	bundled, err := fs.Sub(rules.FS, "sigma")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Listen = filepath.Join(t.TempDir(), "data"), "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, Options{Bundled: bundled, Placeholders: ph}, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if n := len(s.ruleErrs); n > 0 {
		t.Fatalf("%d bundled rules rejected: %v", n, s.ruleErrs)
	}
	ts := &testServer{Server: s, base: "http://" + s.Addr().String(), tokens: map[identity.Role]string{}}
	tok, err := s.ident.CreateToken(ctx, "db-e2e", identity.RoleAnalyst)
	if err != nil {
		t.Fatal(err)
	}
	ts.tokens[identity.RoleAnalyst] = tok
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ts
}

// ruleStems maps rule ids to their file stems (db_bruteforce_login, ...).
func (ts *testServer) ruleStems() map[string]string {
	rs := ts.pipe.rules.Load()
	m := map[string]string{}
	for _, r := range rs.Rules() {
		m[r.ID] = strings.TrimSuffix(path.Base(r.Path), ".yml")
	}
	for _, c := range rs.Correlations() {
		m[c.ID] = strings.TrimSuffix(path.Base(c.Path), ".yml")
	}
	return m
}

type alertSummary struct {
	RuleID string `json:"rule_id"`
	Level  string `json:"level"`
	Host   string `json:"host"`
	Title  string `json:"rule_title"`
}

func (ts *testServer) allAlerts(t *testing.T) []alertSummary {
	t.Helper()
	var out []alertSummary
	cursor := ""
	for {
		p := "/api/v1/alerts?limit=1000"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		code, b := ts.do(t, identity.RoleAnalyst, "GET", p, "")
		if code != 200 {
			t.Fatalf("alerts: %d %s", code, b)
		}
		var page struct {
			Items []alertSummary `json:"items"`
			Next  string         `json:"next"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

// awaitRules waits until every wanted rule stem has raised an alert, and
// returns the alerts. Rules that only feed correlations (no `generate`)
// raise no alert of their own: their correlations must fire instead.
func (ts *testServer) awaitRules(t *testing.T, wantStems []string, within time.Duration) []alertSummary {
	t.Helper()
	stems := ts.ruleStems()
	silent := map[string]bool{}
	for _, r := range ts.pipe.rules.Load().Rules() {
		if r.CorrelationOnly {
			silent[stems[r.ID]] = true
		}
	}
	var want []string
	for _, w := range wantStems {
		if !silent[w] {
			want = append(want, w)
		}
	}
	if len(want) < len(wantStems)/2 {
		t.Fatalf("only %d of %d rules raise alerts of their own", len(want), len(wantStems))
	}
	deadline := time.Now().Add(within)
	for {
		alerts := ts.allAlerts(t)
		fired := map[string]bool{}
		for _, a := range alerts {
			fired[stems[a.RuleID]] = true
		}
		var missing []string
		for _, w := range want {
			if !fired[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return alerts
		}
		if time.Now().After(deadline) {
			var got []string
			for k := range fired {
				got = append(got, k)
			}
			sort.Strings(got)
			t.Fatalf("after %s these rules had not fired: %v\nfired: %v", within, missing, got)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestServePostgresAttackRaisesAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL; skipped with -short")
	}
	pg := testenv.StartPostgres(t)
	ts := startDBServer(t, []FileInput{{Source: formats.Source{Format: "postgres-jsonlog", Path: pg.LogFile("jsonlog"), Host: "pg-city", AssetID: "city-db"}}})
	pg.Attack(t)
	alerts := ts.awaitRules(t, testenv.PostgresAttackRules, 90*time.Second)
	for _, a := range alerts {
		if a.Host != "pg-city" {
			t.Errorf("alert %q has host %q, want pg-city", a.Title, a.Host)
			break
		}
	}
	// The attack becomes an incident on that server.
	code, b := ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/incidents?severity=critical", "")
	if code != 200 || !strings.Contains(string(b), "pg-city") {
		t.Errorf("no critical incident about pg-city: %d %s", code, b)
	}
}

func TestServeMariaDBAttackRaisesAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB; skipped with -short")
	}
	my := testenv.StartMariaDB(t)
	var files []FileInput
	for kind, format := range map[string]string{"audit": "mariadb-audit", "general": "mysql-general", "slow": "mysql-slow", "error": "mysql-error"} {
		files = append(files, FileInput{Source: formats.Source{Format: format, Path: my.LogFile(kind), Host: "maria-city", AssetID: "city-db"}})
	}
	ts := startDBServer(t, files)
	my.Attack(t)
	ts.awaitRules(t, testenv.MariaDBAttackRules, 90*time.Second)
}

func TestServeBenignWorkloadRaisesNothingSerious(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and MariaDB; skipped with -short")
	}
	pg := testenv.StartPostgres(t)
	my := testenv.StartMariaDB(t)
	ts := startDBServer(t, []FileInput{
		{Source: formats.Source{Format: "postgres-jsonlog", Path: pg.LogFile("jsonlog"), Host: "pg-app", AssetID: "app-db"}},
		{Source: formats.Source{Format: "mariadb-audit", Path: my.LogFile("audit"), Host: "maria-app", AssetID: "app-db"}},
		{Source: formats.Source{Format: "mysql-general", Path: my.LogFile("general"), Host: "maria-app", AssetID: "app-db"}},
	})
	pg.Benign(t)
	my.Benign(t)
	// Wait until the workload's events are stored (the tail of each log
	// has been read), then look at what was raised.
	for _, host := range []string{"pg-app", "maria-app"} {
		eventually(t, "events from "+host, func() bool {
			_, b := ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/events?limit=1&q=host.name:"+host, "")
			return strings.Contains(string(b), host)
		})
	}
	time.Sleep(6 * time.Second) // the tailers' idle flush of pending records
	waitBusDrained(t, ts)
	for _, a := range ts.allAlerts(t) {
		if a.Level == "high" || a.Level == "critical" {
			t.Errorf("benign workload raised %s alert %q on %s", a.Level, a.Title, a.Host)
		}
	}
}

// TestServePacketCaptureSeesAttack watches PostgreSQL's traffic on the
// loopback interface instead of its logs: the same rules fire from the wire.
func TestServePacketCaptureSeesAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and captures on lo; skipped with -short")
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "live capture needs root or CAP_NET_RAW")
	}
	pg := testenv.StartPostgres(t)
	ts := startDBServerConfig(t, Config{Packet: PacketConfig{Interface: "lo", PostgresPorts: []uint16{uint16(pg.Port)}}})
	// The capture socket opens once Run has started it: wait until it sees
	// PostgreSQL's traffic before the attack begins.
	eventually(t, "the capture sees PostgreSQL traffic", func() bool {
		if _, err := pg.Psql("postgres", pg.Password, "postgres", "SELECT 1"); err != nil {
			t.Fatalf("psql: %v", err)
		}
		c, ok := ts.capture.Load().(*packet.Capture)
		return ok && c.Stats().TCP > 0
	})
	pg.Attack(t)
	alerts := ts.awaitRules(t, []string{"db_bruteforce_login", "db_superuser_granted", "db_sqli_tautology", "db_pg_copy_to_file", "db_grant_all"}, 90*time.Second)
	code, b := ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/events?limit=1&q=logsource.service:wire", "")
	if code != 200 || !strings.Contains(string(b), `"network.protocol":"postgresql"`) {
		t.Errorf("no decoded wire event stored: %d %s", code, b)
	}
	if len(alerts) == 0 {
		t.Error("no alerts")
	}
	code, b = ts.do(t, identity.RoleAnalyst, "GET", "/metrics", "")
	if code != 200 || !strings.Contains(string(b), `vigil_packet_total{what="kernel_dropped"}`) {
		t.Errorf("metrics lack the kernel drop counter: %d", code)
	}
}

func waitBusDrained(t *testing.T, ts *testServer) {
	t.Helper()
	eventually(t, "the bus drained", func() bool {
		n, _, err := ts.bus.Depth(context.Background())
		return err == nil && n == 0
	})
}
