package server

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/collectors/syslog"
	"github.com/danang-soc/vigil/internal/formats"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/rules"
)

type testServer struct {
	*Server
	base   string
	tokens map[identity.Role]string
}

func startTest(t *testing.T, cfg Config, demo bool) *testServer {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a whole server; skipped with -short")
	}
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.Listen = "127.0.0.1:0"
	bundled, err := fs.Sub(rules.FS, "sigma")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, Options{Bundled: bundled, Demo: demo}, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ts := &testServer{Server: s, base: "http://" + s.Addr().String(), tokens: map[identity.Role]string{}}
	for _, r := range identity.Roles() {
		tok, err := s.ident.CreateToken(ctx, "test-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		ts.tokens[r] = tok
	}
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

func (ts *testServer) do(t *testing.T, role identity.Role, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+ts.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// eventually polls f until it reports true or 30 seconds pass.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDemoRaisesAlertsAndAnIncident(t *testing.T) {
	ts := startTest(t, Config{}, true)
	var incidents struct {
		Items []struct {
			ID, Title, Severity, Status string
			AlertCount                  int `json:"alert_count"`
			Tactics                     []string
		}
	}
	eventually(t, "the demo incident", func() bool {
		code, b := ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/incidents", "")
		if code != 200 {
			t.Fatalf("GET incidents: %d %s", code, b)
		}
		json.Unmarshal(b, &incidents)
		return len(incidents.Items) > 0 && incidents.Items[0].AlertCount >= 8
	})
	inc := incidents.Items[0]
	if inc.Severity != "critical" || inc.Status != "new" || !strings.Contains(inc.Title, demoHost) {
		t.Errorf("demo incident = %+v, want a new critical incident on %s", inc, demoHost)
	}
	// The brute force is caught by correlation, and the privilege escalation,
	// audit tampering and export by detection rules.
	_, b := ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/alerts?limit=100", "")
	for _, want := range []string{"Brute", "Superuser", "Audit", "COPY"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no demo alert mentions %q", want)
		}
	}

	// An analyst works the incident: acknowledge, assign, note; the history
	// records who changed what.
	path := "/api/v1/incidents/" + inc.ID
	if code, b := ts.do(t, identity.RoleAnalyst, "PATCH", path, `{"status":"acknowledged","assignee":"lan"}`); code != 200 {
		t.Fatalf("PATCH: %d %s", code, b)
	}
	if code, b := ts.do(t, identity.RoleAnalyst, "POST", path+"/notes", `{"text":"Blocked 203.0.113.45 at the firewall."}`); code != 201 {
		t.Fatalf("POST note: %d %s", code, b)
	}
	if code, _ := ts.do(t, identity.RoleAnalyst, "PATCH", path, `{"status":"bogus"}`); code != 400 {
		t.Errorf("PATCH with an unknown status: %d, want 400", code)
	}
	if code, _ := ts.do(t, identity.RoleViewer, "PATCH", path, `{"status":"resolved"}`); code != 403 {
		t.Errorf("PATCH by a viewer: %d, want 403", code)
	}
	_, b = ts.do(t, identity.RoleViewer, "GET", path, "")
	var full struct {
		Incident struct{ Status, Assignee string }
		Alerts   []json.RawMessage
		Notes    []struct{ Actor, Text string }
		History  []struct{ Actor, Field, From, To string }
	}
	if err := json.Unmarshal(b, &full); err != nil {
		t.Fatalf("GET incident: %v: %s", err, b)
	}
	if full.Incident.Status != "acknowledged" || full.Incident.Assignee != "lan" || len(full.Alerts) < 8 || len(full.Notes) != 1 {
		t.Errorf("incident after work = %+v with %d alerts, %d notes", full.Incident, len(full.Alerts), len(full.Notes))
	}
	fields := map[string]string{}
	for _, h := range full.History {
		fields[h.Field] = h.From + "->" + h.To
		if h.Actor != "token:test-analyst" {
			t.Errorf("history actor %q, want token:test-analyst", h.Actor)
		}
	}
	if fields["status"] != "new->acknowledged" || fields["assignee"] != "->lan" {
		t.Errorf("history = %v", full.History)
	}
}

func TestRoutesRequireAuthAndRole(t *testing.T) {
	ts := startTest(t, Config{}, false)
	cases := []struct {
		role   identity.Role
		method string
		path   string
		body   string
		want   int
	}{
		{"", "GET", "/healthz", "", 200},
		{"", "GET", "/metrics", "", 401},
		{"", "GET", "/api/v1/alerts", "", 401},
		{"", "GET", "/api/v1/incidents", "", 401},
		{"", "GET", "/api/v1/events", "", 401},
		{"", "POST", "/api/v1/events", `{"message":"x"}`, 401},
		{"", "GET", "/api/v1/openapi.json", "", 401},
		{identity.RoleViewer, "GET", "/metrics", "", 200},
		{identity.RoleViewer, "GET", "/api/v1/alerts", "", 200},
		{identity.RoleViewer, "GET", "/api/v1/events?q=message:x", "", 200},
		{identity.RoleViewer, "POST", "/api/v1/events", `{"message":"x"}`, 403},
		{identity.RoleViewer, "POST", "/api/v1/suppressions", `{"rule":"r","duration":"1h"}`, 403},
		{identity.RoleAgent, "GET", "/api/v1/alerts", "", 403},
		{identity.RoleAgent, "GET", "/api/v1/incidents", "", 403},
		{identity.RoleAgent, "POST", "/api/v1/events", `{"message":"x"}`, 202},
		{identity.RoleAnalyst, "GET", "/api/v1/openapi.json", "", 200},
		{identity.RoleAnalyst, "GET", "/api/v1/rules", "", 200},
		{identity.RoleAnalyst, "GET", "/api/v1/events?q=(unclosed", "", 400},
		{identity.RoleAnalyst, "GET", "/api/v1/incidents/not-an-id", "", 400},
		{identity.RoleAnalyst, "GET", "/api/v1/incidents/01KB0000000000000000000000", "", 404},
		{identity.RoleAnalyst, "POST", "/api/v1/suppressions", `{"rule":"r","duration":"1h","reason":"noisy"}`, 201},
		{identity.RoleAnalyst, "POST", "/api/v1/suppressions", `{"rule":"r","duration":"forever"}`, 400},
		{identity.RoleAdmin, "POST", "/api/v1/events", `{"message":"x"}`, 202},
	}
	for _, c := range cases {
		code, b := ts.do(t, c.role, c.method, c.path, c.body)
		if code != c.want {
			t.Errorf("%s %s as %q: %d, want %d (%s)", c.method, c.path, c.role, code, c.want, b)
		}
	}
}

func TestMetricsCoverEveryQueue(t *testing.T) {
	ts := startTest(t, Config{Syslog: syslog.Config{UDP: "127.0.0.1:0"}}, false)
	if code, b := ts.do(t, identity.RoleAgent, "POST", "/api/v1/events", "{\"message\":\"x\"}\nnot json\n"); code != 202 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	code, b := ts.do(t, identity.RoleViewer, "GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, name := range []string{"vigil_ingest_events_accepted_total 1", "vigil_ingest_lines_quarantined_total 1", "vigil_ingest_requests_refused_total",
		"vigil_bus_depth_batches", "vigil_store_rows", "vigil_pipeline_events_total", "vigil_incidents_open_in_memory",
		"vigil_stream_clients", "vigil_syslog_messages_total", "vigil_syslog_queue_depth", "vigil_ingest_inflight_bytes"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}

func TestRulesCanBeDisabled(t *testing.T) {
	ts := startTest(t, Config{}, false)
	var rules struct {
		Items []struct {
			ID, Title, Path string
			Disabled        bool
		}
	}
	_, b := ts.do(t, identity.RoleViewer, "GET", "/api/v1/rules", "")
	if err := json.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, r := range rules.Items {
		if r.Title == "Database Table or Database Dropped" {
			id = r.ID
			if r.Disabled || r.Path != "bundled:db_drop_table.yml" {
				t.Errorf("rule listed as %+v, want enabled at bundled:db_drop_table.yml", r)
			}
		}
	}
	if id == "" {
		t.Fatal("the drop-table rule is not loaded")
	}
	path := "/api/v1/rules/" + id + "/disabled"
	if code, _ := ts.do(t, identity.RoleViewer, "PUT", path, ""); code != 403 {
		t.Errorf("viewer disabling a rule: %d, want 403", code)
	}
	if code, _ := ts.do(t, identity.RoleAnalyst, "PUT", "/api/v1/rules/no-such-rule/disabled", ""); code != 404 {
		t.Errorf("disabling an unknown rule: %d, want 404", code)
	}
	if code, b := ts.do(t, identity.RoleAnalyst, "PUT", path, ""); code != 200 {
		t.Fatalf("disabling: %d %s", code, b)
	}
	drop := func(table string) {
		body := `{"logsource":{"product":"postgresql","category":"database"},"event.action":"ddl","db.operation":"DROP TABLE","db.statement":"DROP TABLE ` + table + `;","message":"statement: DROP TABLE ` + table + `;"}`
		if code, b := ts.do(t, identity.RoleAgent, "POST", "/api/v1/events", body); code != 202 {
			t.Fatalf("ingest: %d %s", code, b)
		}
	}
	drop("while_disabled")
	waitBusDrained(t, ts)
	if code, b := ts.do(t, identity.RoleAnalyst, "DELETE", path, ""); code != 200 {
		t.Fatalf("enabling: %d %s", code, b)
	}
	drop("after_enabled")
	eventually(t, "an alert once enabled again", func() bool {
		_, b := ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/alerts?rule_id="+id, "")
		return strings.Contains(string(b), id)
	})
	_, b = ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/alerts?rule_id="+id, "")
	var alerts struct{ Items []json.RawMessage }
	json.Unmarshal(b, &alerts)
	if len(alerts.Items) != 1 {
		t.Errorf("%d alerts of the rule, want 1 (none while it was disabled)", len(alerts.Items))
	}
}

func TestPersonalDataMaskedForViewer(t *testing.T) {
	ts := startTest(t, Config{}, false)
	body := `{"message":"lookup citizen 079203001234 phone 0905123456 mail lan.nguyen@danang.gov.vn","logsource":{"product":"web"}}`
	if code, b := ts.do(t, identity.RoleAgent, "POST", "/api/v1/events", body); code != 202 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	var viewer, analyst []byte
	eventually(t, "the event is stored", func() bool {
		_, analyst = ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/events?q=citizen", "")
		return strings.Contains(string(analyst), "citizen")
	})
	_, viewer = ts.do(t, identity.RoleViewer, "GET", "/api/v1/events?q=citizen", "")
	for _, secret := range []string{"079203001234", "0905123456", "lan.nguyen@danang.gov.vn"} {
		if !strings.Contains(string(analyst), secret) {
			t.Errorf("analyst does not see %s", secret)
		}
		if strings.Contains(string(viewer), secret) {
			t.Errorf("viewer sees %s unmasked: %s", secret, viewer)
		}
	}
}

func TestLoadConfigIsStrict(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.yml")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	if _, err := LoadConfig(write("listen: 127.0.0.1:9000\nlisten_port: 1\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("unknown key: error %v, want one naming line 2", err)
	}
	if _, err := LoadConfig(write("store:\n  retention: soon\n")); err == nil {
		t.Error("bad duration: no error")
	}
	c, err := LoadConfig(write(""))
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Store.Retention != 365*24*time.Hour || *c.Console.SecureCookies {
		t.Errorf("defaults = listen %s retention %s secure %v", c.Listen, c.Store.Retention, *c.Console.SecureCookies)
	}
	c2 := Config{Listen: "0.0.0.0:443"}
	if err := c2.Validate(); err != nil || !*c2.Console.SecureCookies {
		t.Errorf("a public listen address must default to secure cookies (err %v)", err)
	}
	bad := Config{Files: []FileInput{{Source: formats.Source{Path: "/var/log/x"}}}}
	if err := bad.Validate(); err == nil {
		t.Error("a file without a format: no error")
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	c, err := LoadConfig("../../vigil.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var d Config
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	// The example shows the defaults: they must agree.
	if c.Store.Retention != d.Store.Retention || c.Bus.MaxBytes != d.Bus.MaxBytes || c.Ingest.MaxInflightBytes != d.Ingest.MaxInflightBytes ||
		c.Correlate.SnapshotEvery != d.Correlate.SnapshotEvery || c.Incidents.Window != d.Incidents.Window {
		t.Errorf("vigil.example.yml disagrees with the defaults:\nexample %+v\ndefault %+v", c, d)
	}
}

func TestDemoLogDecodes(t *testing.T) {
	log := demoLog(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC))
	if n := strings.Count(log, "password authentication failed"); n != 8 {
		t.Errorf("demo has %d failed logins, want 8", n)
	}
	if !strings.HasSuffix(strings.TrimSpace(strings.Split(log, "\n")[len(strings.Split(strings.TrimSpace(log), "\n"))-1]), "port=51240") {
		t.Errorf("demo does not end with the disconnection")
	}
}

// TestOpenAPIListsEveryRoute keeps the OpenAPI document true to the routes.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	src := ""
	for _, f := range []string{"api.go", "incidents.go", "disabled.go", "console_api.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src += string(b)
	}
	re := regexp.MustCompile(`"(GET|POST|PATCH|PUT|DELETE) (/api/v1/[^"]*|/healthz|/metrics)"`)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		method, path := strings.ToLower(m[1]), m[2]
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("openapi.json lacks %s %s", m[1], path)
		}
	}
}

// TestDecodeBatchKeepsEachLineAsItsDocument: the documents the store keeps
// are the bus lines of their own events, whatever blank lines or CRLF
// surround them.
func TestDecodeBatchKeepsEachLineAsItsDocument(t *testing.T) {
	payload := "{\"message\":\"one\"}\r\n\n  {\"message\":\"two\"}  \n{\"message\":\"three\"}"
	events, docs, err := decodeBatch([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"message":"one"}`, `{"message":"two"}`, `{"message":"three"}`}
	if !slices.Equal(docs, want) || len(events) != len(want) {
		t.Fatalf("docs %q for %d events, want %q", docs, len(events), want)
	}
	for i, ev := range events {
		if got := ev.Fields.Str("message"); !strings.Contains(docs[i], `"`+got+`"`) {
			t.Errorf("event %d has message %q, its document is %s", i, got, docs[i])
		}
	}
	if _, _, err := decodeBatch([]byte("{\"a\":1}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: err = %v, want one naming line 2", err)
	}
}
