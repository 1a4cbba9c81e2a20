package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

// memSink keeps what it is given; while fail is set it refuses.
type memSink struct {
	mu      sync.Mutex
	events  []event.Event
	batches []int
	fail    bool
	block   chan struct{} // when non-nil, Write waits for it to close
}

var errRefused = errors.New("sink refuses")

func (m *memSink) Write(ctx context.Context, batch []event.Event) error {
	m.mu.Lock()
	block := m.block
	m.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errRefused
	}
	m.events = append(m.events, batch...)
	m.batches = append(m.batches, len(batch))
	return nil
}

func (m *memSink) setFail(v bool) {
	m.mu.Lock()
	m.fail = v
	m.mu.Unlock()
}

func (m *memSink) messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.events))
	for i, ev := range m.events {
		out[i] = ev.Fields.Str("message")
	}
	return out
}

func (m *memSink) batchSizes() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.batches...)
}

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

// eventually waits for cond, which depends on real network I/O (which
// testing/synctest cannot fake), failing the test after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// start runs a server on loopback port 0 until the test ends.
func start(t *testing.T, cfg Config, sink event.Sink) *Server {
	t.Helper()
	cfg.Timezone = "UTC"
	s, err := New(cfg, sink, nil, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	return s
}

func TestServerUDP(t *testing.T) {
	sink := &memSink{}
	s := start(t, Config{UDP: "127.0.0.1:0", BatchWait: time.Millisecond}, sink)
	c, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs := []string{
		"<86>Nov 29 15:36:09 db1 sshd[1234]: Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2",
		"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] hello",
		"<30>Nov 29 15:36:09 systemd[1]: no hostname here",
		"not syslog at all",
	}
	for _, m := range msgs {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "4 events", func() bool { return sink.count() == 4 })
	sink.mu.Lock()
	got := map[string]string{}
	for _, ev := range sink.events {
		got[ev.Fields.Str("message")] = ev.Host() + " " + ev.Fields.Str(FieldSourceAddress)
		if !ev.Received.Equal(testNow) {
			t.Errorf("Received = %v, want the injected clock %v", ev.Received, testNow)
		}
	}
	sink.mu.Unlock()
	from := c.LocalAddr().String()
	want := map[string]string{
		"Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2": "db1 " + from,
		"hello":             "mymachine.example.com " + from,
		"no hostname here":  "127.0.0.1 " + from, // the sender's address stands in
		"not syslog at all": "127.0.0.1 " + from,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	st := s.Stats()
	if st.Received != 4 || st.ParseErrors != 1 || st.Written != 4 || st.Dropped != 0 {
		t.Errorf("Stats() = %+v, want 4 received, 1 parse error, 4 written, none dropped", st)
	}
}

func TestServerTCPFraming(t *testing.T) {
	want := []string{"first", "second\nwith a line feed inside", "third", "fourth"}
	tests := []struct {
		name   string
		chunks []string // written one after another, split anywhere
		want   []string
	}{
		{
			name: "LF framing split across writes, CRLF, blank lines, last line unterminated",
			chunks: []string{"<13>Nov 29 15:36:09 h app: fir", "st\r\n\n<13>Nov 29 15:36:09 h app: sec",
				"ond\n<13>Nov 29 15:36:09 h app: third\n", "<13>Nov 29 15:36:09 h app: fourth"},
			want: []string{"first", "second", "third", "fourth"},
		},
		{
			name:   "octet counting with a line feed inside a message",
			chunks: octetFrames(want),
			want:   want,
		},
		{
			name:   "octet counting split inside the count and the message",
			chunks: splitEvery(strings.Join(octetFrames(want), ""), 7),
			want:   want,
		},
		{
			name:   "LF framing of lines starting with digits",
			chunks: []string{"2026-11-29T15:36:08.045123+00:00 vm app[1]: iso\n", "123 not a count\n"},
			want:   []string{"iso", "123 not a count"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{}
			s := start(t, Config{TCP: "127.0.0.1:0", BatchWait: time.Millisecond}, sink)
			c, err := net.Dial("tcp", s.TCPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range tt.chunks {
				if _, err := c.Write([]byte(ch)); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			eventually(t, fmt.Sprintf("%d events", len(tt.want)), func() bool { return sink.count() >= len(tt.want) })
			if diff := cmp.Diff(tt.want, sink.messages()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if st := s.Stats(); st.FramingErrors != 0 || st.Truncated != 0 {
				t.Errorf("Stats() = %+v, want no framing error and nothing truncated", st)
			}
		})
	}
}

func octetFrames(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		line := "<13>1 2026-11-29T15:36:09Z h app - - - " + m
		out = append(out, fmt.Sprintf("%d %s", len(line), line))
	}
	return out
}

func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func TestFramer(t *testing.T) {
	long := strings.Repeat("x", 600)
	tests := []struct {
		name      string
		in        string
		want      []string
		truncated int
		framing   bool
	}{
		{"LF line longer than the limit is cut, the next is whole", long + "\nnext\n", []string{long[:500], "next"}, 1, false},
		{"octet frame longer than the limit is cut, the next is whole", fmt.Sprintf("%d %s4 next", len(long), long), []string{long[:500], "next"}, 1, false},
		{"octet count not followed by a space", "5 hello7x", []string{"hello"}, 0, true},
		{"zero length frame", "5 hello0 ", []string{"hello"}, 0, true},
		{"octet frame cut short by the sender", "5 hello10 abc", []string{"hello", "abc"}, 0, false},
		{"octet frames each followed by a line end", "5 hello\r\n5 world\n", []string{"hello", "world"}, 0, false},
		{"LF framing with CR and NUL trailers", "<13>a\r\n<13>b\x00\n", []string{"<13>a\r", "<13>b\x00"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFramer(strings.NewReader(tt.in), 500)
			var got []string
			cut := 0
			var err error
			for err == nil {
				var msg []byte
				var c bool
				msg, c, err = f.next()
				if len(msg) > 0 {
					got = append(got, strings.TrimRight(string(msg), "\n"))
				}
				if c {
					cut++
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if cut != tt.truncated {
				t.Errorf("%d cut, want %d", cut, tt.truncated)
			}
			var fe *framingError
			if errors.As(err, &fe) != tt.framing {
				t.Errorf("final error %v, want framing error %v", err, tt.framing)
			}
		})
	}
}

// TestServerTCPBackPressure: while the sink refuses, the server reads no
// more than its queue holds, and once the sink recovers every message
// arrives exactly once and in order.
func TestServerTCPBackPressure(t *testing.T) {
	sink := &memSink{fail: true}
	const queue, batch, total = 64, 16, 20000
	s := start(t, Config{TCP: "127.0.0.1:0", QueueSize: queue, BatchSize: batch, BatchWait: time.Millisecond}, sink)
	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() {
		var b strings.Builder
		for i := range total {
			fmt.Fprintf(&b, "<13>Nov 29 15:36:09 h app: m%d\n", i)
		}
		_, err := io.WriteString(c, b.String())
		c.Close()
		sent <- err
	}()
	eventually(t, "the sink to refuse a few times", func() bool { return s.Stats().SinkErrors >= 3 })
	// One batch at the sink, a full queue and one event in the reader's hand.
	if st := s.Stats(); st.Received > queue+batch+1 {
		t.Fatalf("read %d messages while the sink refused; want at most %d (back-pressure)", st.Received, queue+batch+1)
	}
	sink.setFail(false)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	eventually(t, "every message", func() bool { return sink.count() >= total })
	got := sink.messages()
	if len(got) != total {
		t.Fatalf("%d events, want %d", len(got), total)
	}
	for i, m := range got {
		if want := fmt.Sprintf("m%d", i); m != want {
			t.Fatalf("event %d = %q, want %q (lost, duplicated or reordered)", i, m, want)
		}
	}
	if st := s.Stats(); st.Dropped != 0 || st.Written != total {
		t.Errorf("Stats() = %+v, want %d written and none dropped", st, total)
	}
}

// TestServerUDPDropsWhenFull: UDP cannot push back, so what does not fit in
// the queue is dropped and counted; every datagram read is either written or
// counted as dropped.
func TestServerUDPDropsWhenFull(t *testing.T) {
	block := make(chan struct{})
	sink := &memSink{block: block}
	s := start(t, Config{UDP: "127.0.0.1:0", QueueSize: 8, BatchSize: 4, BatchWait: time.Millisecond}, sink)
	c, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; s.Stats().Dropped == 0; i++ {
		if i > 1e6 {
			t.Fatal("nothing dropped after a million datagrams into a blocked sink")
		}
		c.Write([]byte("<13>Nov 29 15:36:09 h app: x"))
	}
	sink.mu.Lock()
	sink.block = nil
	sink.mu.Unlock()
	close(block)
	eventually(t, "the queue to drain", func() bool {
		st := s.Stats()
		return st.Queued == 0 && st.Received == st.Written+st.Dropped
	})
	if st := s.Stats(); uint64(sink.count()) != st.Written {
		t.Errorf("sink has %d events, Stats().Written = %d", sink.count(), st.Written)
	}
}

// TestServerDrainsOnShutdown: events queued when the context ends still
// reach the sink.
func TestServerDrainsOnShutdown(t *testing.T) {
	sink := &memSink{}
	s, err := New(Config{TCP: "127.0.0.1:0", BatchWait: time.Hour, Timezone: "UTC"}, sink, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		fmt.Fprintf(c, "<13>Nov 29 15:36:09 h app: m%d\n", i)
	}
	eventually(t, "10 messages read", func() bool { return s.Stats().Received == 10 })
	if n := sink.count(); n != 0 {
		t.Fatalf("sink has %d events before the batch wait ended", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := sink.count(); n != 10 {
		t.Errorf("after shutdown the sink has %d events, want 10", n)
	}
}

// TestBatcherBounds checks the size and time bounds of batches on a fake
// clock.
func TestBatcherBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &memSink{}
		s, err := New(Config{UDP: "127.0.0.1:0", BatchSize: 4, BatchWait: 100 * time.Millisecond}, sink, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.runBatcher(context.Background())
		}()
		for range 6 {
			s.queue <- event.Event{}
		}
		synctest.Wait()
		if diff := cmp.Diff([]int{4}, sink.batchSizes()); diff != "" {
			t.Errorf("before BatchWait, batches (-want +got):\n%s", diff)
		}
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if b := sink.batchSizes(); len(b) != 1 {
			t.Errorf("batch written %v before BatchWait", b)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if diff := cmp.Diff([]int{4, 2}, sink.batchSizes()); diff != "" {
			t.Errorf("after BatchWait, batches (-want +got):\n%s", diff)
		}
		close(s.queue)
		<-done
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{UDP: ":514"}, true},
		{Config{TCP: "127.0.0.1:0", MaxMessage: 480, Timezone: "Asia/Ho_Chi_Minh"}, true},
		{Config{}, false},
		{Config{UDP: "514"}, false},
		{Config{UDP: ":514", MaxMessage: 100}, false},
		{Config{UDP: ":514", QueueSize: -1}, false},
		{Config{UDP: ":514", BatchWait: -time.Second}, false},
		{Config{UDP: ":514", Timezone: "Mars/Olympus"}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tt.cfg, err, tt.ok)
		}
	}
}

func TestServerListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := New(Config{TCP: l.Addr().String()}, &memSink{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("Run on a taken address returned nil, want an error")
	}
}

func TestServerRefusesConnectionsBeyondTheLimit(t *testing.T) {
	sink := &memSink{}
	s := start(t, Config{TCP: "127.0.0.1:0", MaxConnections: 1, BatchWait: time.Millisecond}, sink)
	first, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	fmt.Fprintf(first, "<13>Nov 29 15:36:09 h app: kept\n")
	eventually(t, "the first connection's message", func() bool { return sink.count() == 1 })
	second, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	// The server closes the second connection without reading it.
	second.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := second.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from the refused connection succeeded, want it closed")
	}
	if st := s.Stats(); st.Refused != 1 || st.Connections != 1 {
		t.Errorf("Stats() = %+v, want 1 refused and 1 open connection", st)
	}
}

func TestServerCutsOversizedMessages(t *testing.T) {
	sink := &memSink{}
	s := start(t, Config{TCP: "127.0.0.1:0", UDP: "127.0.0.1:0", MaxMessage: 480, BatchWait: time.Millisecond}, sink)
	long := "<13>Nov 29 15:36:09 h app: " + strings.Repeat("z", 1000)
	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "%d %s", len(long), long)
	c.Close()
	u, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte(long))
	u.Close()
	eventually(t, "2 events", func() bool { return sink.count() == 2 })
	for _, m := range sink.messages() {
		if want := long[len("<13>Nov 29 15:36:09 h app: "):480]; m != want {
			t.Errorf("message of %d bytes, want the first %d", len(m), len(want))
		}
	}
	if st := s.Stats(); st.Truncated != 2 {
		t.Errorf("Stats().Truncated = %d, want 2", st.Truncated)
	}
}
