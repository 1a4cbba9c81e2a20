// Package ingest accepts events from outside the process: the HTTP route
// POST /api/v1/events (NDJSON, optionally gzip) used by agents and scripts,
// and the Sink that the in-process collectors write to. Every accepted batch
// is stamped (id, received time) and published to the durable bus before the
// caller is answered; a line that is not a valid event is quarantined with
// its reason and line number, never silently dropped; when the bus or the
// in-flight budget is full the caller is refused with 503 and Retry-After,
// so that it keeps the events and sends them again.
//
// Concurrency: Ingester is safe for concurrent use by many HTTP handlers and
// collectors. In-flight work is bounded by Config.MaxInflightBytes.
package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/prometheus/client_golang/prometheus"
)

// Config bounds ingest.
type Config struct {
	// MaxInflightBytes bounds the bytes of requests being processed at once;
	// past it requests are refused with 503. Default 64 MiB.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// MaxRequestBytes bounds one request body after decompression; larger
	// requests get 413. Default 32 MiB.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxLineBytes bounds one event line. Default 1 MiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
}

// Validate fills in defaults and checks the bounds.
func (c *Config) Validate() error {
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = 64 << 20
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 32 << 20
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.MaxLineBytes > 4<<20 {
		return fmt.Errorf("ingest: max_line_bytes %d is over the bus message limit of 4 MiB", c.MaxLineBytes)
	}
	if c.MaxRequestBytes > c.MaxInflightBytes {
		return fmt.Errorf("ingest: max_request_bytes %d exceeds max_inflight_bytes %d", c.MaxRequestBytes, c.MaxInflightBytes)
	}
	return nil
}

// Publisher stores a batch durably (the bus).
type Publisher interface {
	Publish(ctx context.Context, payload []byte, msgID string) error
}

// Quarantiner keeps lines that are not valid events.
type Quarantiner interface {
	Quarantine(ctx context.Context, items []Rejected) error
}

// Rejected is one line that was not accepted as an event.
type Rejected struct {
	Received time.Time
	Source   string // who sent it: remote address, token name, collector
	Line     int    // 1-based line number in the request
	Reason   string
	Data     []byte
}

// ErrFull is returned by Write when the platform cannot take more now; the
// caller must keep the events and retry.
var ErrFull = errors.New("ingest is over capacity")

// Ingester accepts events.
type Ingester struct {
	cfg   Config
	pub   Publisher
	quar  Quarantiner
	full  func(error) bool
	now   func() time.Time
	log   *slog.Logger
	gate  *byteGate
	bufs  sync.Pool
	stats metrics
}

type metrics struct {
	accepted    prometheus.Counter
	quarantined prometheus.Counter
	refused     *prometheus.CounterVec
	inflight    prometheus.GaugeFunc
	requests    prometheus.Counter
}

// New returns an Ingester publishing to pub. isFull tells which publish
// errors mean the bus is full (answered 503, not 500). Metrics are
// registered on reg when it is not nil.
func New(cfg Config, pub Publisher, quar Quarantiner, isFull func(error) bool, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	in := &Ingester{cfg: cfg, pub: pub, quar: quar, full: isFull, now: now, log: log, gate: newByteGate(cfg.MaxInflightBytes)}
	in.stats = metrics{
		accepted:    prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_events_accepted_total", Help: "Events accepted durably."}),
		quarantined: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_lines_quarantined_total", Help: "Lines kept in quarantine because they are not valid events."}),
		refused:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_requests_refused_total", Help: "Requests or batches refused, by reason; the sender keeps the events."}, []string{"reason"}),
		inflight:    prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vigil_ingest_inflight_bytes", Help: "Bytes of requests being processed."}, func() float64 { return float64(in.gate.used()) }),
		requests:    prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_requests_total", Help: "Ingest requests received."}),
	}
	for _, reason := range []string{"inflight", "bus_full", "too_large", "line_too_long"} {
		in.stats.refused.WithLabelValues(reason) // exported from the start, at 0
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{in.stats.accepted, in.stats.quarantined, in.stats.refused, in.stats.inflight, in.stats.requests} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering ingest metrics: %w", err)
			}
		}
	}
	return in, nil
}

// Write stamps and publishes events from an in-process collector. It
// returns only when they are durable; ErrFull means retry later.
func (in *Ingester) Write(ctx context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	now := in.now()
	buf := in.getBuf()
	defer in.putBuf(buf)
	for i := range batch {
		batch[i].Stamp(now)
		before := len(*buf)
		*buf = batch[i].AppendJSON(*buf)
		*buf = append(*buf, '\n')
		if len(*buf) >= flushBytes {
			if err := in.publish(ctx, (*buf)[:before]); err != nil {
				return err
			}
			*buf = append((*buf)[:0], (*buf)[before:]...)
		}
	}
	if err := in.publish(ctx, *buf); err != nil {
		return err
	}
	in.stats.accepted.Add(float64(len(batch)))
	return nil
}

// flushBytes is the size at which a batch is published as one bus message.
const flushBytes = 1 << 20

func (in *Ingester) publish(ctx context.Context, payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	if err := in.pub.Publish(ctx, payload, ""); err != nil {
		if in.full != nil && in.full(err) {
			in.stats.refused.WithLabelValues("bus_full").Inc()
			return fmt.Errorf("%w: %v", ErrFull, err)
		}
		return err
	}
	return nil
}

func (in *Ingester) getBuf() *[]byte {
	if b, ok := in.bufs.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, flushBytes+64<<10)
	return &b
}

func (in *Ingester) putBuf(b *[]byte) {
	if cap(*b) <= 2*flushBytes {
		in.bufs.Put(b)
	}
}

// Result is the answer to an ingest request.
type Result struct {
	Accepted    int           `json:"accepted"`
	Quarantined []Quarantined `json:"quarantined,omitempty"`
}

// Quarantined names a line of the request that was not accepted.
type Quarantined struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// ServeHTTP handles POST /api/v1/events: a body of NDJSON events, plain or
// with Content-Encoding: gzip. It answers 202 with a Result once every
// valid line is durable; 400 when the body cannot be read; 413 when it is
// too large; 503 with Retry-After when over capacity.
func (in *Ingester) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.stats.requests.Inc()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "use POST with an NDJSON body")
		return
	}
	// Reserve the declared (or maximal) size before reading anything.
	reserve := r.ContentLength
	if reserve <= 0 || reserve > in.cfg.MaxRequestBytes || r.Header.Get("Content-Encoding") != "" {
		reserve = in.cfg.MaxRequestBytes
	}
	if !in.gate.tryAcquire(reserve) {
		in.stats.refused.WithLabelValues("inflight").Inc()
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "over capacity; retry later")
		return
	}
	defer in.gate.release(reserve)

	var body io.Reader = r.Body
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			httpError(w, http.StatusBadRequest, "reading gzip body: "+err.Error())
			return
		}
		defer zr.Close()
		body = zr
	default:
		httpError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q (use gzip or none)", enc))
		return
	}
	limited := &io.LimitedReader{R: body, N: in.cfg.MaxRequestBytes + 1}
	sc := bufio.NewScanner(limited)
	sc.Buffer(make([]byte, 64<<10), in.cfg.MaxLineBytes)

	now := in.now()
	source := r.RemoteAddr
	var res Result
	var rejected []Rejected
	buf := in.getBuf()
	defer in.putBuf(buf)
	pending := 0
	flush := func() error {
		if err := in.publish(r.Context(), *buf); err != nil {
			return err
		}
		res.Accepted += pending
		pending = 0
		*buf = (*buf)[:0]
		return nil
	}
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		ev, err := event.DecodeJSON(b)
		if err != nil {
			reason := "line " + strconv.Itoa(line) + ": " + err.Error()
			rejected = append(rejected, Rejected{Received: now, Source: source, Line: line, Reason: reason, Data: bytes.Clone(b)})
			res.Quarantined = append(res.Quarantined, Quarantined{Line: line, Reason: reason})
			continue
		}
		ev.Stamp(now)
		*buf = ev.AppendJSON(*buf)
		*buf = append(*buf, '\n')
		pending++
		if len(*buf) >= flushBytes {
			if err := flush(); err != nil {
				in.fail(w, err, res)
				return
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			// Keep what came before; the sender learns which line failed.
			in.stats.refused.WithLabelValues("line_too_long").Inc()
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("line %d is longer than %d bytes; nothing from it on was accepted (accepted before it: %d)", line+1, in.cfg.MaxLineBytes, res.Accepted))
			return
		}
		httpError(w, http.StatusBadRequest, fmt.Sprintf("reading body after line %d: %v", line, err))
		return
	}
	if limited.N <= 0 {
		in.stats.refused.WithLabelValues("too_large").Inc()
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes; split it", in.cfg.MaxRequestBytes))
		return
	}
	if len(rejected) > 0 && in.quar != nil {
		if err := in.quar.Quarantine(r.Context(), rejected); err != nil {
			in.log.Error("quarantining lines failed", "err", err, "lines", len(rejected))
			httpError(w, http.StatusInternalServerError, "could not keep the invalid lines; nothing was accepted")
			return
		}
	}
	if err := flush(); err != nil {
		in.fail(w, err, res)
		return
	}
	in.stats.accepted.Add(float64(res.Accepted))
	in.stats.quarantined.Add(float64(len(rejected)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(res)
}

// fail answers a publish failure. Batches published before it are durable
// and are counted in the answer, so that a sender resending the request
// learns nothing is lost (ids are assigned here, so a resend may store the
// first part twice: agents send events with their own ids to avoid that).
func (in *Ingester) fail(w http.ResponseWriter, err error, res Result) {
	in.stats.accepted.Add(float64(res.Accepted))
	if errors.Is(err, ErrFull) {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, fmt.Sprintf("event bus is full; retry later (accepted before it: %d)", res.Accepted))
		return
	}
	in.log.Error("publishing events failed", "err", err)
	httpError(w, http.StatusInternalServerError, fmt.Sprintf("could not store events (accepted before the failure: %d)", res.Accepted))
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// byteGate is a non-blocking semaphore over bytes.
type byteGate struct {
	mu   sync.Mutex
	max  int64
	held int64
}

func newByteGate(max int64) *byteGate { return &byteGate{max: max} }

func (g *byteGate) tryAcquire(n int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held+n > g.max {
		return false
	}
	g.held += n
	return true
}

func (g *byteGate) release(n int64) {
	g.mu.Lock()
	g.held -= n
	g.mu.Unlock()
}

func (g *byteGate) used() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}
