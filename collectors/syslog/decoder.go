package syslog

import "github.com/danang-soc/vigil/event"

// Decoder reads a syslog file line by line, as the file collector and
// `vigil hunt --log syslog:FILE` do: one event per line, in RFC 5424 or RFC
// 3164 form, with or without a priority (as syslog daemons write files). A
// Decoder is owned by one goroutine.
type Decoder struct {
	p *Parser
}

// NewDecoder returns a line decoder parsing with the given options.
func NewDecoder(o Options) *Decoder { return &Decoder{p: NewParser(o)} }

// Line decodes one line (its line end may be present or not) and emits one
// event, even when the line is not syslog: then the event keeps the whole
// line as its message and Line returns an error matching ErrFormat. Empty
// lines are skipped.
func (d *Decoder) Line(line []byte, emit func(event.Event)) error {
	if len(trimEnd(line)) == 0 {
		return nil
	}
	ev, err := d.p.Parse(line)
	emit(ev)
	return err
}

// Flush does nothing: syslog records are single lines and never pending.
func (d *Decoder) Flush(emit func(event.Event)) {}

// Pending reports false: no line is ever held back.
func (d *Decoder) Pending() bool { return false }
