package store

import (
	"strings"
	"unicode"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
)

// Searches test every event they read with the compiled query
// (internal/query/match). The store only chooses which blocks to read: by
// the time range the query and the caller allow (match.Matcher.TimeBounds),
// and by the full-text index of message and db.statement (ftsExpr), whose
// expressions hold the user's words as quoted strings of a bound
// parameter, never SQL.

// textFields maps the text fields to their full-text columns.
var textFields = map[string]string{
	event.FieldMessage: "message",
	FieldStatement:     "statement",
}

// ftsExpr is the FTS5 expression of a term on a text field, when the term
// is one FTS5 can answer: a word, a phrase, or a prefix.
func ftsExpr(n query.Node) (string, bool) {
	term, ok := n.(*query.Term)
	if !ok {
		return "", false
	}
	col, text := "", term.Field == ""
	if !text {
		col, text = textFields[term.Field]
	}
	if !text {
		return "", false
	}
	value, prefix := term.Value, false
	if term.Wildcard {
		parts := query.SplitPattern(term.Value)
		if len(parts) != 2 || parts[0].Literal == "" || !parts[1].Any {
			return "", false
		}
		value, prefix = parts[0].Literal, true
	}
	if strings.IndexFunc(value, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
		return "", false // no word in it: FTS5 would see an empty phrase
	}
	// FTS5 reads its query as a C string: a NUL would end it early.
	value = strings.ReplaceAll(foldText(value), "\x00", " ")
	expr := `"` + strings.ReplaceAll(value, `"`, `""`) + `"`
	if prefix {
		expr += " *"
	}
	if col != "" {
		expr = col + " : " + expr
	}
	return expr, true
}
