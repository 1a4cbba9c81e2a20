package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Stats are the server's counters since it was made.
type Stats struct {
	// Received counts messages read from the network.
	Received uint64
	// ParseErrors counts messages that were not well-formed syslog; they are
	// still forwarded, whole, as the event's message.
	ParseErrors uint64
	// Dropped counts messages lost: UDP datagrams that found the queue full,
	// and events still queued when the drain timeout ended.
	Dropped uint64
	// Truncated counts messages longer than MaxMessage, cut to it.
	Truncated uint64
	// Written counts events the sink accepted.
	Written uint64
	// SinkErrors counts failed sink writes (each is retried).
	SinkErrors uint64
	// FramingErrors counts TCP connections closed for a broken frame.
	FramingErrors uint64
	// Refused counts TCP connections closed for exceeding MaxConnections.
	Refused uint64
	// Queued is the number of events waiting for the sink; Connections the
	// open TCP connections.
	Queued      int
	Connections int
}

// Server receives syslog over UDP and TCP and writes batches of events to a
// sink. Make it with New, bind with Listen (or let Run do it), serve with Run.
type Server struct {
	cfg    Config
	sink   event.Sink
	log    *slog.Logger
	now    func() time.Time
	parser *Parser
	queue  chan event.Event

	mu    sync.Mutex
	udp   *net.UDPConn
	tcp   net.Listener
	conns map[net.Conn]struct{}
	ran   bool

	received, parseErrors, dropped, truncated   atomic.Uint64
	written, sinkErrors, framingErrors, refused atomic.Uint64
	connections                                 atomic.Int64
}

// New checks cfg and returns a server writing to sink. log may be nil (no
// logging), now may be nil (time.Now); now stamps Received and resolves
// year-less timestamps.
func New(cfg Config, sink event.Sink, log *slog.Logger, now func() time.Time) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("syslog: nil sink")
	}
	cfg = cfg.withDefaults()
	loc, _ := cfg.location()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Server{
		cfg:    cfg,
		sink:   sink,
		log:    log,
		now:    now,
		parser: NewParser(Options{Source: cfg.Source, Location: loc, Now: now}),
		queue:  make(chan event.Event, cfg.QueueSize),
		conns:  map[net.Conn]struct{}{},
	}, nil
}

// Listen binds the configured addresses, so that a caller learns of a bad
// address at once and can read the bound addresses (UDPAddr, TCPAddr) before
// Run. Run calls it when it has not been called.
func (s *Server) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp != nil || s.tcp != nil {
		return errors.New("syslog: already listening")
	}
	var lc net.ListenConfig
	if s.cfg.UDP != "" {
		pc, err := lc.ListenPacket(ctx, "udp", s.cfg.UDP)
		if err != nil {
			return fmt.Errorf("syslog: listening on udp %s: %w", s.cfg.UDP, err)
		}
		s.udp = pc.(*net.UDPConn)
		_ = s.udp.SetReadBuffer(4 << 20) // absorb bursts; best effort
	}
	if s.cfg.TCP != "" {
		l, err := lc.Listen(ctx, "tcp", s.cfg.TCP)
		if err != nil {
			if s.udp != nil {
				s.udp.Close()
				s.udp = nil
			}
			return fmt.Errorf("syslog: listening on tcp %s: %w", s.cfg.TCP, err)
		}
		s.tcp = l
	}
	return nil
}

// UDPAddr returns the bound UDP address, or nil when not listening on UDP.
func (s *Server) UDPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the bound TCP address, or nil when not listening on TCP.
func (s *Server) TCPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Received:      s.received.Load(),
		ParseErrors:   s.parseErrors.Load(),
		Dropped:       s.dropped.Load(),
		Truncated:     s.truncated.Load(),
		Written:       s.written.Load(),
		SinkErrors:    s.sinkErrors.Load(),
		FramingErrors: s.framingErrors.Load(),
		Refused:       s.refused.Load(),
		Queued:        len(s.queue),
		Connections:   int(s.connections.Load()),
	}
}

// Run serves until ctx ends, then stops reading, gives queued events up to
// DrainTimeout to reach the sink, and returns once every goroutine it started
// has ended. It returns nil after ctx ends, or the error that stopped a
// listener. A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("syslog: server already ran")
	}
	s.ran = true
	listening := s.udp != nil || s.tcp != nil
	s.mu.Unlock()
	if !listening {
		if err := s.Listen(ctx); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Writes to the sink outlive ctx by DrainTimeout so that the queue drains.
	writeCtx, stopWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWrites()
	stopDrainTimer := context.AfterFunc(runCtx, func() { time.AfterFunc(s.cfg.DrainTimeout, stopWrites) })
	defer stopDrainTimer()

	batcherDone := make(chan struct{})
	go func() {
		defer close(batcherDone)
		s.runBatcher(writeCtx)
	}()

	var readers sync.WaitGroup
	s.mu.Lock()
	udp, tcp := s.udp, s.tcp
	s.mu.Unlock()
	if udp != nil {
		readers.Go(func() {
			if err := s.serveUDP(runCtx, udp); err != nil {
				cancel(err)
			}
		})
	}
	if tcp != nil {
		readers.Go(func() {
			if err := s.serveTCP(runCtx, tcp, &readers); err != nil {
				cancel(err)
			}
		})
	}

	<-runCtx.Done()
	s.mu.Lock()
	if udp != nil {
		udp.Close()
	}
	if tcp != nil {
		tcp.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	readers.Wait()
	close(s.queue)
	<-batcherDone
	if err := context.Cause(runCtx); ctx.Err() == nil && err != nil {
		return err
	}
	return nil
}

// enqueue hands an event to the batcher. TCP readers block (wait is true),
// which stops them reading and pushes back on the sender; the UDP reader
// cannot push back and drops what does not fit.
func (s *Server) enqueue(ctx context.Context, ev event.Event, wait bool) bool {
	if !wait {
		select {
		case s.queue <- ev:
			return true
		default:
			s.dropped.Add(1)
			return false
		}
	}
	select {
	case s.queue <- ev:
		return true
	case <-ctx.Done():
		s.dropped.Add(1)
		return false
	}
}

// decode parses one message from addr into an event.
func (s *Server) decode(msg []byte, addr string, ip string) event.Event {
	s.received.Add(1)
	ev, err := s.parser.Parse(msg)
	if err != nil {
		s.parseErrors.Add(1)
	}
	ev.Received = s.now()
	if addr != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: FieldSourceAddress, Value: event.String(addr)})
	}
	// A relay adds the sender's address when the message names no host
	// (RFC 3164 section 4.3.2).
	if ip != "" && ev.Fields.Index(event.FieldHost) < 0 {
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldHost, Value: event.String(ip)})
	}
	return ev
}

func (s *Server) serveUDP(ctx context.Context, c *net.UDPConn) error {
	buf := make([]byte, s.cfg.MaxMessage+1)
	var last netip.AddrPort
	var addr, ip string
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("syslog: reading udp: %w", err)
		}
		if n == 0 {
			continue
		}
		if n > s.cfg.MaxMessage {
			n = s.cfg.MaxMessage
			s.truncated.Add(1)
		}
		if from != last {
			last, addr, ip = from, from.String(), from.Addr().Unmap().String()
		}
		s.enqueue(ctx, s.decode(buf[:n], addr, ip), false)
	}
}

func (s *Server) serveTCP(ctx context.Context, l net.Listener, wg *sync.WaitGroup) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("syslog: accepting tcp: %w", err)
		}
		if s.connections.Load() >= int64(s.cfg.MaxConnections) {
			s.refused.Add(1)
			s.log.Warn("syslog connection refused: too many connections", "remote", c.RemoteAddr().String(), "max", s.cfg.MaxConnections)
			c.Close()
			continue
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.connections.Add(1)
		s.mu.Unlock()
		wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				s.connections.Add(-1)
				c.Close()
			}()
			s.serveConn(ctx, c)
		})
	}
}

// serveConn reads one TCP connection until it ends or ctx ends.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	addr := c.RemoteAddr().String()
	ip := addr
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		ip = ap.Addr().Unmap().String()
	}
	fr := newFramer(c, s.cfg.MaxMessage)
	for {
		msg, cut, err := fr.next()
		if len(msg) > 0 {
			if cut {
				s.truncated.Add(1)
			}
			if !s.enqueue(ctx, s.decode(msg, addr, ip), true) {
				return
			}
		}
		if err != nil {
			var fe *framingError
			switch {
			case errors.As(err, &fe):
				s.framingErrors.Add(1)
				s.log.Warn("syslog connection closed: bad framing", "remote", addr, "err", err)
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), ctx.Err() != nil:
			default:
				s.log.Debug("syslog connection ended", "remote", addr, "err", err)
			}
			return
		}
	}
}

// runBatcher writes the queue to the sink in batches until the queue is
// closed and empty, retrying a refused batch until ctx ends.
func (s *Server) runBatcher(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]event.Event, 0, s.cfg.BatchSize)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		timer.Stop()
		s.write(ctx, batch)
		// The sink may keep the slice: the next batch gets a new one.
		batch = make([]event.Event, 0, s.cfg.BatchSize)
	}
	for {
		select {
		case ev, ok := <-s.queue:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(s.cfg.BatchWait)
			}
			batch = append(batch, ev)
			if len(batch) >= s.cfg.BatchSize {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// Backoff between retries of a refused batch.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
)

// write hands batch to the sink, retrying until it is accepted or ctx ends
// (then the batch is counted as dropped). Meanwhile the queue fills, which
// is the back-pressure on the readers.
func (s *Server) write(ctx context.Context, batch []event.Event) {
	wait := retryMin
	for {
		err := s.sink.Write(ctx, batch)
		if err == nil {
			s.written.Add(uint64(len(batch)))
			if wait > retryMin {
				s.log.Info("syslog sink accepts events again")
			}
			return
		}
		s.sinkErrors.Add(1)
		if ctx.Err() != nil {
			s.dropped.Add(uint64(len(batch)))
			s.log.Error("syslog events lost at shutdown: sink refused them until the drain timeout", "events", len(batch), "err", err)
			return
		}
		if wait == retryMin {
			s.log.Warn("syslog sink refused a batch; retrying", "events", len(batch), "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		wait = min(wait*2, retryMax)
	}
}
