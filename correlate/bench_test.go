package correlate

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// benchEvent is one reusable event whose key field and time are set per
// observation, so that the benchmark measures the Engine, not the events.
type benchEvent struct {
	ev   event.Event
	refs []string
}

func newBenchEvent(field string) *benchEvent {
	b := &benchEvent{refs: []string{"failed_login"}}
	b.ev.Fields = event.Fields{{Key: field, Value: event.String("")}, {Key: "host.name", Value: event.String("db1")}}
	return b
}

func (b *benchEvent) set(i int, key string) *event.Event {
	b.ev.Fields[0].Value.Str = key
	b.ev.Time = t0.Add(time.Duration(i) * time.Microsecond)
	binary.BigEndian.PutUint64(b.ev.ID[8:], uint64(i))
	return &b.ev
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkEventCountLiveKeys measures events per second through an
// event_count rule with one million group-by keys live in its window, and
// the memory per live key (one event each).
func BenchmarkEventCountLiveKeys(b *testing.B) {
	const keys = 1_000_000
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("user-%07d", i)
	}
	rule := Rule{ID: "brute", Type: EventCount, Rules: []string{"failed_login"}, GroupBy: []string{"user.name"},
		Timespan: time.Hour, Condition: gte(100)}
	e, err := New(Config{MaxKeysPerRule: 2 * keys}, []Rule{rule}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	emit := func(event.Alert) { b.Fatal("no alert expected") }
	be := newBenchEvent("user.name")
	before := heapAlloc()
	for i := range keys {
		e.Observe(be.refs, be.set(i, names[i]), emit)
	}
	after := heapAlloc()
	if got := e.Stats().Rules[0].Keys; got != keys {
		b.Fatalf("live keys = %d, want %d", got, keys)
	}
	b.ResetTimer()
	start, cpu := time.Now(), testenv.CPUTime()
	i := keys
	var buf []byte
	for b.Loop() {
		// A key sees one more event per million: stays far below 100.
		// The key is formatted afresh, as a just-decoded event's field is
		// (reading names[k] would measure a cache miss on the input).
		k := (i * 7919) % keys
		buf = strconv.AppendInt(append(buf[:0], "user-"...), int64(1_000_000+k), 10)
		buf[5] = '0' // "user-%07d"
		e.Observe(be.refs, be.set(i, string(buf)), emit)
		i++
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if got := e.Stats().Rules[0].Keys; got != keys {
		b.Fatalf("live keys after the run = %d, want %d", got, keys)
	}
	if used := testenv.CPUTime() - cpu; used > 0 {
		// Per second of CPU: what one core does when others compete for it.
		b.ReportMetric(float64(b.N)/used.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(after-before)/keys, "bytes/key")
	runtime.KeepAlive(names)
}

// BenchmarkEventCountHotKey is the other extreme: one key, alerts firing
// every 100 events.
func BenchmarkEventCountHotKey(b *testing.B) {
	rule := Rule{ID: "brute", Type: EventCount, Rules: []string{"failed_login"}, GroupBy: []string{"user.name"},
		Timespan: time.Hour, Condition: gte(100)}
	e, err := New(Config{}, []Rule{rule}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	emit := func(event.Alert) { n++ }
	be := newBenchEvent("user.name")
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		e.Observe(be.refs, be.set(i, "alice"), emit)
		i++
	}
	if n != b.N/100 {
		b.Fatalf("%d alerts for %d events, want %d", n, b.N, b.N/100)
	}
}

// BenchmarkTemporalOrdered runs the specification's chain: failures, then
// a success, over 10,000 users.
func BenchmarkTemporalOrdered(b *testing.B) {
	e, err := New(Config{}, specChain(false), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	emit := func(event.Alert) {}
	be := newBenchEvent("User")
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("user-%05d", i)
	}
	fail, ok := []string{"failed_login"}, []string{"successful_login"}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		be.refs = fail
		if i%11 == 10 {
			be.refs = ok
		}
		e.Observe(be.refs, be.set(i, names[(i/11)%len(names)]), emit)
		i++
	}
}

// BenchmarkSnapshot measures a snapshot of 100,000 live event_count keys:
// the time the Engine's lock is held and the bytes per key.
func BenchmarkSnapshot(b *testing.B) {
	const keys = 100_000
	rule := Rule{ID: "brute", Type: EventCount, Rules: []string{"failed_login"}, GroupBy: []string{"user.name"},
		Timespan: time.Hour, Condition: gte(100)}
	e, err := New(Config{MaxKeysPerRule: keys}, []Rule{rule}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	be := newBenchEvent("user.name")
	for i := range keys {
		e.Observe(be.refs, be.set(i, fmt.Sprintf("user-%07d", i)), func(event.Alert) {})
	}
	var size int
	for b.Loop() {
		size = len(e.encode())
	}
	b.ReportMetric(float64(size)/keys, "bytes/key")
}
