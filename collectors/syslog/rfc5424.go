package syslog

import (
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
)

const (
	nilValue = "-"
	bom      = "\xEF\xBB\xBF"
)

// parse5424 parses what follows "<PRI>VERSION " of an RFC 5424 message:
// TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]. It is
// lenient where senders commonly are sloppy (missing structured data, more
// than one space between parts).
func (p *Parser) parse5424(ev *event.Event, ver, s string) error {
	off := len(ev.Raw) - len(s)
	pos := func() int { return len(ev.Raw) - len(s) } // byte offset for errors
	var hdr [5]string
	for i := range hdr {
		if len(s) == 0 {
			if i == 4 { // "... APP PROCID" with neither MSGID nor SD
				break
			}
			return bad("truncated header", pos())
		}
		j := strings.IndexByte(s, ' ')
		if j < 0 {
			j = len(s)
		}
		if j == 0 {
			return bad("empty header field", pos())
		}
		hdr[i] = s[:j]
		s = strings.TrimLeft(s[j:], " ")
	}
	if hdr[0] != nilValue {
		t, ok := rfc3339(hdr[0], time.UTC)
		if !ok {
			return bad("timestamp", off)
		}
		ev.Time = t
	}
	ev.Fields = append(ev.Fields, event.Field{Key: FieldVersion, Value: event.Number(ver)})
	if h := hdr[1]; h != nilValue {
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldHost, Value: event.String(h)})
	}
	app, procid := nilToEmpty(hdr[2]), nilToEmpty(hdr[3])
	setProcess(&ev.Fields, app, procid)
	if m := nilToEmpty(hdr[4]); m != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: FieldMsgID, Value: event.String(m)})
	}
	// Structured data: "-" or one or more elements.
	switch {
	case len(s) == 0:
	case s[0] == '-' && (len(s) == 1 || s[1] == ' '):
		s = s[1:]
	case s[0] == '[':
		rest, err := structuredData(&ev.Fields, s)
		if err != nil {
			return bad(err.Error(), pos())
		}
		s = rest
	default:
		// No structured data at all: what follows the header is the message.
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String(strings.TrimPrefix(s, bom))})
		return nil
	}
	if len(s) > 0 {
		if s[0] != ' ' {
			return bad("no space after structured data", pos())
		}
		s = strings.TrimPrefix(s[1:], bom)
	}
	if s != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String(s)})
	}
	return nil
}

func nilToEmpty(s string) string {
	if s == nilValue {
		return ""
	}
	return s
}

type sdError string

func (e sdError) Error() string { return string(e) }

// structuredData reads SD-ELEMENTs ("[id name="value" ...]") into fields
// named log.syslog.structured_data.<id>.<name>; a name repeated within an
// element becomes a list. It returns what follows the last element.
func structuredData(f *event.Fields, s string) (string, error) {
	for len(s) > 0 && s[0] == '[' {
		s = s[1:]
		i := 0
		for i < len(s) && s[i] != ' ' && s[i] != ']' && s[i] != '=' && s[i] != '"' {
			i++
		}
		if i == 0 || i == len(s) || s[i] == '=' || s[i] == '"' {
			return s, sdError("structured data id")
		}
		id := s[:i]
		s = s[i:]
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
			if len(s) > 0 && s[0] == ']' { // tolerate a trailing space
				break
			}
			j := 0
			for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != ']' && s[j] != '"' {
				j++
			}
			if j == 0 || j+1 >= len(s) || s[j] != '=' || s[j+1] != '"' {
				return s, sdError("structured data parameter")
			}
			name := s[:j]
			s = s[j+2:]
			v, n, ok := sdValue(s)
			if !ok {
				return s, sdError("unterminated structured data value")
			}
			s = s[n:]
			f.Add(FieldStructuredData+"."+id+"."+name, event.String(v))
		}
		if len(s) == 0 || s[0] != ']' {
			return s, sdError("unterminated structured data element")
		}
		s = s[1:]
	}
	return s, nil
}

// sdValue reads a PARAM-VALUE up to its closing quote, undoing the escapes
// \" \\ \] (a backslash before anything else is kept, as RFC 5424 says). n
// counts the bytes consumed including the closing quote.
func sdValue(s string) (v string, n int, ok bool) {
	esc := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			esc = true
			i++
		case '"':
			if !esc {
				return s[:i], i + 1, true
			}
			var b strings.Builder
			b.Grow(i)
			for k := 0; k < i; k++ {
				if s[k] == '\\' && k+1 < i && (s[k+1] == '"' || s[k+1] == '\\' || s[k+1] == ']') {
					k++
				}
				b.WriteByte(s[k])
			}
			return b.String(), i + 1, true
		}
	}
	return "", 0, false
}
