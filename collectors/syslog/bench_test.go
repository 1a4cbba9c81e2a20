package syslog

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/danang-soc/vigil/event"
)

func benchParse(b *testing.B, line string) {
	p := testParser(testNow)
	in := []byte(line)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParse5424(b *testing.B) {
	benchParse(b, `<165>1 2026-11-29T15:36:09.371522+07:00 db1.example.org postgres 17434 AUDIT [meta@32473 session="1" class="ROLE"] AUDIT: SESSION,1,1,ROLE,CREATE ROLE,,,CREATE ROLE auditor NOLOGIN;,<none>`)
}

func BenchmarkParse3164(b *testing.B) {
	benchParse(b, "<86>Nov 29 15:36:09 db1 sshd[1234]: Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2")
}

// BenchmarkServerTCP measures messages per second from a TCP sender
// through framing, parsing and batching into a discarding sink.
func BenchmarkServerTCP(b *testing.B) {
	const n = 200_000
	line := "<86>Nov 29 15:36:09 db1 sshd[1234]: Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2\n"
	payload := []byte(strings.Repeat(line, n))
	for _, framing := range []string{"lf", "octet"} {
		b.Run("framing="+framing, func(b *testing.B) {
			data := payload
			if framing == "octet" {
				msg := strings.TrimSuffix(line, "\n")
				data = []byte(strings.Repeat(fmt.Sprintf("%d %s", len(msg), msg), n))
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var got atomic.Int64
				done := make(chan struct{})
				sink := event.SinkFunc(func(ctx context.Context, batch []event.Event) error {
					if got.Add(int64(len(batch))) == n {
						close(done)
					}
					return nil
				})
				s, err := New(Config{TCP: "127.0.0.1:0", Timezone: "UTC"}, sink, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				if err := s.Listen(ctx); err != nil {
					b.Fatal(err)
				}
				ran := make(chan error, 1)
				go func() { ran <- s.Run(ctx) }()
				c, err := net.Dial("tcp", s.TCPAddr().String())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(data); err != nil {
					b.Fatal(err)
				}
				c.Close()
				<-done
				cancel()
				if err := <-ran; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
