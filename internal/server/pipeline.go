package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danang-soc/vigil/correlate"
	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
	"github.com/prometheus/client_golang/prometheus"
)

// pipelineStore is what the pipeline needs of the store.
type pipelineStore interface {
	stateStore
	WriteEncoded(ctx context.Context, batch []event.Event, docs []string) (int, error)
	WriteAlerts(ctx context.Context, alerts []event.Alert) (int, error)
	UpsertIncident(ctx context.Context, inc event.Incident, alertIDs []event.ID) error
}

// publisher pushes live updates to the console.
type publisher interface {
	Publish(kind string, data any)
}

// pipeline processes one bus batch at a time: detection, correlation,
// storage, incidents, live push. It is idempotent: a batch delivered twice
// stores nothing twice (event and alert ids) and raises no second alert.
type pipeline struct {
	rules atomic.Pointer[sigma.Ruleset]
	// disabled holds the ids of rules an analyst switched off: they neither
	// alert nor feed correlation.
	disabled atomic.Pointer[map[string]bool]
	corr     atomic.Pointer[correlate.Engine]
	corrMu   sync.Mutex // serialises correlation with snapshots and rule swaps; guards journal
	journal  journal
	// newestEvent is the newest event time seen and lastArrival when it
	// came (guarded by corrMu), for advancing correlation when idle.
	newestEvent, lastArrival time.Time
	store                    pipelineStore
	state                    stateStore
	group                    *correlate.Grouper
	pub                      publisher
	now                      func() time.Time
	log                      *slog.Logger
	workers                  int

	events     prometheus.Counter
	alerts     *prometheus.CounterVec
	batches    prometheus.Counter
	late       prometheus.Counter
	suppressed prometheus.Counter
	batchTime  prometheus.Histogram
	stageTime  *prometheus.HistogramVec
}

func newPipeline(st pipelineStore, g *correlate.Grouper, pub publisher, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*pipeline, error) {
	p := &pipeline{
		store: st, state: st, group: g, pub: pub, now: now, log: log, workers: runtime.GOMAXPROCS(0),
		events:     prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_pipeline_events_total", Help: "Events processed by detection and stored."}),
		alerts:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_alerts_total", Help: "Alerts raised, by engine and level."}, []string{"engine", "level"}),
		batches:    prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_pipeline_batches_total", Help: "Bus batches processed."}),
		late:       prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_correlation_late_events_total", Help: "Events that arrived later than the correlation lateness bound and were not correlated."}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_alerts_suppressed_total", Help: "Alerts that matched an analyst's suppression."}),
		batchTime:  prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_pipeline_batch_seconds", Help: "Time to process one bus batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		stageTime:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_pipeline_stage_seconds", Help: "Time spent per bus batch in each stage.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{p.events, p.alerts, p.batches, p.late, p.suppressed, p.batchTime, p.stageTime} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering pipeline metrics: %w", err)
		}
	}
	return p, nil
}

// match is one rule matching one event of a batch.
type match struct {
	event int
	rule  *sigma.Rule
}

// batch is one bus batch, decoded and run through detection by prepare,
// and how far commit got with it: a commit that fails is retried with the
// same batch, and does not feed correlation twice.
type batch struct {
	events  []event.Event
	docs    []string // the events' JSON, as the bus carried them
	matches []match
	start   time.Time

	stored, correlated bool
	alerts             []event.Alert
}

// prepare decodes a bus batch and runs detection over it. It changes
// nothing else, so it runs ahead, on the next batch, while commit finishes
// the one before (bus.ConsumeStaged).
func (p *pipeline) prepare(_ context.Context, payload []byte) (*batch, error) {
	start := time.Now()
	events, docs, err := decodeBatch(payload)
	if err != nil {
		// Ingest validated every line: a bad batch is a bug, not data to retry forever.
		p.log.Error("skipping undecodable batch", "err", err, "bytes", len(payload))
		return &batch{start: start}, nil
	}
	t0 := time.Now()
	matches := p.detect(events)
	p.stageTime.WithLabelValues("decode").Observe(t0.Sub(start).Seconds())
	p.stageTime.WithLabelValues("detect").Observe(time.Since(t0).Seconds())
	return &batch{events: events, docs: docs, matches: matches, start: start}, nil
}

// commit stores a prepared batch, feeds its matches to correlation, and
// raises its alerts; the bus acknowledges the batch when it returns nil.
// Batches commit one at a time, in order.
func (p *pipeline) commit(ctx context.Context, b *batch) error {
	if len(b.events) == 0 {
		return nil
	}
	// Storing the events needs nothing from correlation: it runs beside
	// it, so that the single SQLite writer starts at once.
	stored := make(chan error, 1)
	if b.stored {
		stored <- nil
	} else {
		go func() {
			st := time.Now()
			_, err := p.store.WriteEncoded(ctx, b.events, b.docs)
			p.stageTime.WithLabelValues("store").Observe(time.Since(st).Seconds())
			stored <- err
		}()
	}
	if !b.correlated {
		t := time.Now()
		b.alerts, b.correlated = p.correlate(b.events, b.matches), true
		p.stageTime.WithLabelValues("correlate").Observe(time.Since(t).Seconds())
	}
	if err := <-stored; err != nil {
		return fmt.Errorf("storing %d events: %w", len(b.events), err)
	}
	b.stored = true
	if err := p.flushJournal(ctx, p.state); err != nil {
		return err
	}
	if err := p.raise(ctx, b.alerts); err != nil {
		return err
	}
	p.events.Add(float64(len(b.events)))
	p.batches.Inc()
	p.batchTime.Observe(time.Since(b.start).Seconds())
	return nil
}

// correlate feeds the matches of a batch to correlation (journalling them)
// and returns the alerts of the batch: those of its detection rules and
// those correlation raised.
func (p *pipeline) correlate(events []event.Event, matches []match) []event.Alert {
	var alerts []event.Alert
	p.corrMu.Lock()
	eng := p.corr.Load()
	emit := func(a event.Alert) { alerts = append(alerts, a) }
	created := p.now()
	for i := range events {
		if events[i].Time.After(p.newestEvent) {
			p.newestEvent = events[i].Time
		}
	}
	p.lastArrival = created
	for _, m := range matches {
		ev := &events[m.event]
		refs := m.rule.Refs()
		if eng != nil && eng.References(refs...) {
			p.journal.add(refs, ev)
			if err := eng.Observe(refs, ev, emit); err != nil {
				p.late.Inc()
				p.log.Debug("event too late for correlation", "event_id", ev.ID, "err", err)
			}
		}
		if !m.rule.CorrelationOnly || (eng != nil && eng.Generates(refs...)) {
			alerts = append(alerts, alertFor(m.rule, ev, created))
		}
	}
	p.corrMu.Unlock()
	for i := range alerts {
		if alerts[i].Created.IsZero() {
			alerts[i].Created = created
		}
	}
	return alerts
}

// raise stores alerts, groups them into incidents and pushes both live.
func (p *pipeline) raise(ctx context.Context, alerts []event.Alert) error {
	if len(alerts) > 0 {
		if _, err := p.store.WriteAlerts(ctx, alerts); err != nil {
			return fmt.Errorf("storing %d alerts: %w", len(alerts), err)
		}
	}
	for _, a := range alerts {
		p.alerts.WithLabelValues(a.Engine, a.Level.String()).Inc()
		if p.pub != nil {
			p.pub.Publish("alert", a)
		}
		if p.group == nil {
			continue
		}
		res := p.group.Add(a)
		if res.Outcome == correlate.Suppressed {
			p.suppressed.Inc()
			continue
		}
		if err := p.store.UpsertIncident(ctx, res.Incident, []event.ID{a.ID}); err != nil {
			return fmt.Errorf("storing incident %s: %w", res.Incident.ID, err)
		}
		if p.pub != nil && res.Outcome != correlate.Duplicate {
			p.pub.Publish("incident", res.Incident)
		}
	}
	return nil
}

// advance moves correlation's clock when the stream is idle, so that rules
// judged when their window closes (lt, eq, value_avg, ...) are judged
// without waiting for newer events.
func (p *pipeline) advance(ctx context.Context) error {
	var alerts []event.Alert
	p.corrMu.Lock()
	// Event time is extrapolated from the newest event by the wall time
	// since it arrived: logs replayed from the past keep their own clock.
	idle := p.now().Sub(p.lastArrival)
	if eng := p.corr.Load(); eng != nil && !p.lastArrival.IsZero() && idle > time.Second {
		eng.Advance(p.newestEvent.Add(idle), func(a event.Alert) { alerts = append(alerts, a) })
	}
	p.corrMu.Unlock()
	created := p.now()
	for i := range alerts {
		if alerts[i].Created.IsZero() {
			alerts[i].Created = created
		}
	}
	return p.raise(ctx, alerts)
}

// detect runs the Sigma rules over the batch on all cores and returns the
// matches in event order.
func (p *pipeline) detect(events []event.Event) []match {
	rs := p.rules.Load()
	if rs == nil || len(events) == 0 {
		return nil
	}
	var off map[string]bool
	if d := p.disabled.Load(); d != nil {
		off = *d
	}
	workers := p.workers
	if len(events) < 256 {
		workers = 1
	}
	parts := make([][]match, workers)
	var wg sync.WaitGroup
	chunk := (len(events) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(events))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			var out []match
			for i := lo; i < hi; i++ {
				rs.Match(&events[i], func(r *sigma.Rule) {
					if !off[r.ID] {
						out = append(out, match{i, r})
					}
				})
			}
			parts[w] = out
		}(w, lo, hi)
	}
	wg.Wait()
	var all []match
	for _, part := range parts {
		all = append(all, part...)
	}
	return all
}

// alertFor makes the alert of a detection rule matching one event. Its id
// is derived from the rule and the event, so re-delivery makes no new alert.
func alertFor(r *sigma.Rule, ev *event.Event, created time.Time) event.Alert {
	a := event.Alert{
		ID:        event.DeriveID(r.ID, []event.ID{ev.ID}),
		RuleID:    r.ID,
		RuleTitle: r.Title,
		Level:     r.Level,
		Engine:    "sigma",
		Time:      ev.Time,
		Created:   created,
		Tags:      r.Tags,
		EventIDs:  []event.ID{ev.ID},
	}
	fillEntities(&a, ev)
	a.Summary = summary(r.Title, &a)
	return a
}

func fillEntities(a *event.Alert, ev *event.Event) {
	a.Host = ev.Host()
	a.User = firstField(ev, "db.user", "user.name")
	a.Database = firstField(ev, "db.name")
	a.SourceIP = firstField(ev, "source.ip")
}

func firstField(ev *event.Event, keys ...string) string {
	for _, k := range keys {
		if v := ev.Fields.Str(k); v != "" {
			return v
		}
	}
	return ""
}

func summary(title string, a *event.Alert) string {
	var b bytes.Buffer
	b.WriteString(title)
	sep := " — "
	for _, kv := range [][2]string{{"host", a.Host}, {"user", a.User}, {"db", a.Database}, {"from", a.SourceIP}} {
		if kv[1] != "" {
			b.WriteString(sep)
			b.WriteString(kv[0] + " " + kv[1])
			sep = ", "
		}
	}
	return b.String()
}

// decodeBatch decodes the NDJSON payload of one bus message. It returns
// the lines too, as the events' stored documents: ingest wrote them with
// event.AppendJSON.
func decodeBatch(payload []byte) ([]event.Event, []string, error) {
	n := bytes.Count(payload, []byte{'\n'}) + 1
	events := make([]event.Event, 0, n)
	docs := make([]string, 0, n)
	all := string(payload) // one copy for the batch's documents
	for line, off := 1, 0; off < len(payload); line++ {
		end := len(payload)
		if i := bytes.IndexByte(payload[off:], '\n'); i >= 0 {
			end = off + i
		}
		lo, hi := off, end
		off = end + 1
		for lo < hi && isSpace(payload[lo]) {
			lo++
		}
		for hi > lo && isSpace(payload[hi-1]) {
			hi--
		}
		if lo == hi {
			continue
		}
		ev, err := event.DecodeJSON(payload[lo:hi])
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		events = append(events, ev)
		docs = append(docs, all[lo:hi])
	}
	return events, docs, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// CorrelationRules converts the parsed Sigma correlations of a ruleset into
// the correlation engine's rules; `vigil hunt` uses it too.
func CorrelationRules(rs *sigma.Ruleset) ([]correlate.Rule, []error) {
	var out []correlate.Rule
	var errs []error
	for _, c := range rs.Correlations() {
		typ, err := correlate.ParseType(c.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", c.Path, c.Line, err))
			continue
		}
		r := correlate.Rule{
			ID: c.ID, Name: c.Name, Title: c.Title, Level: c.Level, Tags: c.Tags, Type: typ,
			Rules: c.Rules, GroupBy: c.GroupBy, Timespan: c.Timespan, Aliases: c.Aliases, Generate: c.Generate,
		}
		if c.Condition.Field != "" {
			r.Condition.Field = []string{c.Condition.Field}
		}
		for _, cmp := range c.Condition.Ops {
			op, err := correlate.ParseOp(cmp.Op)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %w", c.Path, c.Line, err))
				continue
			}
			r.Condition.Ops = append(r.Condition.Ops, correlate.Comparison{Op: op, Value: cmp.Value})
		}
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", c.Path, c.Line, err))
			continue
		}
		out = append(out, r)
	}
	return out, errs
}
