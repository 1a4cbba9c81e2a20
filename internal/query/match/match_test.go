package match_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/danang-soc/vigil/internal/query/match"
)

func compile(t testing.TB, q string) *match.Matcher {
	t.Helper()
	node, err := query.Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	m, err := match.Compile(node, q, now)
	if err != nil {
		t.Fatalf("Compile(%q): %v", q, err)
	}
	return m
}

// pgEvent is a typical PostgreSQL event.
func pgEvent() event.Event {
	e := event.Event{
		Time:     t0.Add(90 * time.Minute),
		Received: t0.Add(90*time.Minute + time.Second),
		Source:   event.LogSource{Product: "postgresql", Category: "database"},
	}
	e.Fields.Set("host.name", event.Strings("DB01", "db01.internal"))
	e.Fields.Set("user.name", event.String("Admin"))
	e.Fields.Set("source.ip", event.String("203.0.113.7"))
	e.Fields.Set("db.name", event.String("hr"))
	e.Fields.Set("db.operation", event.String("COPY"))
	e.Fields.Set("db.response.rows", event.Int(250000))
	e.Fields.Set("db.statement", event.String("COPY citizens TO '/tmp/x.csv'"))
	e.Fields.Set("message", event.String("Đăng nhập thất bại cho người dùng quản trị"))
	e.Fields.Set("tags", event.Strings("prod", "pii"))
	e.Fields.Set("tls", event.Bool(false))
	e.Fields.Set("cert", event.Null())
	e.Fields.Set("latency", event.Number("1.5"))
	e.ID = event.NewID(e.Received)
	return e
}

func TestMatch(t *testing.T) {
	e := pgEvent()
	tests := []struct {
		q    string
		want bool
	}{
		{"", true},
		{"*", true},
		{"host.name:db01", true},               // the first host, NOCASE
		{"host.name:db01.internal", false},     // only the first host is a column
		{"host.name:d?01", true},               // LIKE
		{"logsource.product:POSTGRESQL", true}, // NOCASE
		{"user.name:admin", true},
		{"user.name:ADMİN", false}, // NOCASE folds ASCII only
		{"tags:PII", true},         // any value of a list
		{"tags:p*", true},
		{"db.response.rows:250000.0", true}, // numerically
		{"db.response.rows >= 1000", true},
		{"db.response.rows:[1 TO 1000]", false},
		{"latency:{1 TO 2}", true},
		{"latency:[a TO z]", false}, // a number is not text
		{"tls:false", true},
		{"tls:0", false},
		{"cert:null", true},
		{"cert:*", true},
		{"missing:*", false},
		{"NOT missing:x", true},
		{"dang nhap", true}, // folds đ and diacritics
		{`"thất bại"`, true},
		{`"bại thất"`, false},
		{"quản*", true},
		{"message:citizens", false},
		{"db.statement:citizens", true},
		{"citizens", true},
		{"*tmp*", true},                 // LIKE over the text fields
		{"@timestamp:2026-03-10", true}, // the whole day
		{"@timestamp:>=now-1d", false},  // now is t0+36h
		{"@timestamp:[now-2d TO now]", true},
		{"event.ingested:*", true},
		{"password OR dang", true},
		{"password AND dang", false},
		{"NOT password", true},
		{"db.response.rows:nan", false},
		{"NOT db.response.rows:nan", false}, // NULL, as in SQL
		{"NOT db.response.rows:>nan", false},
		{"NOT latency:>nan", true}, // not hot: EXISTS is never NULL
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			if got := compile(t, tt.q).Match(&e); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		q      string
		offset int
	}{
		{"event.id:abc", 0},
		{"x AND event.id:01*", 6},
		{"event.id:[a TO b]", 0},
		{"@timestamp:2026*", 0},
		{"password @timestamp:yesterday", 9},
		{"@timestamp:[2026-01-01 TO soon]", 0},
		{`a\"b:x`, 0},
		{`ok:1 OR a\\b:*`, 8},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			node, err := query.Parse(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			_, err = match.Compile(node, tt.q, now)
			var qe *query.Error
			if !errors.As(err, &qe) {
				t.Fatalf("Compile error %v, want a *query.Error", err)
			}
			if qe.Offset != tt.offset {
				t.Errorf("error at %d (%v), want %d", qe.Offset, qe, tt.offset)
			}
		})
	}
}

// FuzzMatch compiles any query that parses and matches it against a few
// events: it must never panic.
func FuzzMatch(f *testing.F) {
	for _, q := range handQueries {
		f.Add(q)
	}
	for _, q := range []string{"dang nhap", `"thất bại"*`, "db.response.rows:[1 TO 5}", "\xc3*", "*\x00*", "a*b?c", `host.name:\*`} {
		f.Add(q)
	}
	evs := []event.Event{pgEvent(), {}}
	for i, m := range messages[:12] {
		e := pgEvent()
		e.Fields.Set("message", value(m))
		e.Fields.Set("user.name", value(users[i%len(users)]))
		e.Fields.Set("db.response.rows", value(dbRows[i%len(dbRows)]))
		evs = append(evs, e)
	}
	f.Fuzz(func(t *testing.T, q string) {
		node, err := query.Parse(q)
		if err != nil {
			return
		}
		m, err := match.Compile(node, q, now)
		if err != nil {
			var qe *query.Error
			if !errors.As(err, &qe) {
				t.Fatalf("Compile(%q) error %v is not a *query.Error", q, err)
			}
			return
		}
		for i := range evs {
			m.Match(&evs[i])
		}
	})
}

// BenchmarkMatch matches typical queries against typical PostgreSQL
// events; ns/op is per event.
func BenchmarkMatch(b *testing.B) {
	evs := make([]event.Event, 64)
	msgs := []string{
		"connection authorized: user=app database=shop",
		"password authentication failed for user \"postgres\"",
		"statement: SELECT * FROM orders WHERE id = 1",
		"Đăng nhập thất bại cho người dùng quản trị",
	}
	for i := range evs {
		e := pgEvent()
		e.Fields.Set("message", event.String(msgs[i%len(msgs)]))
		e.Fields.Set("db.response.rows", event.Int(int64(i*37)))
		e.Fields.Set("user.name", event.String([]string{"app", "postgres", "admin"}[i%3]))
		evs[i] = e
	}
	for _, q := range []string{
		"user.name:postgres",
		"host.name:db01 AND db.response.rows >= 1000",
		"password authentication failed",
		`"thất bại" OR dang*`,
		"logsource.product:postgresql AND NOT user.name:(app OR admin) AND @timestamp:[now-2d TO now]",
		"*orders*",
	} {
		m := compile(b, q)
		b.Run(q, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				m.Match(&evs[i%len(evs)])
			}
		})
	}
}

// TestReads: the keys a query reads are its fields, and the text fields
// for full text.
func TestReads(t *testing.T) {
	for q, want := range map[string][]string{
		"user.name:x AND NOT host.name:y":      {"user.name", "host.name"},
		"password OR @timestamp:>now-1h":       {"message", "db.statement", "@timestamp"},
		"db.statement:*drop* event.original:*": {"db.statement", "event.original"},
		"*":                                    nil,
	} {
		node, err := query.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		m, err := match.Compile(node, q, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"user.name", "host.name", "message", "db.statement", "@timestamp", "event.original", "db.user"} {
			if got := m.Reads(k); got != slices.Contains(want, k) {
				t.Errorf("%q: Reads(%q) = %v", q, k, got)
			}
		}
	}
}

// TestTimeBounds: the top-level conditions on @timestamp bound the times a
// query can match; anything else leaves the bounds open.
func TestTimeBounds(t *testing.T) {
	day := t0.Truncate(24 * time.Hour)
	open := int64(math.MinInt64)
	for q, want := range map[string][2]int64{
		"user.name:x": {open, math.MaxInt64},
		"@timestamp:[" + day.Format("2006-01-02") + " TO *]":         {day.UnixNano(), math.MaxInt64},
		"x AND @timestamp:" + day.Format("2006-01-02"):               {day.UnixNano(), day.AddDate(0, 0, 1).UnixNano()},
		"@timestamp:>=now-1h AND @timestamp:<now":                    {now.Add(-time.Hour).UnixNano(), now.UnixNano()},
		"NOT @timestamp:[* TO now] OR y":                             {open, math.MaxInt64},
		"@timestamp:\"" + day.Format(time.RFC3339) + "\"":            {day.UnixNano(), day.UnixNano() + 1},
		"(@timestamp:>now-1h OR @timestamp:<now-2h) AND user.name:x": {open, math.MaxInt64},
	} {
		lo, hi := compile(t, q).TimeBounds()
		if lo != want[0] || hi != want[1] {
			t.Errorf("%q: TimeBounds = [%d, %d), want [%d, %d)", q, lo, hi, want[0], want[1])
		}
	}
}
