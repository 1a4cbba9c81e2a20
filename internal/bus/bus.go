// Package bus is vigil's durable event bus: an embedded NATS JetStream
// server with file storage. Ingest publishes a batch of events as one
// message and acknowledges the sender only after JetStream has stored it;
// the pipeline consumes batches with a durable consumer and acknowledges each
// only after it is fully processed, so a crash at any point re-delivers
// unacknowledged batches and never loses an acknowledged one. Downstream
// stages are idempotent by event id, so re-delivery never duplicates.
//
// Concurrency: Bus is safe for concurrent use; Publish may be called from
// many goroutines. Consume runs the handler on the calling goroutine, one
// batch at a time, in stream order.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config configures the embedded bus.
type Config struct {
	// Dir is where JetStream keeps its files.
	Dir string `yaml:"dir"`
	// MaxBytes is the disk budget of unprocessed batches. When it is
	// reached, Publish fails with ErrFull and ingest answers 503 with
	// Retry-After: the sender keeps the events. Default 4 GiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// SyncAlways makes JetStream fsync every batch before acknowledging it,
	// so that acknowledged events survive a power loss, not only a process
	// crash. Default false: a batch is written to its file before it is
	// acknowledged (it survives SIGKILL and any crash of vigil) and fsynced
	// within SyncInterval; measured here, fsync per batch costs 15x in
	// throughput (BenchmarkPublish).
	SyncAlways bool `yaml:"sync_always"`
	// SyncInterval is how often written batches are fsynced when
	// SyncAlways is off. Default 1s.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// AckWait is how long a batch may be in processing before it is
	// re-delivered. Default 2 minutes.
	AckWait time.Duration `yaml:"ack_wait"`
}

// Defaults.
const (
	DefaultMaxBytes = 4 << 30
	DefaultAckWait  = 2 * time.Minute
)

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("bus: dir is required")
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxBytes < 1<<20 {
		return fmt.Errorf("bus: max_bytes %d is below the minimum of 1 MiB", c.MaxBytes)
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.AckWait < time.Second {
		return fmt.Errorf("bus: ack_wait %s is below the minimum of 1s", c.AckWait)
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = time.Second
	}
	return nil
}

// errCodeStoreFailed is JetStream's error code when a stream refuses a
// message because it reached its limits (DiscardNew).
const errCodeStoreFailed = 10077

// ErrFull is returned by Publish when the bus has reached its disk budget.
var ErrFull = errors.New("bus is full")

const (
	streamName   = "EVENTS"
	subject      = "vigil.events"
	consumerName = "pipeline"
)

// Bus is the embedded JetStream bus.
type Bus struct {
	ns     *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	cfg    Config
	log    *slog.Logger
}

// Open starts the embedded server (no network listener) and creates or
// opens the stream.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating bus dir: %w", err)
	}
	opts := &server.Options{
		ServerName:         "vigil",
		DontListen:         true,
		JetStream:          true,
		StoreDir:           filepath.Clean(cfg.Dir),
		JetStreamMaxStore:  cfg.MaxBytes + 64<<20,
		JetStreamMaxMemory: 64 << 20,
		SyncAlways:         cfg.SyncAlways,
		SyncInterval:       cfg.SyncInterval,
		NoLog:              true,
		NoSigs:             true,
		MaxPayload:         8 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("starting bus: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("starting bus: not ready after 30s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("vigil"))
	if err != nil {
		ns.Shutdown()
		return nil, fmt.Errorf("connecting to bus: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       streamName,
		Subjects:   []string{subject},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Discard:    jetstream.DiscardNew,
		MaxBytes:   cfg.MaxBytes,
		MaxMsgSize: 8 << 20,
	})
	if err != nil {
		nc.Close()
		ns.Shutdown()
		return nil, fmt.Errorf("creating event stream: %w", err)
	}
	return &Bus{ns: ns, nc: nc, js: js, stream: stream, cfg: cfg, log: log}, nil
}

// MaxMessage is the largest batch payload Publish accepts.
const MaxMessage = 8 << 20

// Publish stores one batch durably; it returns only once JetStream has
// acknowledged it. msgID, when not empty, makes the publish idempotent
// within JetStream's duplicate window.
func (b *Bus) Publish(ctx context.Context, payload []byte, msgID string) error {
	if len(payload) > MaxMessage {
		return fmt.Errorf("publishing batch of %d bytes: over the %d-byte limit", len(payload), MaxMessage)
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	_, err := b.js.Publish(ctx, subject, payload, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStoreFailed {
			return fmt.Errorf("%w: %v", ErrFull, err)
		}
		return fmt.Errorf("publishing batch: %w", err)
	}
	return nil
}

// Depth reports the batches and bytes waiting in the bus.
func (b *Bus) Depth(ctx context.Context) (msgs uint64, bytes uint64, err error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.State.Msgs, info.State.Bytes, nil
}

// Handler processes one batch. Returning nil acknowledges it; an error makes
// the bus deliver it again after a back-off.
type Handler func(ctx context.Context, payload []byte) error

// Consume delivers batches to h in order until ctx ends. A batch whose
// handler fails is retried with back-off and is not skipped: later batches
// wait, so that nothing is processed out of order or lost.
func (b *Bus) Consume(ctx context.Context, h Handler) error {
	return ConsumeStaged(ctx, b, func(_ context.Context, p []byte) ([]byte, error) { return p, nil }, h)
}

// ConsumeStaged is Consume with the processing of a batch in two stages,
// so that the next batch is prepared while the one before it commits:
// prepare(batch n+1) runs beside commit(batch n). Commits run one at a time
// in order, and a batch is acknowledged once its commit returns nil.
//
// prepare must have no effect outside its result: a batch can be prepared
// and then not committed (shutdown, crash), and it is prepared again when
// it is delivered again. A failing stage is retried with back-off, and the
// batches after it wait.
func ConsumeStaged[T any](ctx context.Context, b *Bus, prepare func(ctx context.Context, payload []byte) (T, error), commit func(ctx context.Context, prepared T) error) error {
	cons, err := b.consumer(ctx)
	if err != nil || cons == nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type prepared struct {
		msg jetstream.Msg
		val T
	}
	// Unbuffered: one batch commits while at most one more is prepared and
	// waits, the two unacknowledged batches the consumer allows.
	ready := make(chan prepared)
	go func() {
		defer close(ready)
		b.fetch(ctx, cons, func(msg jetstream.Msg) bool {
			var val T
			ok := b.retry(ctx, msg, "preparing", func() (err error) {
				val, err = prepare(ctx, msg.Data())
				return err
			})
			if !ok {
				return false
			}
			// While the commit before it runs, the waiting batch is kept
			// from being re-delivered.
			tick := time.NewTicker(max(b.cfg.AckWait/3, time.Second))
			defer tick.Stop()
			for {
				select {
				case ready <- prepared{msg, val}:
					return true
				case <-tick.C:
					_ = msg.InProgress()
				case <-ctx.Done():
					return false
				}
			}
		})
	}()
	defer func() {
		cancel()
		for range ready { // until the fetcher has ended
		}
	}()
	for p := range ready {
		if ctx.Err() != nil {
			return nil // the rest is delivered again on the next start
		}
		if !b.retry(ctx, p.msg, "processing", func() error { return commit(ctx, p.val) }) {
			return nil // not acknowledged: delivered again after restart
		}
		// Acknowledge even when shutting down: the batch is processed.
		actx, cancelAck := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := p.msg.DoubleAck(actx)
		cancelAck()
		if err != nil {
			// The batch will be delivered again; processing is idempotent.
			b.log.Warn("acknowledging batch failed", "err", err)
		}
	}
	return nil
}

// consumer creates the pipeline's consumer afresh. It returns nil and no
// error when ctx ended while starting.
func (b *Bus) consumer(ctx context.Context) (jetstream.Consumer, error) {
	// The stream holds exactly the batches not yet processed (work-queue
	// retention deletes a batch when it is acknowledged). A consumer left
	// from before a crash would wait AckWait before re-delivering what was
	// in flight; starting afresh re-delivers it at once.
	if err := b.stream.DeleteConsumer(ctx, consumerName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		if ctx.Err() != nil {
			return nil, nil // shut down while starting
		}
		return nil, fmt.Errorf("resetting pipeline consumer: %w", err)
	}
	cons, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxAckPending: 2, // one committing, one prepared (ConsumeStaged)
		MaxDeliver:    -1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("creating pipeline consumer: %w", err)
	}
	return cons, nil
}

// fetch hands each delivered batch to next, in order, until ctx ends or
// next returns false.
func (b *Bus) fetch(ctx context.Context, cons jetstream.Consumer, next func(jetstream.Msg) bool) {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(16, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.log.Warn("bus fetch failed", "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		for msg := range batch.Messages() {
			if ctx.Err() != nil || !next(msg) {
				return // what is left is delivered again on the next start
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			b.log.Warn("bus fetch ended with an error", "err", err)
		}
	}
}

// retry runs f until it succeeds, with back-off, keeping msg from being
// re-delivered meanwhile. It returns false when ctx ended first.
func (b *Bus) retry(ctx context.Context, msg jetstream.Msg, what string, f func() error) bool {
	backoff := 100 * time.Millisecond
	for {
		if ctx.Err() != nil {
			return false
		}
		err := f()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		b.log.Error(what+" batch failed; retrying", "err", err, "backoff", backoff)
		_ = msg.InProgress()
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Close stops the connection and the embedded server.
func (b *Bus) Close() error {
	b.nc.Close()
	b.ns.Shutdown()
	b.ns.WaitForShutdown()
	return nil
}
