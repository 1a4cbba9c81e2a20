package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/danang-soc/vigil/event"
)

// parseFlatJSON reads one flat JSON object (string, number, boolean and
// null values: what jsonlog writes) into fields. Values share s's memory
// unless they hold escapes. Nested objects and arrays are an error: the
// caller falls back to event.DecodeJSON for them.
func parseFlatJSON(s string, f event.Fields) (event.Fields, error) {
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		return f, fmt.Errorf("offset %d: want '{'", i)
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return f, trailing(s, i+1)
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return f, fmt.Errorf("offset %d: want a key", i)
		}
		key, next, err := jsonString(s, i)
		if err != nil {
			return f, err
		}
		i = skipWS(s, next)
		if i >= len(s) || s[i] != ':' {
			return f, fmt.Errorf("offset %d: want ':' after key %q", i, key)
		}
		i = skipWS(s, i+1)
		if i >= len(s) {
			return f, fmt.Errorf("offset %d: value of %q is missing", i, key)
		}
		var v event.Value
		switch c := s[i]; {
		case c == '"':
			str, next, err := jsonString(s, i)
			if err != nil {
				return f, fmt.Errorf("field %s: %w", key, err)
			}
			v, i = event.String(str), next
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' || s[j] == '-') {
				j++
			}
			if !event.ValidNumber(s[i:j]) {
				return f, fmt.Errorf("field %s: offset %d: bad number %q", key, i, s[i:j])
			}
			v, i = event.Number(s[i:j]), j
		case strings.HasPrefix(s[i:], "true"):
			v, i = event.Bool(true), i+4
		case strings.HasPrefix(s[i:], "false"):
			v, i = event.Bool(false), i+5
		case strings.HasPrefix(s[i:], "null"):
			v, i = event.Null(), i+4
		default:
			return f, fmt.Errorf("field %s: offset %d: unsupported value", key, i)
		}
		if f.Index(key) >= 0 {
			return f, fmt.Errorf("field %s: offset %d: duplicate key", key, i)
		}
		f = append(f, event.Field{Key: key, Value: v})
		i = skipWS(s, i)
		if i < len(s) && s[i] == ',' {
			i = skipWS(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			return f, trailing(s, i+1)
		}
		return f, fmt.Errorf("offset %d: want ',' or '}'", i)
	}
}

func trailing(s string, i int) error {
	if i = skipWS(s, i); i != len(s) {
		return fmt.Errorf("offset %d: data after the object", i)
	}
	return nil
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

// jsonString reads the string starting at the quote s[i]; it returns the
// value and the index after the closing quote.
func jsonString(s string, i int) (string, int, error) {
	start := i + 1
	ascii := true
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			if !ascii && !utf8.ValidString(s[start:j]) {
				return "", 0, errInvalidUTF8
			}
			return s[start:j], j + 1, nil
		case c >= 0x80:
			ascii = false
		case c == '\\':
			return unescape(s, start, j)
		case c < 0x20:
			return "", 0, fmt.Errorf("offset %d: control character in string", j)
		}
	}
	return "", 0, fmt.Errorf("offset %d: unterminated string", i)
}

// errInvalidUTF8 sends a line to event.DecodeJSON, which repairs it the
// kernel's way.
var errInvalidUTF8 = errors.New("invalid UTF-8 in a string")

// unescape finishes a string with escapes; s[start:j] has none.
func unescape(s string, start, j int) (string, int, error) {
	b := make([]byte, 0, len(s)-start)
	b = append(b, s[start:j]...)
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			if !utf8.Valid(b) {
				return "", 0, errInvalidUTF8
			}
			return string(b), j + 1, nil
		case c < 0x20:
			return "", 0, fmt.Errorf("offset %d: control character in string", j)
		case c != '\\':
			b = append(b, c)
			j++
			continue
		}
		if j+1 >= len(s) {
			break
		}
		switch e := s[j+1]; e {
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
			r, ok := hex4(s, j+2)
			if !ok {
				return "", 0, fmt.Errorf("offset %d: bad \\u escape", j)
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, j+2); ok && j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b = utf8.AppendRune(b, d)
						j += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", 0, fmt.Errorf("offset %d: bad escape \\%c", j, e)
		}
		j += 2
	}
	return "", 0, fmt.Errorf("offset %d: unterminated string", start-1)
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 32)
	return rune(n), err == nil
}
