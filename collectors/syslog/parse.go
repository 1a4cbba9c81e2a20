package syslog

import (
	"errors"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Field names of syslog events (the Elastic Common Schema's where it has one).
const (
	FieldPriority       = "log.syslog.priority"
	FieldFacility       = "log.syslog.facility.code"
	FieldSeverity       = "log.syslog.severity.code"
	FieldVersion        = "log.syslog.version"
	FieldAppName        = "log.syslog.appname"
	FieldProcID         = "log.syslog.procid"
	FieldMsgID          = "log.syslog.msgid"
	FieldStructuredData = "log.syslog.structured_data" // prefix: ".<sd-id>.<param>" follows
	FieldProcessName    = "process.name"
	FieldProcessPID     = "process.pid"
	FieldSourceAddress  = "log.source.address"
	FieldSequence       = "event.sequence" // a network device's message number
	FieldError          = "error.message"
)

// DefaultSource is the log source of syslog events unless configured.
var DefaultSource = event.LogSource{Product: "linux", Service: "syslog"}

// ErrFormat is matched (errors.Is) by the errors of Parse for messages that
// are not well-formed syslog.
var ErrFormat = errors.New("malformed syslog message")

// Options configure a Parser. The zero value is usable.
type Options struct {
	// Source is the log source of the events; DefaultSource when zero.
	Source event.LogSource
	// Location is the time zone of RFC 3164 timestamps, which carry none;
	// time.Local when nil.
	Location *time.Location
	// Now is the clock that year-less RFC 3164 timestamps are resolved
	// against (the latest year that puts the timestamp no more than a week
	// ahead of now is chosen); time.Now when nil.
	Now func() time.Time
}

// Parser parses syslog messages into events. It holds no mutable state and
// is safe for concurrent use.
type Parser struct {
	source event.LogSource
	loc    *time.Location
	now    func() time.Time
}

// NewParser returns a parser with the options' defaults filled in.
func NewParser(o Options) *Parser {
	p := &Parser{source: o.Source, loc: o.Location, now: o.Now}
	if p.source.IsZero() {
		p.source = DefaultSource
	}
	if p.loc == nil {
		p.loc = time.Local
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// Parse parses one syslog message without its transport framing; a trailing
// line end or NUL is ignored. RFC 5424 is recognised by its version after
// the priority, everything else is read as RFC 3164 with its variants: no
// priority (as in syslog files), no hostname, "tag[pid]:" or "tag:" or no
// tag, year-less, ISO 8601 or year-bearing timestamps.
//
// Parse always returns a usable event with Raw set to the message: when the
// message is malformed, err matches ErrFormat and the event carries the whole
// message as "message", the reason as "error.message", and the priority when
// it could be read, so that nothing is lost.
func (p *Parser) Parse(msg []byte) (event.Event, error) {
	msg = trimEnd(msg)
	raw := string(msg)
	ev := event.Event{Source: p.source, Raw: raw}
	pri, rest, err := priority(raw)
	if err != nil {
		ev.Fields = make(event.Fields, 0, 2)
		return p.fallback(ev, -1, err), err
	}
	if pri >= 0 {
		if v, n := version(rest); n > 0 {
			// Room for the header, one field per structured data parameter
			// and two that a receiver adds.
			ev.Fields = make(event.Fields, 0, 14+min(strings.Count(rest, `="`), 64))
			ev.Fields = appendPriority(ev.Fields, pri)
			if err := p.parse5424(&ev, v, rest[n:]); err != nil {
				return p.fallback(ev, pri, err), err
			}
			return ev, nil
		}
	}
	// Room for the header and two fields that a receiver adds.
	ev.Fields = make(event.Fields, 0, 12)
	if pri >= 0 {
		ev.Fields = appendPriority(ev.Fields, pri)
	}
	if err := p.parse3164(&ev, rest, pri >= 0); err != nil {
		return p.fallback(ev, pri, err), err
	}
	return ev, nil
}

// fallback turns a malformed message into an event that keeps it whole.
func (p *Parser) fallback(ev event.Event, pri int, err error) event.Event {
	ev.Time = time.Time{}
	ev.Fields = ev.Fields[:0]
	if pri >= 0 {
		ev.Fields = appendPriority(ev.Fields, pri)
	}
	ev.Fields = append(ev.Fields,
		event.Field{Key: event.FieldMessage, Value: event.String(ev.Raw)},
		event.Field{Key: FieldError, Value: event.String(err.Error())})
	return ev
}

func appendPriority(f event.Fields, pri int) event.Fields {
	return append(f,
		event.Field{Key: FieldPriority, Value: smallInt(pri)},
		event.Field{Key: FieldFacility, Value: smallInt(pri / 8)},
		event.Field{Key: FieldSeverity, Value: smallInt(pri % 8)})
}

// formatError is a parse failure; it matches ErrFormat.
type formatError struct {
	what string
	at   int
}

func (e *formatError) Error() string {
	return "malformed syslog message: " + e.what + " at byte " + itoa(e.at)
}

func (e *formatError) Is(target error) bool { return target == ErrFormat }

func bad(what string, at int) error { return &formatError{what: what, at: at} }

func trimEnd(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

// priority reads "<PRI>"; pri is -1 when the message has none.
func priority(s string) (pri int, rest string, err error) {
	if len(s) == 0 || s[0] != '<' {
		return -1, s, nil
	}
	v, i := 0, 1
	for ; i < len(s) && i <= 4 && isDigit(s[i]); i++ {
		v = v*10 + int(s[i]-'0')
	}
	if i == 1 || i > 4 || i >= len(s) || s[i] != '>' {
		return -1, s, bad("priority", i)
	}
	if v > 191 {
		return -1, s, bad("priority out of range", 1)
	}
	return v, s[i+1:], nil
}

// version reads an RFC 5424 version ("1 "); n is 0 when there is none.
func version(s string) (v string, n int) {
	i := 0
	for i < len(s) && i < 3 && isDigit(s[i]) {
		i++
	}
	if i == 0 || s[0] == '0' || i >= len(s) || s[i] != ' ' {
		return "", 0
	}
	return s[:i], i + 1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// smallInts holds the text of 0..191 so that priorities cost no allocation.
var smallInts = func() [192]event.Value {
	var t [192]event.Value
	for i := range t {
		t[i] = event.Int(int64(i))
	}
	return t
}()

func smallInt(n int) event.Value {
	if n >= 0 && n < len(smallInts) {
		return smallInts[n]
	}
	return event.Int(int64(n))
}

func itoa(n int) string { return smallInt(n).Str }

// setProcess sets the application and process fields shared by both formats.
func setProcess(f *event.Fields, app, procid string) {
	if app != "" {
		*f = append(*f, event.Field{Key: FieldAppName, Value: event.String(app)},
			event.Field{Key: FieldProcessName, Value: event.String(app)})
	}
	if procid != "" {
		*f = append(*f, event.Field{Key: FieldProcID, Value: event.String(procid)})
		if allDigits(procid) && len(procid) <= 18 {
			*f = append(*f, event.Field{Key: FieldProcessPID, Value: event.Number(trimZeros(procid))})
		}
	}
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
