package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
)

// memCheckpoints keeps checkpoints in memory.
type memCheckpoints struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCheckpoints) Load(ctx context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key], nil
}

func (c *memCheckpoints) Save(ctx context.Context, key string, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = append([]byte(nil), b...)
	return nil
}

// BenchmarkTail measures lines per second from a file on disk through the
// plain-lines decoder into a discarding sink, checkpoint included.
func BenchmarkTail(b *testing.B) {
	const n = 200_000
	dir := b.TempDir()
	log := filepath.Join(dir, "postgresql.log")
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "2026-11-29 15:36:09.%03d UTC [17434] alice@city/psql 10.0.0.5 LOG:  statement: SELECT * FROM users WHERE id = %d\n", i%1000, i)
	}
	if err := os.WriteFile(log, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cp   func() Checkpoints
	}{
		{"checkpoints=memory", func() Checkpoints { return &memCheckpoints{} }},
		{"checkpoints=dir", func() Checkpoints {
			cp, err := NewCheckpointDir(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return cp
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(sb.Len()))
			for b.Loop() {
				ctx, cancel := context.WithCancel(context.Background())
				var got atomic.Int64
				sink := event.SinkFunc(func(ctx context.Context, batch []event.Event) error {
					if got.Add(int64(len(batch))) >= n {
						cancel()
					}
					return nil
				})
				tl, err := New(Config{Paths: []string{log}, PollInterval: 10 * time.Millisecond}, nil, sink, c.cp(), nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := tl.Run(ctx); err != nil {
					b.Fatal(err)
				}
				if got.Load() != n {
					b.Fatalf("%d events, want %d", got.Load(), n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
