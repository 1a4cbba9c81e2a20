package postgres

import (
	"fmt"
	"strconv"

	"github.com/danang-soc/vigil/collectors/dbnorm"
	"github.com/danang-soc/vigil/event"
)

// audit is one pgaudit record:
// AUDIT_TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,OBJECT_TYPE,OBJECT_NAME,STATEMENT,PARAMETER[,ROWS]
type audit struct {
	kind, statementID, substatementID, class, command, objectType, objectName, statement, parameters, rows string
}

// parseAudit reads the text after "AUDIT: ".
func parseAudit(s string) (audit, error) {
	var cols [10]string
	n := 0
	for i := 0; n < len(cols); n++ {
		v, next, err := csvField(s, i)
		if err != nil {
			return audit{}, fmt.Errorf("pgaudit field %d: %w", n+1, err)
		}
		cols[n] = v
		if next >= len(s) {
			n++
			break
		}
		i = next + 1 // past the comma
	}
	if n < 9 {
		return audit{}, fmt.Errorf("pgaudit record has %d fields, want 9 or 10", n)
	}
	a := audit{cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9]}
	if a.kind != "SESSION" && a.kind != "OBJECT" {
		return audit{}, fmt.Errorf("pgaudit audit type %q is neither SESSION nor OBJECT", a.kind)
	}
	if _, err := strconv.Atoi(a.statementID); err != nil {
		return audit{}, fmt.Errorf("pgaudit statement id %q is not a number", a.statementID)
	}
	if _, err := strconv.Atoi(a.substatementID); err != nil {
		return audit{}, fmt.Errorf("pgaudit substatement id %q is not a number", a.substatementID)
	}
	return a, nil
}

// csvField reads one CSV field of s starting at i, with "" escapes. It
// returns the field and the index of the comma after it (len(s) at the end).
func csvField(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		var b []byte
		start := i + 1
		for j := start; j < len(s); j++ {
			if s[j] != '"' {
				continue
			}
			if j+1 < len(s) && s[j+1] == '"' {
				b = append(b, s[start:j+1]...)
				j++
				start = j + 1
				continue
			}
			if j+1 < len(s) && s[j+1] != ',' {
				return "", 0, fmt.Errorf("unexpected %q after a closing quote", s[j+1])
			}
			if b == nil {
				return s[start:j], j + 1, nil
			}
			return string(append(b, s[start:j]...)), j + 1, nil
		}
		return "", 0, fmt.Errorf("unterminated quoted field")
	}
	for j := i; j < len(s); j++ {
		if s[j] == ',' {
			return s[i:j], j, nil
		}
	}
	return s[i:], len(s), nil
}

// fill adds the pgaudit fields and returns the event action.
func (a audit) fill(f *event.Fields) string {
	add := func(k, v string) {
		if v != "" {
			*f = append(*f, event.Field{Key: k, Value: event.String(v)})
		}
	}
	add("pgaudit.audit_type", a.kind)
	*f = append(*f,
		event.Field{Key: "pgaudit.statement_id", Value: event.Number(a.statementID)},
		event.Field{Key: "pgaudit.substatement_id", Value: event.Number(a.substatementID)})
	add("pgaudit.class", a.class)
	add("pgaudit.command", a.command)
	add("pgaudit.object_type", a.objectType)
	add("pgaudit.object_name", a.objectName)
	if a.parameters != "<none>" && a.parameters != "<not logged>" {
		add("pgaudit.parameters", dbnorm.MaskPasswords(a.parameters))
	}
	if a.rows != "" {
		*f = append(*f, event.Field{Key: "pgaudit.rows", Value: event.Number(a.rows)},
			event.Field{Key: "db.response.rows", Value: event.Number(a.rows)})
	}
	if a.substatementID != "1" {
		*f = append(*f, event.Field{Key: "vigil.substatement", Value: event.Bool(true)})
	}
	switch a.class {
	case "ROLE":
		return dbnorm.ActionDCL
	case "DDL":
		return dbnorm.ActionDDL
	}
	return ""
}
