package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The end-to-end tests run the real vigil binary, as an administrator
// would, and talk to it only over the network.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func vigilBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vigil")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// instance is one running vigil serve.
type instance struct {
	t       *testing.T
	cmd     *exec.Cmd
	data    string
	console string // http://127.0.0.1:PORT
	syslog  struct{ udp, tcp string }
	stderr  *lockedBuffer
	token   string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var consoleLine = regexp.MustCompile(`console at (http://\S+)`)

// start runs vigil serve on data with the e2e rules and syslog on free ports.
func start(t *testing.T, data string, extraConfig string) *instance {
	t.Helper()
	bin := vigilBinary(t)
	rulesDir, err := filepath.Abs("testdata/e2e-rules")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "vigil.yml")
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\nrules:\n  dirs: [%q]\nsyslog:\n  udp: 127.0.0.1:0\n  tcp: 127.0.0.1:0\n%s", rulesDir, extraConfig)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, data: data, stderr: &lockedBuffer{}}
	in.cmd = exec.Command(bin, "serve", "--config", cfgPath, "--data", data)
	in.cmd.Stderr = in.stderr
	stdout, err := in.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.kill() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := consoleLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case in.console = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("vigil serve did not start within 60s; stderr:\n%s", in.stderr.String())
	}
	// The syslog addresses are in the log, written before the console line
	// but copied from the pipe on its own schedule.
	for deadline := time.Now().Add(10 * time.Second); in.syslog.tcp == "" && time.Now().Before(deadline); {
		for _, l := range strings.Split(in.stderr.String(), "\n") {
			if strings.Contains(l, `"syslog listening"`) {
				var m struct{ UDP, TCP string }
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("reading syslog addresses from %q: %v", l, err)
				}
				in.syslog.udp, in.syslog.tcp = m.UDP, m.TCP
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.token = in.createToken("analyst")
	return in
}

func (in *instance) createToken(role string) string {
	in.t.Helper()
	out, err := exec.Command(vigilBinary(in.t), "tokens", "create", "--data", in.data, "--role", role, "--name", "e2e-"+role+fmt.Sprint(rand.IntN(1e9))).Output()
	if err != nil {
		in.t.Fatalf("vigil tokens create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (in *instance) kill() {
	if in.cmd.ProcessState == nil {
		_ = in.cmd.Process.Signal(syscall.SIGKILL)
		_ = in.cmd.Wait()
	}
}

func (in *instance) stop() {
	in.t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			in.t.Errorf("vigil serve exited with %v after SIGTERM; stderr:\n%s", err, in.stderr.String())
		}
	case <-time.After(60 * time.Second):
		in.t.Fatal("vigil serve did not stop within 60s of SIGTERM")
	}
}

func (in *instance) request(method, path, token string, body io.Reader) (*http.Response, []byte) {
	in.t.Helper()
	req, err := http.NewRequest(method, in.console+path, body)
	if err != nil {
		in.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (in *instance) stream(t *testing.T) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(in.console, "http") + "/api/v1/stream"
	h := http.Header{"Authorization": {"Bearer " + in.token}}
	c, resp, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("websocket dial: %v (status %d)", err, code)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type wsMessage struct {
	Type string          `json:"type"`
	Seq  uint64          `json:"seq"`
	Data json.RawMessage `json:"data"`
}

// awaitAlert reads the stream until an alert of ruleTitle whose summary or
// events match arrives.
func awaitAlert(t *testing.T, c *websocket.Conn, ruleTitle string, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	for len(got) < n {
		var m wsMessage
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("reading the stream after %d of %d alerts: %v", len(got), n, err)
		}
		if m.Type != "alert" {
			continue
		}
		var a map[string]any
		if err := json.Unmarshal(m.Data, &a); err != nil {
			t.Fatal(err)
		}
		if a["rule_title"] == ruleTitle {
			got = append(got, a)
		}
	}
	return got
}

func TestEndToEndHTTPAndSyslogToWebsocket(t *testing.T) {
	in := start(t, t.TempDir(), "")
	ws := in.stream(t)

	// Unauthenticated requests are refused; /healthz is open.
	if resp, _ := in.request("GET", "/api/v1/alerts", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/alerts without a token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := in.request("GET", "/healthz", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d, want 200", resp.StatusCode)
	}
	// An analyst may not ingest; an agent may.
	body := `{"logsource":{"product":"web","category":"test"},"host":{"name":"web-01"},"message":"GET /?q=vigil-e2e-marker over http"}` + "\nnot json\n"
	if resp, _ := in.request("POST", "/api/v1/events", in.token, strings.NewReader(body)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /api/v1/events as analyst: %d, want 403", resp.StatusCode)
	}
	agent := in.createToken("agent")
	resp, b := in.request("POST", "/api/v1/events", agent, strings.NewReader(body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/events: %d %s", resp.StatusCode, b)
	}
	var res struct {
		Accepted    int `json:"accepted"`
		Quarantined []struct {
			Line int `json:"line"`
		} `json:"quarantined"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || len(res.Quarantined) != 1 || res.Quarantined[0].Line != 2 {
		t.Errorf("ingest answer %s, want 1 accepted and line 2 quarantined", b)
	}
	a := awaitAlert(t, ws, "End-to-End Test Marker", 1)[0]
	if a["host"] != "web-01" || a["level"] != "high" {
		t.Errorf("alert from HTTP = %v, want host web-01, level high", a)
	}

	// Syslog over TCP (octet counting) and UDP.
	if in.syslog.tcp == "" || in.syslog.udp == "" {
		t.Fatalf("syslog addresses not found in the log:\n%s", in.stderr.String())
	}
	msg := "<134>1 2026-11-29T10:00:00Z app-01 nginx 77 - - attack vigil-e2e-marker over syslog tcp"
	tc, err := net.Dial("tcp", in.syslog.tcp)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tc, "%d %s", len(msg), msg)
	tc.Close()
	uc, err := net.Dial("udp", in.syslog.udp)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(uc, "<134>Nov 29 10:00:01 app-02 sshd[42]: probe vigil-e2e-marker over syslog udp")
	uc.Close()
	// Syslog events carry linux/syslog as log source: the syslog rule fires
	// for both, the HTTP rule (category test) for neither.
	hosts := map[string]bool{}
	for _, a := range awaitAlert(t, ws, "End-to-End Test Marker in Syslog", 2) {
		hosts[fmt.Sprint(a["host"])] = true
	}
	if !hosts["app-01"] || !hosts["app-02"] {
		t.Errorf("syslog alerts from hosts %v, want app-01 (TCP) and app-02 (UDP)", hosts)
	}
	// And the events are stored and searchable.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, b := in.request("GET", "/api/v1/events?q="+urlQuery(`vigil AND e2e AND marker AND syslog`), in.token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("search: %d %s", resp.StatusCode, b)
		}
		var page struct{ Items []map[string]any }
		json.Unmarshal(b, &page)
		if len(page.Items) == 2 {
			hosts := []string{fmt.Sprint(page.Items[0]["host.name"]), fmt.Sprint(page.Items[1]["host.name"])}
			if !(strings.Contains(strings.Join(hosts, ","), "app-01") && strings.Contains(strings.Join(hosts, ","), "app-02")) {
				t.Errorf("syslog events from hosts %v, want app-01 and app-02", hosts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("syslog events not searchable after 30s: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.stop()
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "+", `"`, "%22", ":", "%3A").Replace(s)
}

// TestCrashLosesNothingAcknowledged kills vigil with SIGKILL at a random
// point while senders are ingesting, restarts it, and checks that every
// acknowledged event is stored exactly once.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	data := t.TempDir()
	acked := map[string]bool{}
	var mu sync.Mutex
	seq := 0
	for round := 0; round < 3; round++ {
		in := start(t, data, "")
		agent := in.createToken("agent")
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					mu.Lock()
					var body bytes.Buffer
					ids := make([]string, 50)
					for i := range ids {
						seq++
						ids[i] = fmt.Sprintf("r%d-%d", round, seq)
						fmt.Fprintf(&body, `{"message":"crash test","test.seq":%q}`+"\n", ids[i])
					}
					mu.Unlock()
					req, _ := http.NewRequestWithContext(ctx, "POST", in.console+"/api/v1/events", &body)
					req.Header.Set("Authorization", "Bearer "+agent)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						continue // killed mid-request: not acknowledged
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						mu.Lock()
						for _, id := range ids {
							acked[id] = true
						}
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
		in.kill()
		cancel()
		wg.Wait()
	}
	// Restart, let the pipeline drain, then count every stored event.
	in := start(t, data, "")
	waitDrained(t, in)
	stored := map[string]int{}
	cursor := ""
	for {
		path := "/api/v1/events?limit=1000" // every event of this data dir is from this test
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp, b := in.request("GET", path, in.token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("listing events: %d %s", resp.StatusCode, b)
		}
		var page struct {
			Items []map[string]any `json:"items"`
			Next  string           `json:"next"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			stored[fmt.Sprint(it["test.seq"])]++
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged before the kills")
	}
	lost, dup := 0, 0
	for id := range acked {
		if stored[id] == 0 {
			lost++
		}
	}
	for _, n := range stored {
		if n > 1 {
			dup++
		}
	}
	t.Logf("acknowledged %d events, stored %d distinct", len(acked), len(stored))
	if lost > 0 || dup > 0 {
		t.Errorf("after SIGKILL: %d acknowledged events lost, %d stored more than once", lost, dup)
	}
	in.stop()
}

func waitDrained(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		_, b := in.request("GET", "/healthz", "", nil)
		var h struct {
			BusBatches int `json:"bus_batches"`
		}
		json.Unmarshal(b, &h)
		if h.BusBatches == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bus not drained after 120s: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCorrelationSurvivesCrash sends half of a brute force, kills vigil
// with SIGKILL before it snapshots its correlation state, restarts it and
// sends the rest: exactly one brute-force alert must come of it.
func TestCorrelationSurvivesCrash(t *testing.T) {
	data := t.TempDir()
	// Snapshots far apart, so that only the journal can carry the state.
	cfg := "correlate:\n  snapshot_every: 1h\n"
	failed := func(in *instance, agent string, n, from int) {
		t.Helper()
		var body bytes.Buffer
		base := time.Now().UTC().Add(-time.Minute)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&body, `{"@timestamp":%q,"logsource":{"product":"postgresql","category":"database"},"host":{"name":"db-crash"},"db.system":"postgresql","event.action":"login","event.outcome":"failure","db.user":"postgres","source.ip":"198.51.100.7","source.address":"198.51.100.7","message":"password authentication failed for user \"postgres\" %d"}`+"\n",
				base.Add(time.Duration(from+i)*time.Second).Format(time.RFC3339Nano), from+i)
		}
		resp, b := in.request("POST", "/api/v1/events", agent, &body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", resp.StatusCode, b)
		}
	}
	in := start(t, data, cfg)
	failed(in, in.createToken("agent"), 3, 0)
	waitDrained(t, in)
	in.kill()

	in = start(t, data, cfg)
	failed(in, in.createToken("agent"), 2, 3)
	waitDrained(t, in)
	count := func() int {
		resp, b := in.request("GET", "/api/v1/alerts?limit=100", in.token, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("alerts: %d %s", resp.StatusCode, b)
		}
		return strings.Count(string(b), `"rule_title":"Database Brute-Force Login"`)
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := count(); n != 1 {
		t.Errorf("brute-force alerts after a crash in the middle of the attack: %d, want 1", n)
	}
	in.stop()
}
