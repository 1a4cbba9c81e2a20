package packet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/gopacket/layers"
)

// Capture decodes live traffic from a network interface and writes the
// events to a sink in batches.
//
// Policy when the sink is slow: Write blocks the capture loop, the kernel's
// capture buffer fills and the kernel drops packets, counted in
// Stats.KernelDropped; when Write fails, the batch is dropped, counted in
// Stats.EventsDropped and logged. The sink (the agent's disk buffer) is
// expected to accept quickly.
type Capture struct {
	cfg  Config
	sink event.Sink
	log  *slog.Logger
	now  func() time.Time
	open func(Config, func() time.Time) (liveSource, error)

	mu    sync.Mutex
	stats Stats
}

// liveSource is an open capture handle.
type liveSource interface {
	// read returns the next packet, or errTimeout when none came within
	// the read timeout.
	read() (data []byte, ts time.Time, err error)
	linkType() layers.LinkType
	// kernelStats returns the kernel's counts of packets received,
	// dropped for lack of buffer, and dropped by the interface.
	kernelStats() (recv, drop, ifdrop uint64, err error)
	close()
}

// readTimeout is how long a read waits for packets, so that cancellation
// and idle connections are noticed.
const readTimeout = 200 * time.Millisecond

// errTimeout is a read that found no packet in time.
var errTimeout = errors.New("capture read timeout")

// ErrLiveUnsupported is returned by Run where live capture is not built in
// (without cgo and libpcap).
var ErrLiveUnsupported = errors.New("live capture needs cgo and libpcap")

// NewCapture returns a Capture of the interface in cfg writing to sink. now
// gives the wall clock used for flush intervals and idle connections when
// no packet comes; nil means time.Now.
func NewCapture(cfg Config, sink event.Sink, log *slog.Logger, now func() time.Time) (*Capture, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("packet config: %w", err)
	}
	if cfg.Interface == "" {
		return nil, errors.New("packet config: no interface to capture on")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Capture{cfg: cfg.withDefaults(), sink: sink, log: log, now: now, open: openLive}, nil
}

// Stats returns the counts so far, kernel drops included. Safe for
// concurrent use.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Run captures until ctx is done, then closes the open connections, writes
// what is left and returns nil; it returns an error when the capture cannot
// be opened or fails.
func (c *Capture) Run(ctx context.Context) error {
	src, err := c.open(c.cfg, c.now)
	if err != nil {
		return fmt.Errorf("opening capture on %s: %w", c.cfg.Interface, err)
	}
	defer src.close()
	c.log.Info("packet capture started", "interface", c.cfg.Interface, "filter", c.cfg.Filter)

	var batch []event.Event
	var dropped uint64
	d, err := NewDecoder(c.cfg, func(ev event.Event) { batch = append(batch, ev) })
	if err != nil {
		return err
	}
	link := src.linkType()
	lastFlush := c.now()
	flush := func(ctx context.Context) {
		if len(batch) > 0 {
			if err := c.sink.Write(ctx, batch); err != nil {
				dropped += uint64(len(batch))
				c.log.Warn("packet events dropped", "events", len(batch), "err", err)
			}
			batch = batch[:0:0] // the sink owns the written events
		}
		lastFlush = c.now()
		c.publish(d, src, dropped)
	}
	for n := 0; ; n++ {
		if ctx.Err() != nil {
			d.Flush()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			flush(fctx)
			cancel()
			return nil
		}
		data, ts, err := src.read()
		switch {
		case errors.Is(err, errTimeout):
			d.Advance(c.now())
		case err != nil:
			d.Flush()
			flush(ctx)
			return fmt.Errorf("reading packets on %s: %w", c.cfg.Interface, err)
		default:
			d.Packet(link, ts, data)
		}
		if len(batch) >= c.cfg.Batch || c.now().Sub(lastFlush) >= c.cfg.FlushInterval {
			flush(ctx)
		} else if n&1023 == 0 {
			c.publish(d, src, dropped)
		}
	}
}

// publish copies the decoder's and the kernel's counts for Stats.
func (c *Capture) publish(d *Decoder, src liveSource, dropped uint64) {
	st := d.Stats()
	st.EventsDropped = dropped
	if recv, drop, ifdrop, err := src.kernelStats(); err == nil {
		st.KernelReceived, st.KernelDropped, st.IfaceDropped = recv, drop, ifdrop
	}
	c.mu.Lock()
	c.stats = st
	c.mu.Unlock()
}
