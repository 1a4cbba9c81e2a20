package packet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

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
	var st Stats
	if fi, serr := f.Stat(); serr == nil && fi.Mode().IsRegular() && fi.Size() <= maxReadWhole {
		// A capture of moderate size is read whole into a reused buffer:
		// one copy from the page cache is cheaper than faulting in the
		// pages of a fresh mapping.
		bp := readBufs.Get().(*[]byte)
		b := (*bp)[:0]
		if int64(cap(b)) < fi.Size()+1 {
			b = make([]byte, 0, fi.Size()+1)
		}
		b, err = readAll(f, b)
		if err == nil {
			st, err = DecodeBytes(ctx, b, cfg, emit)
		}
		*bp = b[:0]
		readBufs.Put(bp)
	} else if b, unmap, merr := mapFile(f); merr == nil {
		// The file is read in place: packets are never copied.
		st, err = DecodeBytes(ctx, b, cfg, emit)
		unmap()
	} else {
		st, err = DecodeReader(ctx, f, cfg, emit)
	}
	if err != nil {
		return st, fmt.Errorf("decoding %s: %w", path, err)
	}
	return st, nil
}

// maxReadWhole is the largest capture read into memory whole; larger ones
// are mapped.
const maxReadWhole = 64 << 20

var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// readAll reads r to its end into b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// DecodeReader is DecodeFile on a stream.
func DecodeReader(ctx context.Context, r io.Reader, cfg Config, emit func(event.Event)) (Stats, error) {
	return decodePeeker(ctx, bufio.NewReaderSize(r, maxSnaplen+4096), cfg, emit)
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
