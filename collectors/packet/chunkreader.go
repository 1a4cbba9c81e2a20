package packet

import (
	"io"
	"sync"
)

// chunkReader is a peeker over an io.Reader for DecodeFile and DecodeReader.
// It reads in chunks into a buffer of chunkSize that is reused from capture
// to capture, so that what is read is decoded while it is still in the
// processor's cache; a record larger than the buffer grows it for that
// capture.
type chunkReader struct {
	r        io.Reader
	buf      []byte
	off, end int   // the unread bytes are buf[off:end]
	err      error // of the last read; io.EOF at the end
}

// chunkSize is the size of a chunkReader's buffer: well within the L2 cache
// of current processors, and large enough that the records of the biggest
// TCP segments (64 KiB) seldom cross its end.
const chunkSize = 256 << 10

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func newChunkReader(r io.Reader) *chunkReader {
	return &chunkReader{r: r, buf: *chunkBufs.Get().(*[]byte)}
}

// release gives the buffer back for the next capture.
func (c *chunkReader) release() {
	if b := c.buf; len(b) == chunkSize {
		chunkBufs.Put(&b)
	}
	c.buf, c.off, c.end = nil, 0, 0
}

// readErr is the error that stopped the reading, nil at the end of input.
func (c *chunkReader) readErr() error {
	if c.err == io.EOF {
		return nil
	}
	return c.err
}

func (c *chunkReader) Peek(n int) ([]byte, error) {
	for c.end-c.off < n && c.err == nil {
		c.fill(n)
	}
	if rest := c.end - c.off; n > rest {
		if rest == 0 {
			return nil, io.EOF
		}
		return c.buf[c.off:c.end], io.ErrUnexpectedEOF
	}
	return c.buf[c.off : c.off+n], nil
}

func (c *chunkReader) Discard(n int) (int, error) {
	done := 0
	for {
		k := min(n-done, c.end-c.off)
		c.off += k
		done += k
		if done == n {
			return n, nil
		}
		if c.err != nil {
			return done, io.ErrUnexpectedEOF
		}
		c.off, c.end = 0, 0
		c.fill(1)
	}
}

// fill reads once, making room first for n unread bytes in all.
func (c *chunkReader) fill(n int) {
	if n > len(c.buf) {
		b := make([]byte, n)
		c.end = copy(b, c.buf[c.off:c.end])
		c.off = 0
		c.buf = b
	} else if c.off+n > len(c.buf) {
		c.end = copy(c.buf, c.buf[c.off:c.end])
		c.off = 0
	}
	for empty := 0; empty < 100; empty++ {
		m, err := c.r.Read(c.buf[c.end:])
		c.end += m
		if err != nil {
			c.err = err
			return
		}
		if m > 0 {
			return
		}
	}
	c.err = io.ErrNoProgress
}
