package stmttext

import (
	"strings"
	"testing"
)

// reference is Message without its fast path.
func reference(q string) string {
	if len(q) > maxMessage {
		q = q[:maxMessage] + "..."
	}
	return strings.Join(strings.Fields(q), " ")
}

var samples = []string{
	"", " ", "SELECT 1", "SELECT  1", " SELECT 1", "SELECT 1 ", "SELECT\t1", "SELECT\n1", "SELECT\r\n1",
	"SELECT\v1", "SELECT\f1", "SELECT\u00a01", "SELECT\u00851", "SELECT\u20281", "SELECT 'é'", "SELECT \xff",
	"a", "a b", "a\x00b", "a\x1fb", strings.Repeat("x", 199) + " y", strings.Repeat("x ", 150), strings.Repeat("é", 150),
}

func TestMessage(t *testing.T) {
	for _, q := range samples {
		if got, want := Message(q), reference(q); got != want {
			t.Errorf("Message(%q) = %q, want %q", q, got, want)
		}
	}
}

func FuzzMessage(f *testing.F) {
	for _, q := range samples {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if got, want := Message(q), reference(q); got != want {
			t.Errorf("Message(%q) = %q, want %q", q, got, want)
		}
	})
}

func TestMask(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"  SELECT 1\n", "SELECT 1"},
		{"SELECT '\xff'", "SELECT '\uFFFD'"},
		{"ALTER USER bob PASSWORD 'hunter2'", "ALTER USER bob PASSWORD '*****'"},
	} {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
