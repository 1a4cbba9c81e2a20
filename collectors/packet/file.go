package packet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/danang-soc/vigil/event"
)

// maxSnaplen bounds the packets read from a capture file.
const maxSnaplen = 1 << 20

// ErrNotCapture is returned for input that is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// DecodeFile decodes the capture file at path (pcap or pcapng) and emits its
// events in packet order, the flow records of the connections still open at
// the end included. A capture cut short or corrupted part way yields the
// events of what came before, with Stats.CaptureErrors counting the damage;
// the error is for a file that cannot be read at all or a cancelled ctx.
func DecodeFile(ctx context.Context, path string, cfg Config, emit func(event.Event)) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("opening capture: %w", err)
	}
	defer f.Close()
	st, err := DecodeReader(ctx, f, cfg, emit)
	if err != nil {
		return st, fmt.Errorf("decoding %s: %w", path, err)
	}
	return st, nil
}

// DecodeReader is DecodeFile on a stream. The stream is read in chunks that
// are decoded while they are in the processor's cache: one copy from the
// page cache this way costs less than mapping a file (its page faults) or
// reading it whole (a second pass over memory).
func DecodeReader(ctx context.Context, r io.Reader, cfg Config, emit func(event.Event)) (Stats, error) {
	c := newChunkReader(r)
	defer c.release()
	st, err := decodePeeker(ctx, c, cfg, emit)
	if err == nil {
		if rerr := c.readErr(); rerr != nil {
			err = fmt.Errorf("reading capture: %w", rerr)
		}
	}
	return st, err
}

// DecodeBytes is DecodeFile on a capture held in memory; the packets are
// decoded in place, without a copy.
func DecodeBytes(ctx context.Context, b []byte, cfg Config, emit func(event.Event)) (Stats, error) {
	return decodePeeker(ctx, &memReader{b: b}, cfg, emit)
}

func decodePeeker(ctx context.Context, p peeker, cfg Config, emit func(event.Event)) (Stats, error) {
	d, err := NewDecoder(cfg, emit)
	if err != nil {
		return Stats{}, err
	}
	src, err := openCapture(p)
	if err != nil {
		return Stats{}, err
	}
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				d.Flush()
				return d.Stats(), err
			}
		}
		link, ts, data, err := src.next()
		if err != nil {
			if err != io.EOF {
				d.stats.CaptureErrors++
			}
			break
		}
		d.Packet(link, ts, data)
	}
	d.Flush()
	return d.Stats(), nil
}
