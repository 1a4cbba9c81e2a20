package store

import (
	"context"
	"errors"
	"testing"

	"github.com/danang-soc/vigil/internal/query"
)

// FuzzEventsQuery runs every query that parses against a real database:
// the translation must give SQL (and FTS5 expressions) that SQLite accepts,
// or a *query.Error for the user; never an SQL error.
func FuzzEventsQuery(f *testing.F) {
	for _, q := range []string{
		`host.name:db01 AND "password authentication failed"`,
		`user.name:(admin OR ro*) -event.outcome:success`,
		`@timestamp:[2026-03-10 TO 2026-03-11} db.response.rows >= 1000`,
		`db.statement:*citizens* OR (NOT source.ip:203.* && x:\"y\\)`,
		`đăng nhập "thất bại" n:{* TO 5] message:-- *.* labels.note:100%_done`,
		`a:"" b:* ( c ) NOT NOT d || e event.id:01KB2Z6W3B6C0V3Q5Q0Q5Q5Q5Q`,
		`"" message:"" "\"" authent* message:superuser* db.operation:[ALTER TO COPY]`,
		`@timestamp >= now-30d AND event.ingested:2026-03-10 AND tls:true AND n:null`,
	} {
		f.Add(q)
	}
	s := openTest(f, Config{})
	loadCorpus(f, s, corpus())
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, q string) {
		_, err := s.Events(ctx, Query{Q: q, Limit: 5})
		var qe *query.Error
		if err != nil && !errors.As(err, &qe) {
			t.Fatalf("Events(%q): %v", q, err)
		}
	})
}
