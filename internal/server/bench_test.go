package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danang-soc/vigil/collectors/syslog"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/danang-soc/vigil/rules"
	"github.com/gorilla/websocket"
	"io/fs"
)

// benchServer runs a whole server in process with the bundled rules and a
// marker rule, and returns it with an admin token.
func benchServer(b *testing.B, cfg Config) (*Server, string, func()) {
	b.Helper()
	dir := b.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	os.MkdirAll(rulesDir, 0o700)
	os.WriteFile(filepath.Join(rulesDir, "marker.yml"), []byte(`title: Bench Marker
id: 0d1b3a52-1111-4d4e-9a57-be0c00000001
status: test
logsource:
    product: linux
detection:
    selection:
        message|contains: 'bench-marker'
    condition: selection
level: high
`), 0o600)
	cfg.Data = filepath.Join(dir, "data")
	cfg.Listen = "127.0.0.1:0"
	cfg.Rules.Dirs = []string{rulesDir}
	bundled, err := fs.Sub(rules.FS, "sigma")
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("GOGC") == "" { // as vigil serve runs
		old := debug.SetGCPercent(GCPercent)
		b.Cleanup(func() { debug.SetGCPercent(old) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, Options{Bundled: bundled}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := s.ident.CreateToken(ctx, "bench", identity.RoleAdmin)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, tok, func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkIngestHTTPToStore measures durable ingest through HTTP, with
// Sigma detection on every event and storage, to the point where the bus
// is drained: the figure is events stored per second.
func BenchmarkIngestHTTPToStore(b *testing.B) {
	s, tok, stop := benchServer(b, Config{})
	defer stop()
	url := "http://" + s.Addr().String() + "/api/v1/events"
	var body bytes.Buffer
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&body, `{"@timestamp":"2026-11-29T10:00:%02d.%03dZ","logsource":{"product":"postgresql","category":"database"},"host":{"name":"db-%d"},"db.system":"postgresql","db.user":"app","db.name":"city","db.statement":"SELECT id, name FROM permits WHERE id = %d","db.operation":"SELECT","source.ip":"10.1.2.%d","event.action":"query","event.outcome":"success","message":"statement: SELECT id, name FROM permits WHERE id = %d"}`+"\n",
			i%60, i%1000, i%8, i, i%250, i)
	}
	payload := body.Bytes()
	const perRequest = 2000
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	cpu := testenv.CPUTime()
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				for {
					req, _ := http.NewRequest("POST", url, bytes.NewReader(payload))
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						break
					}
					if resp.StatusCode != http.StatusServiceUnavailable {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					time.Sleep(50 * time.Millisecond) // told to come back
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	for {
		msgs, _, err := s.bus.Depth(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if msgs == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*perRequest)/b.Elapsed().Seconds(), "events/s")
	if cpu := testenv.CPUTime() - cpu; cpu > 0 {
		// Events per CPU-second of server and senders together: a figure
		// that other load on the machine does not distort.
		b.ReportMetric(float64(b.N*perRequest)/cpu.Seconds(), "events/cpu-s")
	}
}

// BenchmarkSyslogToWebsocketLatency sends syslog lines over TCP at 10,000
// per second, one in a hundred of them matching a rule, and measures the
// time from sending a matching line to its alert arriving on the websocket.
func BenchmarkSyslogToWebsocketLatency(b *testing.B) {
	s, tok, stop := benchServer(b, Config{Syslog: syslog.Config{TCP: "127.0.0.1:0"}})
	defer stop()
	var tcpAddr string
	// The syslog receiver binds inside Run; find it through the log-free
	// route: retry until the port answers.
	deadline := time.Now().Add(10 * time.Second)
	for tcpAddr == "" && time.Now().Before(deadline) {
		if a := s.syslogAddr(); a != "" {
			tcpAddr = a
		}
		time.Sleep(10 * time.Millisecond)
	}
	if tcpAddr == "" {
		b.Fatal("syslog did not start")
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr().String()+"/api/v1/stream", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	conn, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	const rate = 10000 // lines per second
	markers := b.N
	lines := markers * 100
	sent := make([]time.Time, markers)
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, markers)
	got := make(chan struct{})
	go func() {
		defer close(got)
		seen := 0
		ws.SetReadDeadline(time.Now().Add(time.Duration(lines/rate)*time.Second + 60*time.Second))
		for seen < markers {
			var m struct {
				Type string `json:"type"`
				Data struct {
					RuleTitle string `json:"rule_title"`
					Summary   string `json:"summary"`
					EventIDs  []string
				} `json:"data"`
			}
			_, raw, err := ws.ReadMessage()
			if err != nil {
				b.Errorf("websocket: %v after %d of %d alerts", err, seen, markers)
				return
			}
			now := time.Now()
			if json.Unmarshal(raw, &m) != nil || m.Type != "alert" || m.Data.RuleTitle != "Bench Marker" {
				continue
			}
			// The marker number is in the host name: bench-<n>.
			var n int
			if _, err := fmt.Sscanf(hostOf(m.Data.Summary), "bench-%d", &n); err != nil || n >= markers {
				continue
			}
			mu.Lock()
			latencies = append(latencies, now.Sub(sent[n]))
			mu.Unlock()
			seen++
		}
	}()
	b.ResetTimer()
	start := time.Now()
	var buf []byte
	for i := 0; i < lines; i++ {
		// Pace to the rate (sleeping only when a millisecond ahead: shorter
		// sleeps overshoot).
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > time.Millisecond {
			time.Sleep(d)
		}
		var msg string
		if i%100 == 0 {
			n := i / 100
			msg = fmt.Sprintf("<134>1 2026-11-29T10:00:00Z bench-%d app 1 - - bench-marker %d", n, n)
			sent[n] = time.Now()
		} else {
			msg = fmt.Sprintf("<134>1 2026-11-29T10:00:00Z host-%d app 1 - - ordinary line %d", i%50, i)
		}
		buf = fmt.Appendf(buf[:0], "%d %s", len(msg), msg)
		if _, err := conn.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	sendTime := time.Since(start)
	<-got
	b.StopTimer()
	if len(latencies) == 0 {
		b.Fatal("no alert arrived")
	}
	slices.Sort(latencies)
	q := func(p float64) float64 { return float64(latencies[int(p*float64(len(latencies)-1))].Milliseconds()) }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lines)/sendTime.Seconds(), "sent-lines/s")
}

func hostOf(summary string) string {
	i := strings.Index(summary, "host ")
	if i < 0 {
		return ""
	}
	rest := summary[i+5:]
	if j := strings.IndexAny(rest, ", "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
