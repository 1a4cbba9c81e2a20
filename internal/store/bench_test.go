package store

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// TestMain removes the shared benchmark database.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

var (
	users = []string{"postgres", "admin", "app", "report", "backup", "etl", "nguyenvana", "tranthib"}
	dbs   = []string{"hr", "shop", "citizens", "billing", "postgres"}
	ops   = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "COPY", "ALTER"}
	words = []string{"connection", "authorized", "statement", "duration", "checkpoint", "password", "authentication",
		"failed", "disconnection", "session", "relation", "permission", "denied", "vacuum", "analyze", "lock", "timeout"}
)

// dbEvent is a realistic database event: 15 fields, as the PostgreSQL
// collector makes them.
func dbEvent(r *rand.Rand, at time.Time) event.Event {
	user, db, op := users[r.IntN(len(users))], dbs[r.IntN(len(dbs))], ops[r.IntN(len(ops))]
	host := fmt.Sprintf("db%02d", r.IntN(20))
	table := fmt.Sprintf("t_%d", r.IntN(500))
	stmt := op + " * FROM " + table + " WHERE id = " + fmt.Sprint(r.IntN(100000))
	msg := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))] + " " + words[r.IntN(len(words))] + ": " + stmt
	e := event.Event{Time: at, Received: at.Add(20 * time.Millisecond), Source: event.LogSource{Product: "postgresql", Category: "database"}}
	e.Fields = event.Fields{
		{Key: "host.name", Value: event.String(host)},
		{Key: "agent.id", Value: event.String("agent-" + host)},
		{Key: "event.category", Value: event.String("database")},
		{Key: "event.action", Value: event.String("query")},
		{Key: "event.outcome", Value: event.String([]string{"success", "failure"}[r.IntN(2)])},
		{Key: "user.name", Value: event.String(user)},
		{Key: "source.ip", Value: event.String(fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256)))},
		{Key: "source.port", Value: event.Int(int64(30000 + r.IntN(30000)))},
		{Key: "db.system", Value: event.String("postgresql")},
		{Key: "db.name", Value: event.String(db)},
		{Key: "db.user", Value: event.String(user)},
		{Key: "db.operation", Value: event.String(op)},
		{Key: "db.statement", Value: event.String(stmt)},
		{Key: "db.response.rows", Value: event.Int(int64(r.IntN(5000)))},
		{Key: "message", Value: event.String(msg)},
	}
	e.Raw = at.Format(time.RFC3339) + " [" + fmt.Sprint(1000+r.IntN(9000)) + "] " + user + "@" + db + " LOG:  " + msg
	e.ID = event.NewID(e.Received)
	return e
}

func dbEvents(seed uint64, n int, start time.Time, step time.Duration) []event.Event {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]event.Event, n)
	for i := range out {
		out[i] = dbEvent(r, start.Add(time.Duration(i)*step))
	}
	return out
}

// BenchmarkWriteEvents measures batched ingest; events/s is the figure.
func BenchmarkWriteEvents(b *testing.B) {
	for _, batch := range []int{100, 1000, 2000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openTest(b, Config{})
			evs := dbEvents(1, b.N*batch, t0, time.Millisecond)
			ctx := context.Background()
			b.ResetTimer()
			cpu := testenv.CPUTime()
			for i := range b.N {
				if _, err := s.WriteEvents(ctx, evs[i*batch:(i+1)*batch]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			if cpu := testenv.CPUTime() - cpu; cpu > 0 {
				// Events per CPU-second: what one free core would do.
				b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "events/cpu-s")
			}
			b.StopTimer()
			if err := s.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			if st, err := s.Stats(ctx); err == nil {
				// Disk per event, the full-text index included.
				b.ReportMetric(float64(st.Bytes)/float64(b.N*batch), "bytes/event")
			}
		})
	}
}

// benchEvents is the size of the store that query benchmarks search;
// -store.events makes it smaller on a slow machine.
var benchEvents = flag.Int("store.events", 1_000_000, "events in the store that query benchmarks search")

var (
	benchOnce  sync.Once
	benchDir   string
	benchStore *Store
	benchErr   error
)

// bigStore builds, once per test binary, a store of benchEvents database
// events over 30 days.
func bigStore(b *testing.B) *Store {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "vigil-store-bench")
		if benchErr != nil {
			return
		}
		now := t0.AddDate(0, 0, 30)
		benchStore, benchErr = Open(context.Background(), Config{
			Path: filepath.Join(benchDir, FileName),
			Now:  func() time.Time { return now },
		})
		if benchErr != nil {
			return
		}
		start := time.Now()
		step := 30 * 24 * time.Hour / time.Duration(*benchEvents)
		const batch = 5000
		for i := 0; i < *benchEvents && benchErr == nil; i += batch {
			_, benchErr = benchStore.WriteEvents(context.Background(), dbEvents(uint64(i), min(batch, *benchEvents-i), t0.Add(time.Duration(i)*step), step))
		}
		fmt.Fprintf(os.Stderr, "built %d events in %v\n", *benchEvents, time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

// BenchmarkEventsFirstPage measures the first page (100 events) of queries
// an analyst would type, over a million stored events.
func BenchmarkEventsFirstPage(b *testing.B) {
	s := bigStore(b)
	for _, q := range []string{
		"",
		"host.name:db07",
		"failed",
		`"permission denied"`,
		"password authentication failed",
		"user.name:nguyenvana AND db.name:citizens",
		"db.operation:COPY AND db.response.rows >= 4990",
		"host.name:db07 AND event.outcome:failure AND NOT user.name:app",
		"db.statement:*t_42*",
		"@timestamp:[2026-03-20 TO 2026-03-21] AND denied",
	} {
		b.Run(q, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.Events(ctx, Query{Q: q}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIncidentsFirstPage measures the first page of the incident list
// over 100,000 incidents, as the console asks for it.
func BenchmarkIncidentsFirstPage(b *testing.B) {
	s := openTest(b, Config{})
	ctx := context.Background()
	incs := incidentSet(100_000)
	const batch = 2000
	for i := 0; i < len(incs); i += batch {
		if err := s.upsertIncidents(ctx, incs[i:i+batch]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.optimize(ctx); err != nil {
		b.Fatal(err)
	}
	open := []event.Status{event.StatusNew, event.StatusAcknowledged, event.StatusInvestigating}
	for _, tc := range []struct {
		name string
		q    IncidentQuery
	}{
		{"all", IncidentQuery{}},
		{"open", IncidentQuery{Status: open}},
		{"open by severity", IncidentQuery{Status: open, Sort: SortSeverity}},
		{"high", IncidentQuery{Severity: event.LevelHigh}},
		{"assignee", IncidentQuery{Assignee: "lan"}},
		{"system open", IncidentQuery{System: "sys2", Status: open}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tc.q.Limit = 50
			for b.Loop() {
				page, err := s.Incidents(ctx, tc.q)
				if err != nil || len(page.Items) != 50 {
					b.Fatal(len(page.Items), err)
				}
			}
		})
	}
}

// upsertIncidents loads incidents in one transaction, for benchmarks.
func (s *Store) upsertIncidents(ctx context.Context, incs []event.Incident) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, inc := range incs {
			if err := s.upsertIncident(ctx, tx, inc, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkStatsMillion measures the row and byte counts over a million
// events, as a metrics scrape asks for them.
func BenchmarkStatsMillion(b *testing.B) {
	s := bigStore(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Stats(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAggregates measures what the console's dashboards ask for over
// a million stored events (30 days): histograms of a query and rates by
// source over a day and over the whole month, and value suggestions.
func BenchmarkAggregates(b *testing.B) {
	s := bigStore(b)
	ctx := context.Background()
	day := t0.AddDate(0, 0, 15)
	for _, tc := range []struct {
		name string
		days int
		fn   func(sp Span) error
	}{
		{"histogram all/day", 1, func(sp Span) error { _, err := s.EventHistogram(ctx, "", sp); return err }},
		{"histogram all/month", 30, func(sp Span) error { _, err := s.EventHistogram(ctx, "", sp); return err }},
		{"histogram failed/day", 1, func(sp Span) error { _, err := s.EventHistogram(ctx, "failed", sp); return err }},
		{"histogram host/month", 30, func(sp Span) error { _, err := s.EventHistogram(ctx, "host.name:db07", sp); return err }},
		{"rate/day", 1, func(sp Span) error { _, err := s.EventRate(ctx, sp); return err }},
		{"values user.name", 1, func(Span) error { _, err := s.FieldValues(ctx, "user.name", 1000, 10); return err }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			from := day
			if tc.days == 30 {
				from = t0
			}
			sp, err := s.NewSpan(from, from.AddDate(0, 0, tc.days), 60)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := tc.fn(sp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHostSearchLive measures searches for a host over events as a
// busy city sends them: 500,000 events of twenty hosts in 17 minutes (500
// a second), in batches of 2,000, so that blocks group the events of a
// host (blockOrder).
func BenchmarkHostSearchLive(b *testing.B) {
	s := openTest(b, Config{})
	ctx := context.Background()
	const n, batch = 500_000, 2000
	for i := 0; i < n; i += batch {
		if _, err := s.WriteEvents(ctx, dbEvents(uint64(i), batch, t0.Add(time.Duration(i)*2*time.Millisecond), 2*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	sp, err := s.NewSpan(t0, t0.Add(time.Duration(n)*2*time.Millisecond), 60)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first page", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Events(ctx, Query{Q: "host.name:db07 AND event.outcome:failure"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("histogram", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.EventHistogram(ctx, "host.name:db07", sp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPrune measures retention: deleting expired events, which a
// store that keeps a year must do as fast as it takes them in.
func BenchmarkPrune(b *testing.B) {
	s := openTest(b, Config{})
	ctx := context.Background()
	const batch = 2000
	n := b.N * batch
	old := t0.AddDate(-2, 0, 0)
	for i := 0; i < n; i += batch {
		if _, err := s.WriteEvents(ctx, dbEvents(uint64(i), batch, old.Add(time.Duration(i)*time.Millisecond), time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu := testenv.CPUTime()
	st, err := s.Prune(ctx, t0)
	if err != nil || st.Expired != int64(n) {
		b.Fatalf("Prune = %+v, %v; want %d expired", st, err, n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	if cpu := testenv.CPUTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
	}
}

// BenchmarkCompact measures merging the blocks a quiet system writes, four
// events each, into blocks of up to blockSize.
func BenchmarkCompact(b *testing.B) {
	s := openTest(b, Config{})
	ctx := context.Background()
	const batch = 4
	n := b.N * 1000
	evs := dbEvents(9, n, t0, 10*time.Millisecond)
	for i := 0; i < n; i += batch {
		if _, err := s.WriteEvents(ctx, evs[i:i+batch]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu := testenv.CPUTime()
	st, err := s.Prune(ctx, t0.Add(2*time.Hour))
	if err != nil || st.Compacted < int64(n/batch/2) {
		b.Fatalf("Prune = %+v, %v", st, err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	if cpu := testenv.CPUTime() - cpu; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
	}
}
