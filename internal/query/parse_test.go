package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "*"},
		{"   ", "*"},
		{"*", "*"},
		{"failed", "failed"},
		{"failed login", "(failed AND login)"},
		{`"permission denied"`, `"permission denied"`},
		{"user.name:postgres", "user.name:postgres"},
		{"user.name : postgres", "user.name:postgres"},
		{`db.statement:"DROP TABLE users"`, `db.statement:"DROP TABLE users"`},
		{"host.name:db-*", "host.name:db-*"},
		{"user.name:?dm*", "user.name:?dm*"},
		{`path:C\:\\temp\*`, `path:C\:\\temp\*`},
		{`path:C\:\\te?p`, `path:C\:\\te?p`},
		{"source.ip:*", "source.ip:*"},
		{"a AND b", "(a AND b)"},
		{"a and b or c", "((a AND b) OR c)"},
		{"a OR b AND c", "(a OR (b AND c))"},
		{"a && b || c", "((a AND b) OR c)"},
		{"NOT a", "NOT a"},
		{"not a b", "(NOT a AND b)"},
		{"-a b", "(NOT a AND b)"},
		{"+a -b", "(a AND NOT b)"},
		{"(a OR b) AND c", "((a OR b) AND c)"},
		{"NOT (a OR b)", "NOT (a OR b)"},
		{"user.name:(alice OR bob)", "(user.name:alice OR user.name:bob)"},
		{`user.name:(alice "bob smith" NOT eve*)`, `(user.name:alice AND user.name:"bob smith" AND NOT user.name:eve*)`},
		{"@timestamp:[2026-01-01 TO 2026-02-01]", `@timestamp:["2026-01-01" TO "2026-02-01"]`},
		{"@timestamp:[2026-01-01T10:00:00Z to *}", `@timestamp:["2026-01-01T10:00:00Z" TO *}`},
		{"n:{1 TO 5]", `n:{"1" TO "5"]`},
		{"db.response.rows >= 1000", `db.response.rows:["1000" TO *}`},
		{"db.response.rows:>1000", `db.response.rows:{"1000" TO *}`},
		{"n<5", `n:{* TO "5"}`},
		{"n <= 5 AND m > 2", `(n:{* TO "5"] AND m:{"2" TO *})`},
		{`@timestamp >= "2026-01-01 10:00"`, `@timestamp:["2026-01-01 10:00" TO *}`},
		{"and:1", `\and:1`},
		{`\AND`, `\AND`},
		{`x:AND`, `x:\AND`},
		{`x:-5`, `x:\-5`},
		{"tiếng việt", "(tiếng AND việt)"},
		{`""`, `""`},
		{`x:""`, `x:""`},
		{`"a \"b\" c\\"`, `"a \"b\" c\\"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := n.String(); got != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
			again, err := Parse(n.String())
			if err != nil {
				t.Fatalf("reparsing %q: %v", n.String(), err)
			}
			if diff := cmp.Diff(n.String(), again.String()); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
		})
	}
}

func TestParseTree(t *testing.T) {
	n, err := Parse(`host.name:db01 AND (msg*  OR NOT @timestamp:[a TO b})`)
	if err != nil {
		t.Fatal(err)
	}
	want := &And{Offset: 0, Nodes: []Node{
		&Term{Offset: 0, Field: "host.name", Value: "db01"},
		&Or{Offset: 20, Nodes: []Node{
			&Term{Offset: 20, Value: "msg*", Wildcard: true},
			&Not{Offset: 29, Node: &Range{Offset: 33, Field: "@timestamp", Low: "a", High: "b", IncludeLow: true}},
		}},
	}}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		column int
		msg    string
	}{
		{"(a OR b", 1, `this "(" is never closed`},
		{"a OR b)", 7, `unexpected ')' with no matching "("`},
		{`user:"bob`, 6, "this quote is never closed"},
		{"a AND", 6, "expected a term at the end of the query"},
		{"OR a", 1, "OR needs a term before it"},
		{"a AND OR b", 7, "OR needs a term before it"},
		{"[1 TO 2]", 1, "a range needs a field, as in @timestamp:[2026-01-01 TO 2026-02-01]"},
		{"n:[1 2]", 6, "expected TO in the range, as in [2026-01-01 TO 2026-02-01]"},
		{"n:[1 TO 2", 3, `this range is never closed with "]" or "}"`},
		{"user:", 6, "expected a value after user:"},
		{`a\`, 2, "a backslash at the end escapes nothing"},
		{"()", 1, "empty parentheses"},
		{"x:(a y:b)", 6, "a field inside x:( ) takes values, not other fields"},
		{"n > *", 5, "a comparison with * is always true; use n:* to test that the field exists"},
		{"ừ OR (", 7, "expected a term at the end of the query"},
		{"us*r:x", 1, "wildcards in field names are not supported"},
		{":x", 1, `expected a field name before ":"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) error = %v, want a *query.Error", tt.in, err)
			}
			if qe.Column != tt.column || qe.Msg != tt.msg {
				t.Errorf("Parse(%q) = column %d %q, want column %d %q", tt.in, qe.Column, qe.Msg, tt.column, tt.msg)
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	deep := ""
	for range MaxDepth {
		deep += "("
	}
	many := ""
	for range MaxTerms + 1 {
		many += "a "
	}
	long := make([]byte, MaxLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, in := range map[string]string{"deep": deep + "a", "many": many, "long": string(long)} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%s) succeeded, want an error", name)
		}
	}
}

func TestSplitPattern(t *testing.T) {
	got := SplitPattern(`a\*b*c?\\`)
	want := []PatternPart{{Literal: "a*b"}, {Any: true}, {Literal: "c"}, {One: true}, {Literal: `\`}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SplitPattern (-want +got):\n%s", diff)
	}
}

func TestFields(t *testing.T) {
	n, err := Parse(`a:1 b:[1 TO 2] free c:* a:2`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "", "c"}, Fields(n)); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`host.name:db01 AND "password authentication failed"`,
		`user.name:(alice OR bob) -event.outcome:success`,
		`@timestamp:[2026-01-01 TO 2026-02-01} db.response.rows >= 1000`,
		`db.statement:*pg_shadow* OR (NOT source.ip:10.* && x:\"y\\)`,
		`tiếng việt "đăng nhập thất bại" n:{* TO 5]`,
		`a:"" b:* ( c ) NOT NOT d || e`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) error %v is not a *query.Error", s, err)
			}
			if qe.Offset < 0 || qe.Offset > len(s) {
				t.Fatalf("Parse(%q) error offset %d outside the query", s, qe.Offset)
			}
			return
		}
		canon := n.String()
		again, err := Parse(canon)
		if err != nil {
			var qe *Error
			if errors.As(err, &qe) && (len(canon) > MaxLen || strings.HasPrefix(qe.Msg, "query nests deeper")) {
				return // escaping and parentheses can take the canonical form over a bound
			}
			t.Fatalf("Parse(%q) = %s, which does not parse: %v", s, canon, err)
		}
		if got := again.String(); got != canon {
			t.Fatalf("Parse(%q): canonical form %s reparses as %s", s, canon, got)
		}
	})
}
