package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danang-soc/vigil/collectors/file"
	"github.com/danang-soc/vigil/collectors/packet"
	"github.com/danang-soc/vigil/collectors/syslog"
	"github.com/danang-soc/vigil/correlate"
	"github.com/danang-soc/vigil/dashboards"
	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/bus"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/ingest"
	"github.com/danang-soc/vigil/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
)

// GCPercent is the garbage collector's target that `vigil serve` runs with
// unless GOGC is set: the heap may grow to five times what is live between
// collections. The pipeline allocates events batch after batch, and
// collecting less often gives BenchmarkIngestHTTPToStore 5-10% more events
// per CPU-second; the live heap stays small (SQLite's pages are outside it).
const GCPercent = 400

// Options are what the command line adds to the configuration.
type Options struct {
	// Bundled is the rule content shipped in the binary (rules.FS's sigma
	// folder); nil loads none.
	Bundled fs.FS
	// Placeholders are the default values of the bundled rules'
	// placeholders; the configuration's values replace them name by name.
	Placeholders map[string][]string
	// Demo replays the bundled attack once the server is up.
	Demo bool
	// Ready, when not nil, is called with the console's address and the
	// administrator's one-time password (empty when the admin exists) once
	// the server listens.
	Ready func(addr, oneTimePassword string)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Server is the whole platform in one process.
type Server struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	bus     *bus.Bus
	store   *store.Store
	ident   *identity.Store
	in      *ingest.Ingester
	pipe    *pipeline
	group   *correlate.Grouper
	console *dashboards.Console
	rules   ruleSources
	ln      net.Listener

	syslogTCP atomic.Value // string: the bound syslog TCP address
	syslog    atomic.Value // *syslog.Server, once started
	capture   atomic.Value // *packet.Capture, once started

	oneTimePassword string
	ruleErrs        []sigma.RuleError
	ruleMu          sync.Mutex
	disabledMu      sync.Mutex // serialises changes to the disabled rules
}

// New opens the store, the bus and the identity database, loads the rules
// and binds the listen address. Close releases what New opened if Run is
// never called.
func New(ctx context.Context, cfg Config, opts Options, log *slog.Logger) (s *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	s = &Server{cfg: cfg, opts: opts, log: log, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.store, err = store.Open(ctx, store.Config{
		Path: filepath.Join(cfg.Data, store.FileName), Retention: cfg.Store.Retention, MaxBytes: cfg.Store.MaxBytes,
		Now: opts.Now, Log: log.With("part", "store"),
	})
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	s.ident, err = identity.OpenConfig(ctx, filepath.Join(cfg.Data, "identity.db"),
		identity.Config{InsecureCookies: !*cfg.Console.SecureCookies}, opts.Now, log.With("part", "identity"))
	if err != nil {
		return nil, fmt.Errorf("opening identity: %w", err)
	}
	otp, created, err := s.ident.EnsureAdmin(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating the first administrator: %w", err)
	}
	if created {
		s.oneTimePassword = otp
	}
	s.bus, err = bus.Open(ctx, cfg.Bus, log.With("part", "bus"))
	if err != nil {
		return nil, err
	}
	s.in, err = ingest.New(cfg.Ingest, s.bus, quarantineAdapter{s.store}, func(err error) bool { return errors.Is(err, bus.ErrFull) },
		opts.Now, log.With("part", "ingest"), s.reg)
	if err != nil {
		return nil, err
	}
	s.group, err = correlate.NewGrouper(correlate.GrouperConfig{Window: cfg.Incidents.Window}, log.With("part", "incidents"), opts.Now)
	if err != nil {
		return nil, err
	}
	if err := s.loadGrouper(ctx); err != nil {
		return nil, err
	}
	s.console, err = dashboards.New(dashboards.Config{Origin: cfg.Console.Origin}, dashboards.Deps{
		Identity: s.ident, Feed: feed{s.store}, Now: opts.Now, Log: log.With("part", "console"),
	})
	if err != nil {
		return nil, err
	}
	s.pipe, err = newPipeline(s.store, s.group, s, opts.Now, log.With("part", "pipeline"), s.reg)
	if err != nil {
		return nil, err
	}
	placeholders := map[string][]string{}
	for k, v := range opts.Placeholders {
		placeholders[k] = v
	}
	for k, v := range cfg.Rules.Placeholders {
		placeholders[k] = v
	}
	s.rules = ruleSources{bundled: opts.Bundled, dirs: cfg.Rules.Dirs, cfg: sigma.Config{Placeholders: placeholders}}
	if err := s.reloadRules(ctx); err != nil {
		return nil, err
	}
	if err := s.loadDisabledRules(ctx); err != nil {
		return nil, err
	}
	s.reg.MustRegister(statsCollector{s})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	s.ln = ln
	return s, nil
}

// syslogAddr is the bound syslog TCP address, once Run has bound it.
func (s *Server) syslogAddr() string {
	a, _ := s.syslogTCP.Load().(string)
	return a
}

// Addr is the address the HTTP server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// reloadRules loads every rule source, swaps the detection ruleset and the
// correlation engine (carrying its state over), and keeps the errors for
// the console and the log.
func (s *Server) reloadRules(ctx context.Context) error {
	rs, errs := s.rules.load()
	for _, e := range errs {
		s.log.Warn("rule rejected", "path", e.Path, "line", e.Line, "rule_id", e.RuleID, "err", e.Err)
	}
	crules, cerrs := CorrelationRules(rs)
	for _, e := range cerrs {
		s.log.Warn("correlation rule rejected", "err", e)
	}
	eng, err := correlate.New(correlate.Config{
		Lateness: s.cfg.Correlate.Lateness, MaxKeysPerRule: s.cfg.Correlate.MaxKeysPerRule, MaxEventsPerKey: s.cfg.Correlate.MaxEventsPerKey,
	}, crules, s.log.With("part", "correlate"), s.opts.Now)
	if err != nil {
		return fmt.Errorf("starting correlation: %w", err)
	}
	s.pipe.corrMu.Lock()
	old := s.pipe.corr.Load()
	if old != nil {
		// Carry the state of the rules that remain over to the new engine.
		var b bytes.Buffer
		if err := old.Snapshot(&b); err != nil {
			s.pipe.corrMu.Unlock()
			return fmt.Errorf("saving correlation state: %w", err)
		}
		if err := eng.Restore(&b); err != nil {
			s.log.Error("correlation state not carried over to the new rules", "err", err)
		}
	}
	s.pipe.rules.Store(rs)
	s.pipe.corr.Store(eng)
	s.pipe.corrMu.Unlock()
	if old == nil {
		alerts, err := s.pipe.recover(ctx, s.store)
		if err != nil {
			return err
		}
		if len(alerts) > 0 {
			if _, err := s.store.WriteAlerts(ctx, alerts); err != nil {
				return fmt.Errorf("storing replayed correlation alerts: %w", err)
			}
		}
	}
	s.ruleMu.Lock()
	s.ruleErrs = errs
	s.ruleMu.Unlock()
	s.log.Info("rules loaded", "rules", rs.Len(), "correlations", len(crules), "rejected", len(errs)+len(cerrs))
	return nil
}

// saveCorrelation stores the correlation engine's state.
func (s *Server) saveCorrelation(ctx context.Context) error { return s.pipe.snapshot(ctx, s.store) }

// Run serves until ctx ends, then shuts down gracefully: the HTTP server
// stops taking requests and drains, collectors stop, the pipeline finishes
// and acknowledges its batch, correlation state is saved.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)

	httpSrv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	g.Go(func() error {
		if err := httpSrv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, c := context.WithTimeout(context.WithoutCancel(gctx), 15*time.Second)
		defer c()
		return httpSrv.Shutdown(sctx)
	})
	// Collectors write through ingest (durable before acknowledged).
	collectCtx, stopCollect := context.WithCancel(gctx)
	defer stopCollect()
	if s.cfg.Syslog.UDP != "" || s.cfg.Syslog.TCP != "" {
		sl, err := syslog.New(s.cfg.Syslog, s.in, s.log.With("part", "syslog"), s.opts.Now)
		if err != nil {
			return err
		}
		if err := sl.Listen(ctx); err != nil {
			return err
		}
		s.log.Info("syslog listening", "udp", addrString(sl.UDPAddr()), "tcp", addrString(sl.TCPAddr()))
		s.syslogTCP.Store(addrString(sl.TCPAddr()))
		s.syslog.Store(sl)
		g.Go(func() error { return sl.Run(collectCtx) })
	}
	for i, f := range s.cfg.Files {
		t, err := s.tailer(f)
		if err != nil {
			return fmt.Errorf("files[%d]: %w", i, err)
		}
		g.Go(func() error { return t.Run(collectCtx) })
	}
	if pc := s.cfg.Packet; pc.Interface != "" {
		capture, err := packet.NewCapture(packet.Config{
			Interface: pc.Interface, Filter: pc.Filter, Postgres: pc.PostgresPorts, MySQL: pc.MySQLPorts,
			Detect: pc.Detect, Promiscuous: pc.Promiscuous,
		}, s.in, s.log.With("part", "packet"), s.opts.Now)
		if err != nil {
			return fmt.Errorf("packet capture: %w", err)
		}
		s.capture.Store(capture)
		g.Go(func() error { return capture.Run(collectCtx) })
	}
	g.Go(func() error { return s.console.Run(gctx) })
	g.Go(func() error { return bus.ConsumeStaged(gctx, s.bus, s.pipe.prepare, s.pipe.commit) })
	g.Go(func() error {
		return s.every(gctx, s.cfg.Correlate.SnapshotEvery, "saving correlation state", s.saveCorrelation)
	})
	g.Go(func() error { return s.every(gctx, s.cfg.Store.PruneEvery, "pruning the store", s.prune) })
	g.Go(func() error { return s.every(gctx, time.Second, "advancing correlation", s.pipe.advance) })
	if len(s.cfg.Rules.Dirs) > 0 {
		g.Go(func() error { return s.watchRules(gctx) })
	}
	if s.opts.Demo {
		g.Go(func() error { return s.runDemo(gctx) })
	}
	if s.opts.Ready != nil {
		s.opts.Ready("http://"+s.ln.Addr().String(), s.oneTimePassword)
	}
	err := g.Wait()
	if serr := s.saveCorrelation(context.WithoutCancel(ctx)); serr != nil {
		s.log.Error("saving correlation state at shutdown failed", "err", serr)
	}
	return err
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// every runs f every d until ctx ends; failures are logged and retried at
// the next tick.
func (s *Server) every(ctx context.Context, d time.Duration, what string, f func(context.Context) error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := f(ctx); err != nil && ctx.Err() == nil {
				s.log.Error(what+" failed", "err", err)
			}
		}
	}
}

func (s *Server) prune(ctx context.Context) error {
	st, err := s.store.Prune(ctx, s.opts.Now())
	if err != nil {
		return err
	}
	s.log.Info("store pruned", "stats", st)
	return nil
}

// watchRules reloads the rules when a configured directory changes; the old
// ruleset serves until the new one is ready, so no event goes unchecked.
func (s *Server) watchRules(ctx context.Context) error {
	last, err := s.rules.fingerprint()
	if err != nil {
		s.log.Warn("watching rules", "err", err)
	}
	t := time.NewTicker(s.cfg.Rules.ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		fp, err := s.rules.fingerprint()
		if err != nil {
			s.log.Warn("watching rules", "err", err)
			continue
		}
		if fp == last {
			continue
		}
		last = fp
		if err := s.reloadRules(ctx); err != nil {
			s.log.Error("reloading rules failed; the previous rules stay", "err", err)
		}
	}
}

// Close releases the store, the bus and the identity database.
func (s *Server) Close() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.bus != nil {
		s.bus.Close()
		s.bus = nil
	}
	if s.store != nil {
		s.store.Close()
		s.store = nil
	}
	if s.ident != nil {
		s.ident.Close()
		s.ident = nil
	}
}

// Publish pushes a live update to the console; a failure to push never
// fails the pipeline (the console reloads from the store).
func (s *Server) Publish(kind string, data any) { s.publish(kind, data) }

func (s *Server) publish(kind string, data any) {
	var err error
	switch v := data.(type) {
	case event.Alert:
		err = s.console.WriteAlerts(context.Background(), []event.Alert{v})
	case event.Incident:
		err = s.console.PublishIncident(v)
	default:
		err = fmt.Errorf("unknown live update %T", data)
	}
	if err != nil {
		s.log.Warn("live update not pushed", "kind", kind, "err", err)
	}
}

// feed gives the console its starting point from the store.
type feed struct{ st *store.Store }

func (f feed) RecentAlerts(ctx context.Context, limit int) ([]event.Alert, error) {
	p, err := f.st.Alerts(ctx, store.AlertQuery{Limit: limit})
	return p.Items, err
}

func (f feed) RecentIncidents(ctx context.Context, limit int) ([]event.Incident, error) {
	p, err := f.st.Incidents(ctx, store.IncidentQuery{Limit: limit})
	return p.Items, err
}

// tailer makes the file collector of one configured log file, writing
// through ingest and checkpointing in the store.
func (s *Server) tailer(f FileInput) (*file.Tailer, error) {
	if _, err := f.Source.Decoder(); err != nil {
		return nil, err
	}
	newDecoder := func() file.Decoder {
		d, _ := f.Source.Decoder() // validated above
		return d
	}
	return file.New(file.Config{Paths: []string{f.Path}, Name: "file:" + f.Format + ":" + f.Path, FromEnd: f.FromEnd},
		newDecoder, s.in, checkpoints{s.store}, s.log.With("part", "file", "path", f.Path), s.opts.Now)
}

// checkpoints keeps the file collectors' positions in the store.
type checkpoints struct{ st *store.Store }

func (c checkpoints) Load(ctx context.Context, key string) ([]byte, error) {
	return c.st.State(ctx, "checkpoint."+key)
}

func (c checkpoints) Save(ctx context.Context, key string, b []byte) error {
	return c.st.PutState(ctx, "checkpoint."+key, b)
}

// quarantineAdapter keeps ingest's rejected lines in the store.
type quarantineAdapter struct{ st *store.Store }

func (q quarantineAdapter) Quarantine(ctx context.Context, items []ingest.Rejected) error {
	out := make([]store.Quarantined, len(items))
	for i, it := range items {
		out[i] = store.Quarantined{Received: it.Received, Source: it.Source, Line: it.Line, Reason: it.Reason, Data: it.Data}
	}
	return q.st.Quarantine(ctx, out)
}
