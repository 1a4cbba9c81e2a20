package correlate_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/danang-soc/vigil/correlate"
	"github.com/danang-soc/vigil/event"
)

// How the server wires the Engine and the Grouper: base-rule matches in,
// correlation alerts and incidents out.
func Example() {
	rules := []correlate.Rule{{
		ID: "brute", Title: "Brute force on a database account", Level: event.LevelHigh,
		Tags: []string{"attack.credential-access"},
		Type: correlate.EventCount, Rules: []string{"pg_failed_login"}, GroupBy: []string{"db.user"},
		Timespan: 5 * time.Minute, Condition: correlate.Condition{Ops: []correlate.Comparison{{Op: correlate.GTE, Value: 3}}},
	}}
	engine, err := correlate.New(correlate.Config{}, rules, nil, nil)
	if err != nil {
		panic(err)
	}
	grouper, err := correlate.NewGrouper(correlate.GrouperConfig{}, nil, nil)
	if err != nil {
		panic(err)
	}
	// The base rule's own alerts are not raised: the correlation leaves
	// generate unset.
	fmt.Println("base rule alerts raised:", engine.Generates("pg_failed_login"))

	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		ev := &event.Event{ID: event.NewID(t0), Time: t0.Add(time.Duration(i) * time.Second)}
		ev.Fields.Set("db.user", event.String("postgres"))
		ev.Fields.Set("host.name", event.String("db1"))
		err := engine.Observe([]string{"pg_failed_login"}, ev, func(a event.Alert) {
			fmt.Printf("alert %s: %d events, group %v\n", a.RuleID, len(a.EventIDs), a.Group)
			r := grouper.Add(a)
			fmt.Printf("incident %s: %q severity %s\n", r.Outcome, r.Incident.Title, r.Incident.Severity)
		})
		if err != nil { // errors.Is(err, correlate.ErrLate): log it, count it
			fmt.Println(err)
		}
	}
	// Periodically and on shutdown, the state goes to the store.
	var snap bytes.Buffer
	if err := engine.Snapshot(&snap); err != nil {
		panic(err)
	}
	// Output:
	// base rule alerts raised: false
	// alert brute: 3 events, group map[db.user:postgres]
	// incident created: "Brute force on a database account on db1" severity high
}
