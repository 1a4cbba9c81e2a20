// Package stmttext prepares the text of a captured SQL statement for the
// events of the wire decoders (pgwire, mysqlwire): passwords masked, and a
// one-line form for the event message.
//
// Concurrency: the functions keep no state.
package stmttext

import (
	"strings"
	"unicode/utf8"

	"github.com/danang-soc/vigil/collectors/dbnorm"
)

// Mask returns the statement as events carry it: trimmed, valid UTF-8, its
// passwords masked.
func Mask(q string) string {
	q = strings.TrimSpace(q)
	if !utf8.ValidString(q) {
		q = strings.ToValidUTF8(q, "\uFFFD")
	}
	return dbnorm.MaskPasswords(q)
}

// maxMessage is the most bytes of a statement that a message shows.
const maxMessage = 200

// Message returns a masked statement as the message of its event: cut short,
// on one line, runs of white space made one space.
func Message(masked string) string {
	q := masked
	if len(q) > maxMessage {
		q = q[:maxMessage] + "..."
	}
	if oneLine(q) {
		return q // the common case, without a copy
	}
	return strings.Join(strings.Fields(q), " ")
}

// oneLine reports whether q is ASCII already in the form that Message gives:
// no white space but single spaces between words.
func oneLine(q string) bool {
	prev := byte(' ') // no space at the start
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c >= utf8.RuneSelf:
			return false // Unicode white space is for strings.Fields
		case c == ' ':
			if prev == ' ' {
				return false
			}
		case c <= '\r' && c >= '\t':
			return false
		}
		prev = c
	}
	return prev != ' ' || len(q) == 0
}
