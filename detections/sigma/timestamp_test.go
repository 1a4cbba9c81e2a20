package sigma

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/danang-soc/vigil/event"
)

// TestTimestampTimeParts: a rule on @timestamp with a time-part modifier
// reads the event's own time, which is not among its fields, in the zone
// the collector gave it; a field named @timestamp, when an event has one,
// wins.
func TestTimestampTimeParts(t *testing.T) {
	const rule = `title: Night
id: 5d7f3c1a-0000-4000-8000-000000000001
logsource: {category: database}
detection:
    selection: {event.action: ddl}
    night: {'@timestamp|hour|lt': 7}
    condition: selection and night
level: medium
`
	rs, errs := Load(Config{}, fstest.MapFS{"r.yml": {Data: []byte(rule)}}, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ict := time.FixedZone("ICT", 7*3600)
	for _, c := range []struct {
		name   string
		time   time.Time
		fields event.Fields
		want   bool
	}{
		{"02:00 UTC", time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC), nil, true},
		{"10:00 UTC", time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC), nil, false},
		{"06:59 local", time.Date(2026, 11, 29, 6, 59, 0, 0, ict), nil, true},
		{"07:00 local (00:00 UTC)", time.Date(2026, 11, 29, 7, 0, 0, 0, ict), nil, false},
		{"no time", time.Time{}, nil, false},
		{"field wins", time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC), event.Fields{{Key: "@timestamp", Value: event.String("2026-11-29T12:00:00Z")}}, false},
	} {
		e := event.Event{Time: c.time, Source: event.LogSource{Category: "database"},
			Fields: append(event.Fields{{Key: "event.action", Value: event.String("ddl")}}, c.fields...)}
		got := false
		rs.Match(&e, func(*Rule) { got = true })
		if got != c.want {
			t.Errorf("%s: matched %v, want %v", c.name, got, c.want)
		}
	}
}
