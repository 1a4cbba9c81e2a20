package file

import (
	"bytes"

	"github.com/danang-soc/vigil/event"
)

// Decoder turns the lines of one file into events; the tailer makes one per
// file and feeds it every line in order, without the line end.
//
// Line may emit any number of events, also for earlier lines (a multi-line
// record is typically emitted when the next record begins), and may return
// an error for a line it did not (fully) understand: the tailer counts it and
// keeps whatever was emitted. Pending reports whether lines were fed whose
// events have not been emitted yet; when Line emits and the decoder stays
// pending, the line just fed must be the start of the pending record. Flush
// emits what is pending, at the end of a file or when it has been idle.
type Decoder interface {
	Line(line []byte, emit func(event.Event)) error
	Flush(emit func(event.Event))
	Pending() bool
}

// Lines is the default decoder: one event per non-empty line, the line as
// "message" and Raw, with the given log source.
type Lines struct {
	Source event.LogSource
}

var _ Decoder = Lines{}

// Line emits the line as one event.
func (d Lines) Line(line []byte, emit func(event.Event)) error {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return nil
	}
	s := string(line)
	f := make(event.Fields, 1, 2) // room for the tailer's log.file.path
	f[0] = event.Field{Key: event.FieldMessage, Value: event.String(s)}
	emit(event.Event{Source: d.Source, Raw: s, Fields: f})
	return nil
}

// Flush does nothing: no line is held back.
func (Lines) Flush(func(event.Event)) {}

// Pending reports false.
func (Lines) Pending() bool { return false }
