package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// framingError is a TCP stream that cannot be split into messages.
type framingError struct{ msg string }

func (e *framingError) Error() string { return "syslog framing: " + e.msg }

// framer splits a TCP stream into messages, with octet counting ("LEN SP
// MSG", RFC 6587 section 3.4.1) or LF framing (section 3.4.2), detected from
// the first frame of the connection: a non-zero digit run followed by a
// space means octet counting.
type framer struct {
	r    *bufio.Reader
	max  int
	mode int // 0 undecided, modeOctet, modeLF
	skip int // bytes of the previous octet frame still to discard
	tail bool
}

const (
	modeOctet = 1
	modeLF    = 2
)

func newFramer(r io.Reader, max int) *framer {
	return &framer{r: bufio.NewReaderSize(r, max+1), max: max}
}

// next returns the next message, valid until the following call, and
// whether it was cut to the maximum size. An error ends the stream; a final
// message may come with it.
func (f *framer) next() (msg []byte, cut bool, err error) {
	if f.skip > 0 {
		n := f.skip
		f.skip = 0
		if _, err := f.r.Discard(n); err != nil {
			return nil, false, err
		}
	}
	if f.mode == 0 {
		if f.mode, err = f.detect(); err != nil {
			return nil, false, err
		}
	}
	if f.mode == modeOctet {
		return f.octet()
	}
	return f.line()
}

func (f *framer) detect() (int, error) {
	b, err := f.r.Peek(1)
	if err != nil {
		return 0, err
	}
	if b[0] < '1' || b[0] > '9' {
		return modeLF, nil
	}
	for k := 1; k <= 10; k++ {
		b, err := f.r.Peek(k + 1)
		if err != nil {
			return modeLF, nil // a short final line of digits
		}
		switch {
		case b[k] == ' ':
			return modeOctet, nil
		case !isDigit(b[k]):
			return modeLF, nil
		}
	}
	return modeLF, nil
}

func (f *framer) octet() ([]byte, bool, error) {
	n, nd := 0, 0
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			if nd == 0 && errors.Is(err, io.EOF) {
				return nil, false, io.EOF
			}
			return nil, false, &framingError{"stream ended inside an octet count"}
		}
		switch {
		case c == ' ' && nd > 0:
		case isDigit(c) && nd < 9 && !(nd == 0 && c == '0'):
			n = n*10 + int(c-'0')
			nd++
			continue
		case nd == 0 && (c == '\n' || c == '\r'): // a stray line end between frames
			continue
		default:
			return nil, false, &framingError{fmt.Sprintf("bad octet count byte %q", c)}
		}
		break
	}
	take, cut := n, false
	if n > f.max {
		take, cut = f.max, true
	}
	b, err := f.r.Peek(take)
	if err != nil {
		// The sender went away in the middle of a frame: keep what came.
		f.r.Discard(len(b))
		return b, false, io.ErrUnexpectedEOF
	}
	f.skip = n
	return b, cut, nil
}

func (f *framer) line() ([]byte, bool, error) {
	for {
		line, err := f.r.ReadSlice('\n')
		if f.tail { // the rest of a line that was cut
			if err == nil {
				f.tail = false
				continue
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			return nil, false, err
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			f.tail = true
			return line[:f.max], true, nil
		}
		if err != nil {
			return bytes.TrimRight(line, "\r\x00"), false, err
		}
		if len(trimEnd(line)) == 0 {
			continue
		}
		return line, false, nil
	}
}
