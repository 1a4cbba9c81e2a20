package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func open(t testing.TB, dir string, maxBytes int64) *Bus {
	t.Helper()
	b, err := Open(context.Background(), Config{Dir: dir, MaxBytes: maxBytes}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// consumeN consumes until n batches were handled, then stops.
func consumeN(t *testing.T, b *Bus, n int, h func(p []byte) error) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	err := b.Consume(ctx, func(_ context.Context, p []byte) error {
		if err := h(p); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(p))
		if len(got) == n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestPublishSurvivesRestartAndResumes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b := open(t, dir, 0)
	for i := 0; i < 5; i++ {
		if err := b.Publish(ctx, []byte(fmt.Sprintf("batch-%d", i)), ""); err != nil {
			t.Fatal(err)
		}
	}
	// Process two, then "crash" (close without processing the rest).
	got := consumeN(t, b, 2, func([]byte) error { return nil })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, dir, 0)
	defer b.Close()
	rest := consumeN(t, b, 3, func([]byte) error { return nil })
	if len(got) != 2 {
		t.Errorf("first run handled %v, want 2 batches then stop", got)
	}
	all := append(got, rest...)
	want := []string{"batch-0", "batch-1", "batch-2", "batch-3", "batch-4"}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Errorf("delivered %v, want %v", all, want)
	}
	msgs, _, err := b.Depth(ctx)
	if err != nil || msgs != 0 {
		t.Errorf("depth after processing = %d, %v; want 0", msgs, err)
	}
}

func TestFailedBatchIsRetriedNotSkipped(t *testing.T) {
	b := open(t, t.TempDir(), 0)
	defer b.Close()
	ctx := context.Background()
	for _, p := range []string{"a", "b"} {
		if err := b.Publish(ctx, []byte(p), ""); err != nil {
			t.Fatal(err)
		}
	}
	fails := 2
	got := consumeN(t, b, 2, func(p []byte) error {
		if string(p) == "a" && fails > 0 {
			fails--
			return errors.New("store unavailable")
		}
		return nil
	})
	if fmt.Sprint(got) != "[a b]" {
		t.Errorf("delivered %v, want [a b] in order", got)
	}
}

func TestPublishFullIsReported(t *testing.T) {
	b := open(t, t.TempDir(), 1<<20)
	defer b.Close()
	payload := make([]byte, 64<<10)
	var err error
	for i := 0; i < 64 && err == nil; i++ {
		err = b.Publish(context.Background(), payload, "")
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("publishing past the budget: error %v, want ErrFull", err)
	}
}

func TestPublishDeduplicatesByMsgID(t *testing.T) {
	b := open(t, t.TempDir(), 0)
	defer b.Close()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := b.Publish(ctx, []byte("same"), "id-1"); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _, err := b.Depth(ctx)
	if err != nil || msgs != 1 {
		t.Errorf("depth = %d, %v; want 1", msgs, err)
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync_always=%v", sync), func(b *testing.B) { benchmarkPublish(b, sync) })
	}
}

func benchmarkPublish(b *testing.B, syncAlways bool) {
	bus, err := Open(context.Background(), Config{Dir: b.TempDir(), SyncAlways: syncAlways}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	payload := make([]byte, 256*1000) // a batch of ~1000 events of 256 bytes
	b.SetBytes(int64(len(payload)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bus.Publish(context.Background(), payload, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestStagedPreparesAheadAndCommitsInOrder: the next batch is prepared
// while the one before commits; commits come in order, and a failed commit
// is retried with what was prepared for it, not prepared again.
func TestStagedPreparesAheadAndCommitsInOrder(t *testing.T) {
	b := open(t, t.TempDir(), 0)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range []string{"a", "b", "c"} {
		if err := b.Publish(ctx, []byte(p), ""); err != nil {
			t.Fatal(err)
		}
	}
	preparedB := make(chan struct{})
	var mu sync.Mutex
	var prepared, committed []string
	failA := 1
	err := ConsumeStaged(ctx, b, func(_ context.Context, p []byte) (string, error) {
		mu.Lock()
		prepared = append(prepared, string(p))
		mu.Unlock()
		if string(p) == "b" {
			close(preparedB)
		}
		return "prepared " + string(p), nil
	}, func(_ context.Context, v string) error {
		if v == "prepared a" {
			// The commit of a waits until b is prepared: they overlap.
			select {
			case <-preparedB:
			case <-ctx.Done():
				t.Error("b was not prepared while a committed")
				return nil
			}
			if failA > 0 {
				failA--
				return errors.New("store unavailable")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		committed = append(committed, v)
		if len(committed) == 3 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(committed) != "[prepared a prepared b prepared c]" {
		t.Errorf("committed %q, want a, b, c in order", committed)
	}
	if fmt.Sprint(prepared) != "[a b c]" {
		t.Errorf("prepared %q, want each batch once, in order", prepared)
	}
}

// TestStagedPreparedBatchIsNotLost: a batch prepared but not committed when
// the consumer stops is delivered again on the next start.
func TestStagedPreparedBatchIsNotLost(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, 0)
	ctx := context.Background()
	for _, p := range []string{"a", "b"} {
		if err := b.Publish(ctx, []byte(p), ""); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	preparedB := make(chan struct{})
	err := ConsumeStaged(cctx, b, func(_ context.Context, p []byte) (string, error) {
		if string(p) == "b" {
			close(preparedB)
		}
		return string(p), nil
	}, func(_ context.Context, v string) error {
		if v == "a" {
			<-preparedB // b is prepared and waits: stop now
			cancel()
		}
		if v == "b" {
			t.Error("b was committed after the stop")
		}
		return nil
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, dir, 0)
	defer b.Close()
	if got := consumeN(t, b, 1, func([]byte) error { return nil }); fmt.Sprint(got) != "[b]" {
		t.Errorf("after restart delivered %v, want [b]", got)
	}
}
