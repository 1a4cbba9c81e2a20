package event

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Reserved keys of the JSON form of an event. On input they fill the
// event's typed parts instead of its fields; on output they are written
// first.
const (
	KeyID       = "event.id"
	KeyTime     = "@timestamp"
	KeyReceived = "event.ingested"
	KeyOriginal = "event.original"
	KeyProduct  = "logsource.product"
	KeyCategory = "logsource.category"
	KeyService  = "logsource.service"
)

// maxDepth bounds the nesting of JSON input, so that hostile input cannot
// exhaust the stack.
const maxDepth = 64

// SyntaxError is a JSON input that is not a valid event.
type SyntaxError struct {
	Offset int // byte offset in the input
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// ErrNotObject is returned for JSON input that is valid but not an object.
var ErrNotObject = errors.New("event must be a JSON object")

// UnmarshalJSON decodes one JSON object into e; see DecodeJSON.
func (e *Event) UnmarshalJSON(b []byte) error {
	ev, err := DecodeJSON(b)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// DecodeJSON decodes one JSON object, nested or flat, into an event. Nested
// objects become dotted keys ("db": {"user": "x"} is "db.user"); arrays of
// scalars become lists; objects inside arrays are flattened under the
// array's key with their values gathered into lists. The reserved keys
// (KeyID, KeyTime, ...) fill the event's typed parts; a reserved value that
// does not parse is kept as an ordinary field so that nothing is lost.
func DecodeJSON(b []byte) (Event, error) { return DecodeJSONKeys(b, nil) }

// DecodeJSONKeys is DecodeJSON keeping only the fields whose flat key
// (as Fields names it: "db.user", "@timestamp") keep accepts; nil keeps
// every field. The input is checked whole all the same. A search that
// tests a query on many stored events decodes only what the query reads.
func DecodeJSONKeys(b []byte, keep func(key string) bool) (Event, error) {
	// One copy of the input backs every key and value that needs no
	// unescaping: substrings of it cost no allocation.
	d := decoder{buf: b, src: string(b), keep: keep}
	var ev Event
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return ev, &SyntaxError{d.pos, "empty input"}
	}
	if d.buf[d.pos] != '{' {
		if err := d.skipValue(0); err != nil {
			return ev, err
		}
		return ev, ErrNotObject
	}
	fields := make(Fields, 0, 16)
	d.fields = &fields
	if err := d.object("", 0); err != nil {
		return ev, err
	}
	d.skipSpace()
	if d.pos != len(d.buf) {
		return ev, &SyntaxError{d.pos, "unexpected data after the object"}
	}
	// Lift the reserved keys out of the fields.
	out := fields[:0]
	for _, f := range fields {
		if f.Value.Kind == KindString && ev.lift(f.Key, f.Value.Str) {
			continue
		}
		out = append(out, f)
	}
	ev.Fields = out
	return ev, nil
}

func (e *Event) lift(key, s string) bool {
	switch key {
	case KeyID:
		id, err := ParseID(s)
		if err != nil {
			return false
		}
		e.ID = id
	case KeyTime:
		t, err := parseTime(s)
		if err != nil {
			return false
		}
		e.Time = t
	case KeyReceived:
		t, err := parseTime(s)
		if err != nil {
			return false
		}
		e.Received = t
	case KeyOriginal:
		e.Raw = s
	case KeyProduct:
		e.Source.Product = s
	case KeyCategory:
		e.Source.Category = s
	case KeyService:
		e.Source.Service = s
	default:
		return false
	}
	return true
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	// Tolerate a space for the T, as many logs write it.
	if len(s) > 10 && s[10] == ' ' {
		b := []byte(s)
		b[10] = 'T'
		if t, err2 := time.Parse(time.RFC3339Nano, string(b)); err2 == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

type decoder struct {
	buf    []byte
	src    string // the same bytes as buf, as a string
	pos    int
	fields *Fields
	inList bool // inside an array: values are added, not set
	keep   func(key string) bool
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) errf(format string, args ...any) error {
	return &SyntaxError{d.pos, fmt.Sprintf(format, args...)}
}

func (d *decoder) put(key string, v Value) {
	if d.keep != nil && !d.keep(key) {
		return
	}
	if d.inList {
		d.fields.Add(key, v)
		return
	}
	// Duplicate keys: last one wins, as in most JSON decoders.
	d.fields.Set(key, v)
}

func (d *decoder) object(prefix string, depth int) error {
	if depth >= maxDepth {
		return d.errf("nesting deeper than %d", maxDepth)
	}
	d.pos++ // '{'
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
			return d.errf("expected a string key")
		}
		k, err := d.str()
		if err != nil {
			return err
		}
		if prefix != "" {
			k = prefix + "." + k
		}
		d.skipSpace()
		if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
			return d.errf("expected ':' after key %q", k)
		}
		d.pos++
		if err := d.value(k, depth+1); err != nil {
			return err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return d.errf("unterminated object")
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.errf("expected ',' or '}' after the value of %q", k)
		}
	}
}

func (d *decoder) value(key string, depth int) error {
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return d.errf("expected a value for %q", key)
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.object(key, depth)
	case c == '[':
		return d.array(key, depth)
	case c == '"':
		s, err := d.str()
		if err != nil {
			return err
		}
		d.put(key, String(s))
	case c == 't':
		if err := d.lit("true"); err != nil {
			return err
		}
		d.put(key, Bool(true))
	case c == 'f':
		if err := d.lit("false"); err != nil {
			return err
		}
		d.put(key, Bool(false))
	case c == 'n':
		if err := d.lit("null"); err != nil {
			return err
		}
		d.put(key, Null())
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := d.num()
		if err != nil {
			return err
		}
		d.put(key, Number(n))
	default:
		return d.errf("unexpected character %q in the value of %q", c, key)
	}
	return nil
}

func (d *decoder) array(key string, depth int) error {
	if depth >= maxDepth {
		return d.errf("nesting deeper than %d", maxDepth)
	}
	d.pos++ // '['
	outer := d.inList
	d.inList = true
	defer func() { d.inList = outer }()
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		// An empty array is an empty list, so that the key still exists.
		if !outer && d.fields.Index(key) < 0 && (d.keep == nil || d.keep(key)) {
			d.fields.Set(key, List())
		}
		return nil
	}
	for {
		if err := d.value(key, depth+1); err != nil {
			return err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return d.errf("unterminated array")
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.errf("expected ',' or ']' in the array %q", key)
		}
	}
}

func (d *decoder) lit(word string) error {
	if len(d.buf)-d.pos < len(word) || string(d.buf[d.pos:d.pos+len(word)]) != word {
		return d.errf("invalid literal")
	}
	d.pos += len(word)
	return nil
}

func (d *decoder) num() (string, error) {
	start := d.pos
	if d.buf[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if d.pos < len(d.buf) && d.buf[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return "", d.errf("invalid number")
	}
	if d.pos < len(d.buf) && d.buf[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return "", d.errf("invalid number")
		}
	}
	if d.pos < len(d.buf) && (d.buf[d.pos] == 'e' || d.buf[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.buf) && (d.buf[d.pos] == '+' || d.buf[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return "", d.errf("invalid number")
		}
	}
	if d.src != "" {
		return d.src[start:d.pos], nil
	}
	return string(d.buf[start:d.pos]), nil
}

// str reads a JSON string at d.pos (on the opening quote).
func (d *decoder) str() (string, error) {
	d.pos++
	start := d.pos
	// Fast path: no escapes, valid UTF-8.
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		if c == '"' {
			s := d.buf[start:d.pos]
			d.pos++
			if !utf8.Valid(s) {
				return string([]rune(string(s))), nil // replace invalid bytes with U+FFFD
			}
			if d.src != "" {
				return d.src[start : d.pos-1], nil
			}
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.errf("control character in string")
		}
		d.pos++
	}
	b := append([]byte(nil), d.buf[start:d.pos]...)
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(b) {
				return string([]rune(string(b))), nil
			}
			return string(b), nil
		case c < 0x20:
			return "", d.errf("control character in string")
		case c != '\\':
			b = append(b, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.buf) {
			break
		}
		e := d.buf[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if d.pos+1 < len(d.buf) && d.buf[d.pos] == '\\' && d.buf[d.pos+1] == 'u' {
					save := d.pos
					d.pos += 2
					if lo, ok := d.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
						if r2 == utf8.RuneError {
							d.pos = save
						}
					} else {
						d.pos = save
					}
				}
				r = r2
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", d.errf("invalid escape '\\%c'", e)
		}
	}
	return "", d.errf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.buf)-d.pos < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d.buf[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	d.pos += 4
	return rune(v), true
}

// skipValue validates and skips any JSON value (used for non-object input).
func (d *decoder) skipValue(depth int) error {
	var scratch Fields
	d.fields = &scratch
	return d.value("", depth)
}

// MarshalJSON encodes e as one flat JSON object; see AppendJSON.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// AppendJSON appends the flat JSON form of e: the reserved keys first, then
// the fields in order with dotted keys. DecodeJSON reads it back unchanged.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, k)
		dst = append(dst, ':')
	}
	if !e.ID.IsZero() {
		key(KeyID)
		dst = append(dst, '"')
		dst = e.ID.appendText(dst)
		dst = append(dst, '"')
	}
	if !e.Time.IsZero() {
		key(KeyTime)
		dst = append(dst, '"')
		dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if !e.Received.IsZero() {
		key(KeyReceived)
		dst = append(dst, '"')
		dst = e.Received.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	for _, kv := range [...]struct{ k, v string }{
		{KeyProduct, e.Source.Product}, {KeyCategory, e.Source.Category}, {KeyService, e.Source.Service},
	} {
		if kv.v != "" {
			key(kv.k)
			dst = appendString(dst, kv.v)
		}
	}
	for _, f := range e.Fields {
		key(f.Key)
		dst = appendValue(dst, f.Value)
	}
	if e.Raw != "" {
		key(KeyOriginal)
		dst = appendString(dst, e.Raw)
	}
	return append(dst, '}')
}

// AppendValue appends the JSON form of v.
func AppendValue(dst []byte, v Value) []byte { return appendValue(dst, v) }

func appendValue(dst []byte, v Value) []byte {
	switch v.Kind {
	case KindString:
		return appendString(dst, v.Str)
	case KindNumber:
		if ValidNumber(v.Str) {
			return append(dst, v.Str...)
		}
		return appendString(dst, v.Str)
	case KindBool:
		if v.Str == "true" {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindNull:
		return append(dst, "null"...)
	case KindList:
		dst = append(dst, '[')
		for i, e := range v.List {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

// ValidNumber reports whether s is a JSON number,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?: the text of a number
// Value that AppendJSON writes as a number, not as a string.
func ValidNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
