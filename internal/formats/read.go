package formats

import (
	"bufio"
	"fmt"
	"io"

	"github.com/danang-soc/vigil/event"
)

// maxLine bounds one line of a log (bytes); longer lines are an error.
const maxLine = 16 << 20

// Read decodes all of r with d, calling emit for each event, and flushes at
// the end. It stops at the first decoding error (which names the line) or
// read error.
func Read(r io.Reader, d Decoder, emit func(event.Event)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if err := d.Line(line, emit); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading log: %w", err)
	}
	d.Flush(emit)
	return nil
}
