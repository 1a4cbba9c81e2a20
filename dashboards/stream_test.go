package dashboards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
)

func (e *env) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/v1/stream"
	if query != "" {
		u += "?" + query
	}
	return u
}

func (e *env) dial(t testing.TB, query string, h http.Header) (*websocket.Conn, int, error) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(e.wsURL(query), h)
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, code, err
}

// sessionHeader signs a user with role in and returns the headers a browser
// on origin would send.
func (e *env) sessionHeader(t testing.TB, name string, role identity.Role, origin string) http.Header {
	t.Helper()
	ctx := context.Background()
	u, err := e.ids.CreateUser(ctx, name, testPassword, role)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.ids.CreateSession(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Cookie": {e.ids.CookieName() + "=" + s.ID}}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return h
}

func (e *env) tokenHeader(t testing.TB, role identity.Role) http.Header {
	t.Helper()
	tok, err := e.ids.CreateToken(context.Background(), "", role)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Authorization": {"Bearer " + tok}}
}

type wireMessage struct {
	Type string          `json:"type"`
	Seq  uint64          `json:"seq"`
	Data json.RawMessage `json:"data"`
}

func read(t testing.TB, conn *websocket.Conn) wireMessage {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard, not a timing assertion
	var m wireMessage
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("reading from the stream: %v", err)
	}
	return m
}

func TestStreamRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"no credentials", nil, http.StatusUnauthorized},
		{"bad token", http.Header{"Authorization": {"Bearer vgl_forged"}}, http.StatusUnauthorized},
		{"session from another site", e.sessionHeader(t, "u1", identity.RoleAnalyst, "https://evil.example"), http.StatusForbidden},
		{"session without origin", e.sessionHeader(t, "u2", identity.RoleAnalyst, ""), http.StatusForbidden},
		{"agent token may not read", e.tokenHeader(t, identity.RoleAgent), http.StatusForbidden},
		{"session from the console", e.sessionHeader(t, "u3", identity.RoleViewer, e.srv.URL), http.StatusSwitchingProtocols},
		{"analyst token", e.tokenHeader(t, identity.RoleAnalyst), http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, code, err := e.dial(t, "", tc.header)
			if code != tc.want {
				t.Errorf("status %d (%v), want %d", code, err, tc.want)
			}
		})
	}
}

func TestStreamConfiguredOrigin(t *testing.T) {
	e := newEnv(t, Config{Origin: "https://soc.danang.gov.vn"})
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://soc.danang.gov.vn", http.StatusSwitchingProtocols},
		{e.srv.URL, http.StatusForbidden}, // the request's own host is not the configured origin
		{"http://soc.danang.gov.vn", http.StatusForbidden},
	} {
		_, code, _ := e.dial(t, "", e.sessionHeader(t, fmt.Sprintf("u%d", len(tc.origin)+tc.want), identity.RoleAnalyst, tc.origin))
		if code != tc.want {
			t.Errorf("origin %s: status %d, want %d", tc.origin, code, tc.want)
		}
	}
}

func TestStreamDeliversAlertsMaskedByRole(t *testing.T) {
	e := newEnv(t, Config{})
	analyst, _, err := e.dial(t, "", e.tokenHeader(t, identity.RoleAnalyst))
	if err != nil {
		t.Fatal(err)
	}
	viewer, _, err := e.dial(t, "", e.sessionHeader(t, "viewer", identity.RoleViewer, e.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*websocket.Conn{analyst, viewer} {
		if m := read(t, c); m.Type != TypeHello || m.Seq != 0 {
			t.Fatalf("first message %+v, want hello at 0", m)
		}
	}
	now := time.Date(2026, 11, 29, 9, 30, 0, 0, time.UTC)
	alert := event.Alert{
		ID: event.NewID(now), RuleID: "pg-mass-export", RuleTitle: "Mass export of a table", Level: event.LevelHigh,
		Engine: "sigma", Time: now, Created: now, User: "lan@example.vn", Host: "db-01",
		Summary: "COPY citizens (cccd 001203004567) TO STDOUT", EventIDs: []event.ID{event.NewID(now)},
	}
	if err := e.console.WriteAlerts(context.Background(), []event.Alert{alert}); err != nil {
		t.Fatal(err)
	}
	masked := alert
	masked.User, masked.Summary = "l***@example.vn", "COPY citizens (cccd *********567) TO STDOUT"
	for _, tc := range []struct {
		name string
		conn *websocket.Conn
		want event.Alert
	}{{"analyst", analyst, alert}, {"viewer", viewer, masked}} {
		m := read(t, tc.conn)
		if m.Type != TypeAlert || m.Seq != 1 {
			t.Fatalf("%s: message %s #%d, want alert #1", tc.name, m.Type, m.Seq)
		}
		var got event.Alert
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: alert (-want +got):\n%s", tc.name, diff)
		}
	}

	inc := event.Incident{ID: event.NewID(now), Title: "Data theft on db-01", Severity: event.LevelCritical, Status: event.StatusNew, AlertCount: 3}
	if err := e.console.PublishIncident(inc); err != nil {
		t.Fatal(err)
	}
	if m := read(t, analyst); m.Type != TypeIncident || m.Seq != 2 || !strings.Contains(string(m.Data), inc.ID.String()) {
		t.Errorf("incident message %s #%d %s", m.Type, m.Seq, m.Data)
	}
}

func TestStreamResume(t *testing.T) {
	e := newEnv(t, Config{Hub: HubConfig{Ring: 4}})
	auth := e.tokenHeader(t, identity.RoleAnalyst)
	first, _, err := e.dial(t, "", auth)
	if err != nil {
		t.Fatal(err)
	}
	var hello struct{ Epoch string }
	json.Unmarshal(read(t, first).Data, &hello)
	publish := func(n int) {
		for range n {
			if _, err := e.console.Hub().Publish(Message{Type: TypeHealth, Data: map[string]string{"status": "ok"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(3)
	type want struct {
		first string
		seqs  []uint64
	}
	check := func(query string, w want) {
		t.Helper()
		conn, _, err := e.dial(t, query, auth)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		m := read(t, conn)
		if m.Type != w.first {
			t.Errorf("%s: first message %s, want %s", query, m.Type, w.first)
		}
		var got []uint64
		for range w.seqs {
			got = append(got, read(t, conn).Seq)
		}
		if diff := cmp.Diff(w.seqs, got); diff != "" {
			t.Errorf("%s: resumed messages (-want +got):\n%s", query, diff)
		}
		// Nothing more than what was missed: the next message is a new one.
		seq, _ := e.console.Hub().Publish(Message{Type: TypeHealth, Data: "ping"})
		if m := read(t, conn); m.Seq != seq {
			t.Errorf("%s: after the backlog got #%d, want the new #%d", query, m.Seq, seq)
		}
	}
	ep := "&epoch=" + hello.Epoch
	check("since=1"+ep, want{TypeHello, []uint64{2, 3}})       // then #4
	check("since=0"+ep, want{TypeHello, []uint64{1, 2, 3, 4}}) // the ring holds 1..4; then #5
	check("since=0"+ep, want{TypeReset, nil})                  // the ring holds 2..5; then #6
	check("since=6"+ep, want{TypeHello, nil})                  // up to date; then #7
	check("since=3"+ep, want{TypeHello, []uint64{4, 5, 6, 7}}) // then #8: the ring holds 5..8
	check("since=3"+ep, want{TypeReset, nil})
	check("since=3&epoch=other", want{TypeReset, nil})
	check("since=99"+ep, want{TypeReset, nil})
	if _, code, _ := e.dial(t, "since=x", auth); code != http.StatusBadRequest {
		t.Errorf("since=x: status %d, want 400", code)
	}
	if got := e.console.Hub().Stats().Resets; got != 4 {
		t.Errorf("resets counted %d, want 4", got)
	}
}

func TestHubDropsSlowClient(t *testing.T) {
	h, err := NewHub(HubConfig{SendBuffer: 2, Ring: 8}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	slow, _, err := h.subscribe(resume{}, false)
	if err != nil {
		t.Fatal(err)
	}
	fast, _, err := h.subscribe(resume{}, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := h.Publish(Message{Type: TypeHealth, Data: i}); err != nil {
			t.Fatal(err)
		}
		<-fast.send // the fast client keeps up
	}
	select {
	case <-slow.kicked:
	default:
		t.Fatal("a client that did not read was not dropped")
	}
	if slow.reason != websocket.CloseTryAgainLater {
		t.Errorf("close reason %d, want %d", slow.reason, websocket.CloseTryAgainLater)
	}
	select {
	case <-fast.kicked:
		t.Fatal("the fast client was dropped")
	default:
	}
	st := h.Stats()
	if diff := cmp.Diff(HubStats{Clients: 1, Seq: 5, Published: 5, SlowDisconnects: 1}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	// The dropped client resumes from what it last had and misses nothing.
	_, backlog, err := h.subscribe(resume{ok: true, since: 2, epoch: h.epoch}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(backlog) != 1+3 {
		t.Errorf("resume after a drop: %d messages, want hello and 3", len(backlog))
	}
}

func TestHubShutdown(t *testing.T) {
	e := newEnv(t, Config{})
	auth := e.tokenHeader(t, identity.RoleViewer)
	conn, _, err := e.dial(t, "", auth)
	if err != nil {
		t.Fatal(err)
	}
	read(t, conn)
	e.cancel()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("after shutdown: %v, want close 1001", err)
	}
	// Run has returned once the hub is closed; newEnv's cleanup waits for it.
	for range 100 {
		if _, code, _ := e.dial(t, "", auth); code == http.StatusServiceUnavailable {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("connections are still accepted after shutdown")
}

func BenchmarkPublish(b *testing.B) {
	now := time.Date(2026, 11, 29, 9, 30, 0, 0, time.UTC)
	alert := event.Alert{ID: event.NewID(now), RuleID: "pg-brute-force", RuleTitle: "Brute force on PostgreSQL",
		Level: event.LevelHigh, Engine: "sigma", Time: now, Created: now, User: "postgres", Host: "db-01",
		SourceIP: "203.0.113.7", Summary: "25 failed logins in 60s", EventIDs: []event.ID{event.NewID(now)}}
	for _, n := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h, _ := NewHub(HubConfig{SendBuffer: 1024, MaxClients: 1000}, nil, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := range n {
				c, _, _ := h.subscribe(resume{}, i%2 == 0)
				go func() {
					for {
						select {
						case <-c.send:
						case <-c.kicked:
							return
						case <-ctx.Done():
							return
						}
					}
				}()
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Publish(Message{Type: TypeAlert, Data: alert}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if s := h.Stats(); s.SlowDisconnects > 0 {
				b.Logf("%d slow clients dropped", s.SlowDisconnects)
			}
		})
	}
}

func TestStreamEndsWithTheSession(t *testing.T) {
	e := newEnv(t, Config{Hub: HubConfig{PingInterval: 20 * time.Millisecond}})
	h := e.sessionHeader(t, "lan", identity.RoleAnalyst, e.srv.URL)
	conn, _, err := e.dial(t, "", h)
	if err != nil {
		t.Fatal(err)
	}
	read(t, conn)
	id := strings.TrimPrefix(h.Get("Cookie"), e.ids.CookieName()+"=")
	if err := e.ids.DeleteSession(context.Background(), id); err != nil { // logout elsewhere
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("after logout: %v, want close 1008", err)
	}
}
