package dbnorm

import "strings"

// Actions of database events (the "event.action" field).
const (
	// ActionConnect is a connection before (or without) its login's
	// outcome: PostgreSQL's "connection received" and "connection
	// authenticated".
	ActionConnect = "connect"
	ActionLogin   = "login"
	ActionLogout  = "logout"
	ActionQuery   = "query"
	ActionDDL     = "ddl"
	ActionDCL     = "dcl"
	ActionExport  = "export"
	ActionError   = "error"
)

// Classify returns the operation of a SQL statement, upper case (the verb,
// and for CREATE/ALTER/DROP/SET the object: "CREATE ROLE", "DROP TABLE",
// "SET PASSWORD"), and the event.action it stands for: "ddl" for schema
// changes, "dcl" for grants and role or password changes, "export" for
// COPY ... TO and SELECT ... INTO OUTFILE/DUMPFILE, "query" otherwise.
// Leading comments, parentheses and spaces are skipped, so that comment
// tricks do not hide the verb. An empty or unrecognisable statement gives
// ("", "query").
func Classify(stmt string) (op, action string) {
	s := scanner{s: stmt}
	verb := s.word()
	switch verb {
	case "":
		return "", ActionQuery
	case "CREATE", "ALTER", "DROP":
		obj := s.object(verb)
		op = verb + " " + obj
		switch obj {
		case "ROLE", "USER", "GROUP":
			return op, ActionDCL
		case "":
			return verb, ActionDDL
		}
		if verb == "ALTER" && obj == "DEFAULT PRIVILEGES" {
			return op, ActionDCL
		}
		return op, ActionDDL
	case "GRANT", "REVOKE":
		return verb, ActionDCL
	case "RENAME":
		if w := s.word(); w == "USER" {
			return "RENAME USER", ActionDCL
		}
		return "RENAME", ActionDDL
	case "TRUNCATE", "COMMENT", "REINDEX", "CLUSTER":
		return verb, ActionDDL
	case "SET":
		switch w := s.word(); w {
		case "PASSWORD", "ROLE":
			return "SET " + w, ActionDCL
		case "DEFAULT":
			if s.word() == "ROLE" {
				return "SET DEFAULT ROLE", ActionDCL
			}
		}
		return "SET", ActionQuery
	case "COPY":
		if copyTo(stmt) {
			return verb, ActionExport
		}
		return verb, ActionQuery
	case "WITH":
		verb = s.mainVerb()
		if verb == "" {
			return "WITH", ActionQuery
		}
		fallthrough
	case "SELECT":
		if hasWordFold(stmt, "OUTFILE") || hasWordFold(stmt, "DUMPFILE") {
			return verb, ActionExport
		}
		return verb, ActionQuery
	}
	return verb, ActionQuery
}

// objectWords are the words that may precede the object type after
// CREATE/ALTER/DROP ("CREATE OR REPLACE TEMPORARY VIEW").
var objectSkip = map[string]bool{
	"OR": true, "REPLACE": true, "TEMP": true, "TEMPORARY": true, "UNIQUE": true,
	"GLOBAL": true, "LOCAL": true, "UNLOGGED": true, "DEFINER": true, "ALGORITHM": true,
	"SQL": true, "SECURITY": true, "INVOKER": true, "CONCURRENTLY": true, "AGGREGATE": false,
	"ONLINE": true, "OFFLINE": true, "IGNORE": true, "RECURSIVE": true, "TRUSTED": true,
	"PROCEDURAL": true, "MATERIALIZED": false, "FOREIGN": false, "DEFAULT": false,
	"IF": true, "NOT": true, "EXISTS": true,
}

// twoWordObjects are object types of two words.
var twoWordObjects = map[string]bool{
	"MATERIALIZED": true, // VIEW
	"FOREIGN":      true, // TABLE, DATA WRAPPER
	"DEFAULT":      true, // PRIVILEGES
	"EVENT":        true, // TRIGGER (pg); EVENT alone in MySQL
	"TEXT":         true, // SEARCH ...
	"USER":         true, // MAPPING
	"ACCESS":       true, // METHOD
}

func (s *scanner) object(verb string) string {
	for {
		w := s.word()
		switch {
		case w == "":
			return ""
		case w == "DEFINER":
			s.skipDefiner() // MySQL DEFINER = `user`@`host`
			continue
		case w == "=":
			s.word() // ALGORITHM = MERGE, SQL SECURITY = ...
			continue
		case objectSkip[w]:
			continue
		case twoWordObjects[w]:
			save := s.i
			n := s.word()
			switch w + " " + n {
			case "MATERIALIZED VIEW", "FOREIGN TABLE", "DEFAULT PRIVILEGES", "EVENT TRIGGER",
				"USER MAPPING", "ACCESS METHOD", "FOREIGN DATA", "TEXT SEARCH":
				return w + " " + n
			}
			s.i = save
			return w
		}
		return w
	}
}

// skipDefiner passes "= user@host" after DEFINER, quotes included.
func (s *scanner) skipDefiner() {
	s.skip()
	if s.i < len(s.s) && s.s[s.i] == '=' {
		s.i++
	}
	for s.i < len(s.s) && (s.s[s.i] == ' ' || s.s[s.i] == '\t') {
		s.i++
	}
	for s.i < len(s.s) {
		c := s.s[s.i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			s.skipQuoted(c)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return
		default:
			s.i++
		}
	}
}

// mainVerb finds the statement verb after a WITH clause: the first
// SELECT/INSERT/UPDATE/DELETE/MERGE outside parentheses.
func (s *scanner) mainVerb() string {
	depth := 0
	for s.i < len(s.s) {
		c := s.s[s.i]
		switch {
		case c == '(':
			depth++
			s.i++
		case c == ')':
			depth--
			s.i++
		case c == '\'' || c == '"' || c == '`':
			s.skipQuoted(c)
		case isWordByte(c):
			start := s.i
			for s.i < len(s.s) && isWordByte(s.s[s.i]) {
				s.i++
			}
			if depth == 0 {
				switch w := strings.ToUpper(s.s[start:s.i]); w {
				case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE":
					return w
				}
			}
		default:
			s.i++
		}
	}
	return ""
}

// copyTo reports whether a COPY statement writes out (COPY ... TO), as
// opposed to loading (COPY ... FROM).
func copyTo(stmt string) bool {
	s := scanner{s: stmt}
	s.word() // COPY
	depth := 0
	for s.i < len(s.s) {
		c := s.s[s.i]
		switch {
		case c == '(':
			depth++
			s.i++
		case c == ')':
			depth--
			s.i++
		case c == '\'' || c == '"':
			s.skipQuoted(c)
		case isWordByte(c):
			start := s.i
			for s.i < len(s.s) && isWordByte(s.s[s.i]) {
				s.i++
			}
			if depth == 0 {
				switch w := s.s[start:s.i]; {
				case strings.EqualFold(w, "TO"):
					return true
				case strings.EqualFold(w, "FROM"):
					return false
				}
			}
		default:
			s.i++
		}
	}
	return false
}

// scanner reads SQL words, skipping spaces, comments and parentheses.
type scanner struct {
	s string
	i int
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// skip passes spaces, comments, opening parentheses and semicolons.
func (s *scanner) skip() {
	for s.i < len(s.s) {
		c := s.s[s.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ';' || c == '\f':
			s.i++
		case c == '-' && s.i+1 < len(s.s) && s.s[s.i+1] == '-', c == '#':
			for s.i < len(s.s) && s.s[s.i] != '\n' {
				s.i++
			}
		case c == '/' && s.i+1 < len(s.s) && s.s[s.i+1] == '*':
			end := strings.Index(s.s[s.i+2:], "*/")
			if end < 0 {
				s.i = len(s.s)
				return
			}
			// MySQL executable comments /*! ... */ hold real SQL.
			if s.i+2 < len(s.s) && s.s[s.i+2] == '!' {
				s.i += 3
				for s.i < len(s.s) && s.s[s.i] >= '0' && s.s[s.i] <= '9' {
					s.i++
				}
				continue
			}
			s.i += 2 + end + 2
		default:
			return
		}
	}
}

// word returns the next word upper-cased, or a single other character.
func (s *scanner) word() string {
	s.skip()
	if s.i >= len(s.s) {
		return ""
	}
	start := s.i
	if !isWordByte(s.s[s.i]) {
		s.i++
		return s.s[start:s.i]
	}
	for s.i < len(s.s) && isWordByte(s.s[s.i]) {
		s.i++
	}
	return upper(s.s[start:s.i])
}

func (s *scanner) skipQuoted(q byte) {
	s.i++
	for s.i < len(s.s) {
		c := s.s[s.i]
		s.i++
		if c == '\\' && q != '"' {
			s.i++
			continue
		}
		if c == q {
			if s.i < len(s.s) && s.s[s.i] == q {
				s.i++
				continue
			}
			return
		}
	}
}

// upper upper-cases ASCII without allocating when s is already upper case.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}

// hasWordFold reports whether s holds word (upper case ASCII) as a whole word,
// ignoring case.
func hasWordFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if !equalFoldAt(s, i, word) {
			continue
		}
		if (i == 0 || !isWordByte(s[i-1])) && (i+len(word) == len(s) || !isWordByte(s[i+len(word)])) {
			return true
		}
	}
	return false
}

// equalFoldAt reports whether s[i:] starts with word (upper case ASCII),
// ignoring case.
func equalFoldAt(s string, i int, word string) bool {
	if i+len(word) > len(s) {
		return false
	}
	for j := 0; j < len(word); j++ {
		c := s[i+j]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != word[j] {
			return false
		}
	}
	return true
}
