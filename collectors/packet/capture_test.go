package packet

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
)

// memSink keeps what is written to it.
type memSink struct {
	mu  sync.Mutex
	evs []event.Event
}

func (s *memSink) Write(_ context.Context, batch []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, batch...)
	return nil
}

func (s *memSink) actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.evs {
		if ev.Fields.Str("event.action") != "flow" {
			out = append(out, ev.Fields.Str("event.action")+" "+ev.Fields.Str("db.user")+" "+ev.Fields.Str("db.statement"))
		}
	}
	return out
}

// pgMessage builds a typed PostgreSQL message.
func pgMessage(typ byte, body string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	return append(b, body...)
}

// TestCaptureLive captures a PostgreSQL conversation on the loopback
// interface between a client and a fake server of this test. It needs the
// right to capture (root or CAP_NET_RAW) and is skipped without it.
func TestCaptureLive(t *testing.T) {
	if testing.Short() {
		t.Skip("live capture in -short mode")
	}
	t.Run("default", func(t *testing.T) { captureLive(t, nil) })
	for name, open := range liveSources {
		t.Run(name, func(t *testing.T) { captureLive(t, open) })
	}
}

func captureLive(t *testing.T, open func(Config, func() time.Time) (liveSource, error)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	// Connections to a second port tell when the capture is running.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	probePort := uint16(probe.Addr().(*net.TCPAddr).Port)
	sink := &memSink{}
	c, err := NewCapture(Config{Interface: "lo", Postgres: []uint16{port, probePort}, FlushInterval: 50 * time.Millisecond}, sink, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if open != nil {
		c.open = open
	}
	src, err := c.open(c.cfg, c.now)
	if err != nil {
		t.Skipf("cannot capture on lo here: %v", err)
	}
	src.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); c.Stats().TCP == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the capture saw no probe connection in 10s")
		}
		if p, err := net.Dial("tcp", probe.Addr().String()); err == nil {
			p.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}

	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 4096)
		conn.Read(buf) // startup
		conn.Write(append(append(pgMessage('R', "\x00\x00\x00\x00"), pgMessage('K', "\x00\x00\x30\x39\x00\x00\x00\x01")...), pgMessage('Z', "I")...))
		conn.Read(buf) // query
		conn.Write(append(append(append(pgMessage('T', "\x00\x00"), pgMessage('D', "\x00\x00")...), pgMessage('C', "SELECT 1\x00")...), pgMessage('Z', "I")...))
		conn.Read(buf) // terminate
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	startup := []byte{0, 0, 0, 0, 0, 3, 0, 0}
	startup = append(startup, "user\x00alice\x00database\x00shop\x00\x00"...)
	binary.BigEndian.PutUint32(startup, uint32(len(startup)))
	buf := make([]byte, 4096)
	conn.Write(startup)
	conn.Read(buf)
	conn.Write(pgMessage('Q', "SELECT 1\x00"))
	conn.Read(buf)
	conn.Write(pgMessage('X', ""))
	conn.Close()

	want := []string{"login alice ", "query alice SELECT 1", "logout alice "}
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.actions()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := sink.actions()
	if len(got) < len(want) {
		t.Fatalf("events %q, want %q first", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, got[i], want[i])
		}
	}
	if st := c.Stats(); st.TCP == 0 || st.KernelReceived == 0 {
		t.Errorf("stats %+v: no packets counted", st)
	}
}
