package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

type fakeBus struct {
	mu      sync.Mutex
	batches [][]byte
	err     error
}

func (f *fakeBus) Publish(_ context.Context, p []byte, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.batches = append(f.batches, bytes.Clone(p))
	return nil
}

func (f *fakeBus) events(t *testing.T) []event.Event {
	t.Helper()
	var out []event.Event
	for _, b := range f.batches {
		for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			ev, err := event.DecodeJSON(l)
			if err != nil {
				t.Fatalf("bus holds an invalid event %q: %v", l, err)
			}
			out = append(out, ev)
		}
	}
	return out
}

type fakeQuarantine struct{ items []Rejected }

func (f *fakeQuarantine) Quarantine(_ context.Context, items []Rejected) error {
	f.items = append(f.items, items...)
	return nil
}

var errBusFull = errors.New("full")

func newTest(t *testing.T, cfg Config) (*Ingester, *fakeBus, *fakeQuarantine) {
	t.Helper()
	bus, q := &fakeBus{}, &fakeQuarantine{}
	now := func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }
	in, err := New(cfg, bus, q, func(err error) bool { return errors.Is(err, errBusFull) }, now, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return in, bus, q
}

func post(in http.Handler, body []byte, gz bool) *httptest.ResponseRecorder {
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(body)
		w.Close()
		body = b.Bytes()
	}
	r := httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body))
	if gz {
		r.Header.Set("Content-Encoding", "gzip")
	}
	w := httptest.NewRecorder()
	in.ServeHTTP(w, r)
	return w
}

func TestAcceptsAndQuarantines(t *testing.T) {
	for _, gz := range []bool{false, true} {
		in, bus, q := newTest(t, Config{})
		body := []byte(`{"message":"one","host":{"name":"db1"}}
not json
{"message":"two"}

[1,2]
{"event.id":"01KB0000000000000000000000","message":"three"}
`)
		w := post(in, body, gz)
		if w.Code != http.StatusAccepted {
			t.Fatalf("gzip=%v: status %d, want 202: %s", gz, w.Code, w.Body)
		}
		var res Result
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		if res.Accepted != 3 {
			t.Errorf("accepted = %d, want 3", res.Accepted)
		}
		var lines []int
		for _, qq := range res.Quarantined {
			lines = append(lines, qq.Line)
		}
		if diff := cmp.Diff([]int{2, 5}, lines); diff != "" {
			t.Errorf("quarantined lines (-want +got):\n%s", diff)
		}
		if len(q.items) != 2 || string(q.items[0].Data) != "not json" || !strings.Contains(q.items[0].Reason, "line 2") {
			t.Errorf("quarantine holds %+v, want the two bad lines with reasons", q.items)
		}
		evs := bus.events(t)
		if len(evs) != 3 {
			t.Fatalf("bus holds %d events, want 3", len(evs))
		}
		for _, ev := range evs {
			if ev.ID.IsZero() || ev.Received.IsZero() {
				t.Errorf("event %v not stamped with id and received time", ev.Fields)
			}
		}
		if got := evs[2].ID.String(); got != "01KB0000000000000000000000" {
			t.Errorf("an event's own id was replaced: %s", got)
		}
		if evs[0].Host() != "db1" {
			t.Errorf("host = %q, want db1", evs[0].Host())
		}
	}
}

func TestRefusesWhenBusFull(t *testing.T) {
	in, bus, _ := newTest(t, Config{})
	bus.err = errBusFull
	w := post(in, []byte(`{"message":"x"}`), false)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("status %d Retry-After %q, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if err := in.Write(context.Background(), []event.Event{{}}); !errors.Is(err, ErrFull) {
		t.Errorf("Write error = %v, want ErrFull", err)
	}
}

func TestRefusesOverInflightBudget(t *testing.T) {
	in, _, _ := newTest(t, Config{MaxInflightBytes: 1 << 20, MaxRequestBytes: 1 << 20})
	if !in.gate.tryAcquire(1 << 20) { // another request holds the whole budget
		t.Fatal("could not take the budget")
	}
	w := post(in, []byte(`{"message":"x"}`), false)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("status %d, want 503 with Retry-After", w.Code)
	}
	in.gate.release(1 << 20)
	if w := post(in, []byte(`{"message":"x"}`), false); w.Code != http.StatusAccepted {
		t.Errorf("after release: status %d, want 202", w.Code)
	}
}

func TestRefusesTooLarge(t *testing.T) {
	in, bus, _ := newTest(t, Config{MaxInflightBytes: 1 << 20, MaxRequestBytes: 1 << 10})
	body := bytes.Repeat([]byte(`{"message":"0123456789"}`+"\n"), 100)
	if w := post(in, body, true); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", w.Code)
	}
	if len(bus.batches) != 0 {
		t.Errorf("a refused request published %d batches", len(bus.batches))
	}
}

func BenchmarkServeHTTP(b *testing.B) {
	in, err := New(Config{}, discardBus{}, nil, nil, time.Now, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(`{"@timestamp":"2026-11-29T10:00:00.123Z","logsource":{"product":"postgresql","category":"database"},"host.name":"db1","db.system":"postgresql","db.user":"alice","db.name":"city","db.statement":"SELECT * FROM users WHERE id = 1","db.operation":"SELECT","source.ip":"10.0.0.5","event.action":"query","event.outcome":"success"}` + "\n")
	body := bytes.Repeat(line, 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		w := post(in, body, false)
		if w.Code != http.StatusAccepted {
			b.Fatal(w.Code)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}

type discardBus struct{}

func (discardBus) Publish(context.Context, []byte, string) error { return nil }
