package postgres

import (
	"fmt"
	"strings"

	"github.com/danang-soc/vigil/event"
)

// Stderr decodes the plain server log (log_destination=stderr, also what
// syslog carries) written with a known log_line_prefix. A record is its
// first line, the lines that continue it (starting with a tab), and the
// DETAIL, HINT, CONTEXT, QUERY, LOCATION and STATEMENT lines of the same
// process that follow it; so a record stays pending until the next record
// starts or Flush is called.
type Stderr struct {
	b       builder
	prefix  []prefixToken
	line    int
	pending bool
	rec     record
	key     string
	last    *string // the field continuation lines extend
	acc     []byte  // its text so far (settle stores it)
	raw     []byte
	hasSess bool // the prefix has %c: sessions are joined by session id
}

// prefixToken is a literal (lit != "") or an escape (esc != 0) of
// log_line_prefix.
type prefixToken struct {
	lit string
	esc byte
}

// NewStderr returns a stderr decoder for opts.LinePrefix (default
// DefaultLinePrefix).
func NewStderr(opts Options) *Stderr {
	if opts.LinePrefix == "" {
		opts.LinePrefix = DefaultLinePrefix
	}
	d := &Stderr{b: newBuilder(opts), prefix: compilePrefix(opts.LinePrefix)}
	for _, t := range d.prefix {
		d.hasSess = d.hasSess || t.esc == 'c'
	}
	return d
}

func compilePrefix(p string) []prefixToken {
	var toks []prefixToken
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, prefixToken{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+1 == len(p) {
			lit.WriteByte(p[i])
			continue
		}
		i++
		for i < len(p) && (p[i] == '-' || p[i] >= '0' && p[i] <= '9') { // padding
			i++
		}
		if i == len(p) {
			break
		}
		if p[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		flush()
		toks = append(toks, prefixToken{esc: p[i]})
	}
	flush()
	return toks
}

// severities of a record's first line and of its follow-up lines.
var (
	firstSeverity = map[string]bool{
		"LOG": true, "ERROR": true, "FATAL": true, "PANIC": true, "WARNING": true, "NOTICE": true,
		"INFO": true, "DEBUG": true, "DEBUG1": true, "DEBUG2": true, "DEBUG3": true, "DEBUG4": true, "DEBUG5": true,
	}
	followSeverity = map[string]bool{
		"DETAIL": true, "HINT": true, "QUERY": true, "CONTEXT": true, "LOCATION": true, "STATEMENT": true,
	}
)

// severityAt reads "SEVERITY:  " at s[i:]; it returns the severity and the
// index of the message.
func severityAt(s string, i int) (sev string, msg int, ok bool) {
	j := i
	for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j == i || !strings.HasPrefix(s[j:], ":  ") {
		return "", 0, false
	}
	sev = s[i:j]
	if !firstSeverity[sev] && !followSeverity[sev] {
		return "", 0, false
	}
	return sev, j + 3, true
}

// Line decodes one line.
func (d *Stderr) Line(line []byte, emit func(event.Event)) error {
	d.line++
	s := string(line)
	var r record
	msgAt, sev, err := d.parsePrefix(s, &r)
	if err != nil {
		if d.pending && d.last != nil {
			// a continuation line (PostgreSQL starts them with a tab)
			d.extend(s, "\n", strings.TrimPrefix(s, "\t"))
			return nil
		}
		if len(s) == 0 {
			return nil
		}
		return fmt.Errorf("stderr line %d: %w", d.line, err)
	}
	msg := s[msgAt:]
	key := r.pid
	if d.hasSess {
		key = r.session
	}
	if followSeverity[sev] && d.pending && key == d.key {
		if len(d.raw) > maxRecord {
			return nil // the record is full; the rest of it is dropped
		}
		d.settle()
		switch sev {
		case "DETAIL":
			d.last = &d.rec.detail
		case "HINT":
			d.last = &d.rec.hint
		case "STATEMENT":
			d.last = &d.rec.statement
		default: // CONTEXT, QUERY, LOCATION
			d.last = &d.rec.context
			d.acc = append(d.acc[:0], d.rec.context...)
			if len(d.acc) > 0 {
				d.extend(s, "\n", sev+": "+msg)
				return nil
			}
			d.extend(s, "", sev+": "+msg)
			return nil
		}
		d.acc = d.acc[:0]
		d.extend(s, "", msg)
		return nil
	}
	d.Flush(emit)
	r.severity = sev
	d.rec, d.key, d.pending = r, key, true
	d.last, d.acc = &d.rec.message, append(d.acc[:0], msg...)
	d.raw = append(d.raw[:0], s...)
	return nil
}

// extend adds a line of the pending record: to its raw text, and text to
// the field being read (after sep). A record stops growing at maxRecord
// bytes; the rest of it is dropped.
func (d *Stderr) extend(line, sep, text string) {
	if len(d.raw) > maxRecord {
		return
	}
	if len(d.raw) > 0 {
		d.raw = append(d.raw, '\n')
	}
	d.raw = append(d.raw, line...)
	d.acc = append(append(d.acc, sep...), text...)
}

// settle stores the text read so far into the field being read.
func (d *Stderr) settle() {
	if d.last != nil {
		*d.last = string(d.acc)
	}
}

// parsePrefix matches the prefix at the start of s, filling r; it returns
// where the message starts and the severity.
func (d *Stderr) parsePrefix(s string, r *record) (int, string, error) {
	i := 0
	for k, t := range d.prefix {
		if t.lit != "" {
			if !strings.HasPrefix(s[i:], t.lit) {
				return 0, "", fmt.Errorf("does not match log_line_prefix: want %q at column %d", t.lit, i+1)
			}
			i += len(t.lit)
			continue
		}
		if t.esc == 'q' {
			if sev, at, ok := severityAt(s, i); ok {
				return at, sev, nil
			}
			continue
		}
		var v string
		switch t.esc {
		case 'm', 't':
			end := timeEnd(s, i)
			if end < 0 {
				return 0, "", fmt.Errorf("no timestamp at column %d for %%%c", i+1, t.esc)
			}
			v = s[i:end]
			tm, err := parseTime(v)
			if err != nil {
				return 0, "", fmt.Errorf("field %%%c: %w", t.esc, err)
			}
			r.time = tm
			i = end
			continue
		}
		// the value runs to the next literal, or to the severity
		var end int
		if k+1 < len(d.prefix) && d.prefix[k+1].lit != "" {
			j := strings.Index(s[i:], d.prefix[k+1].lit)
			if j < 0 {
				return 0, "", fmt.Errorf("does not match log_line_prefix: no %q after column %d", d.prefix[k+1].lit, i+1)
			}
			end = i + j
		} else {
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				return 0, "", fmt.Errorf("does not match log_line_prefix: no value for %%%c at column %d", t.esc, i+1)
			}
			end = i + j
		}
		v = s[i:end]
		i = end
		if v == "[unknown]" {
			v = ""
		}
		switch t.esc {
		case 'u':
			r.user = v
		case 'd':
			r.db = v
		case 'a':
			r.app = v
		case 'p':
			r.pid = v
		case 'h':
			r.host = v
		case 'r':
			if h, p, ok := strings.Cut(v, "("); ok {
				r.host, r.port = h, strings.TrimSuffix(p, ")")
			} else {
				r.host = v
			}
		case 'c':
			r.session = v
		case 'e':
			if v != "00000" {
				r.sqlstate = v
			}
		case 'b':
			r.backend = v
		case 'n':
			tm, err := parseTime(v)
			if err != nil {
				return 0, "", fmt.Errorf("field %%n: %w", err)
			}
			r.time = tm
		}
	}
	sev, at, ok := severityAt(s, i)
	if !ok {
		return 0, "", fmt.Errorf("no severity (LOG:, ERROR:, ...) at column %d after log_line_prefix", i+1)
	}
	return at, sev, nil
}

// timeEnd returns the end of a "YYYY-MM-DD HH:MM:SS[.fff] ZONE" timestamp
// starting at s[i], or -1.
func timeEnd(s string, i int) int {
	j := i + 19
	if j > len(s) || s[i+4] != '-' || s[i+10] != ' ' || s[i+13] != ':' {
		return -1
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j < len(s) && s[j] == ' ' && j+1 < len(s) && s[j+1] != '[' {
		k := j + 1
		for k < len(s) && s[k] != ' ' {
			k++
		}
		j = k
	}
	return j
}

// Flush emits the pending record.
func (d *Stderr) Flush(emit func(event.Event)) {
	if !d.pending {
		return
	}
	d.settle()
	r := d.rec
	d.pending, d.last = false, nil
	emit(d.b.event(d.key, &r, nil, string(d.raw)))
}

// Pending reports whether a record waits for its follow-up lines.
func (d *Stderr) Pending() bool { return d.pending }
