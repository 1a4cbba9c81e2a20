package dashboards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Message is what the hub sends to clients, as JSON:
// {"type":"alert","seq":42,"data":{...}}.
type Message struct {
	// Type is "alert", "incident" or "health"; the hub itself sends "hello"
	// (first message of a connection) and "reset" (the client asked to
	// resume from a point the hub no longer holds: reload, then follow).
	Type string `json:"type"`
	// Seq increases by one with every published message. A client that
	// reconnects with ?since=SEQ&epoch=EPOCH gets every message after SEQ.
	Seq  uint64 `json:"seq"`
	Data any    `json:"data,omitempty"`
}

// Message types.
const (
	TypeAlert    = "alert"
	TypeIncident = "incident"
	TypeHealth   = "health"
	TypeHello    = "hello"
	TypeReset    = "reset"
)

// HubConfig tunes the hub. Zero fields take the defaults.
type HubConfig struct {
	// SendBuffer is the number of messages queued per client (default 256).
	// When a client's queue is full it is disconnected: it resumes with
	// ?since and loses nothing the ring still holds.
	SendBuffer int
	// Ring is the number of recent messages kept for resuming clients
	// (default 4096).
	Ring int
	// MaxClients bounds the connections (default 512); more are refused
	// with 503.
	MaxClients int
	// PingInterval is the keep-alive period (default 30s); a client that
	// does not answer within two periods is dropped.
	PingInterval time.Duration
	// WriteTimeout bounds one write to a client (default 10s).
	WriteTimeout time.Duration
}

func (c HubConfig) withDefaults() HubConfig {
	if c.SendBuffer == 0 {
		c.SendBuffer = 256
	}
	if c.Ring == 0 {
		c.Ring = 4096
	}
	if c.MaxClients == 0 {
		c.MaxClients = 512
	}
	if c.PingInterval == 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c HubConfig) Validate() error {
	if c.SendBuffer < 0 || c.Ring < 0 || c.MaxClients < 0 || c.PingInterval < 0 || c.WriteTimeout < 0 {
		return errors.New("dashboards: hub sizes and durations must not be negative")
	}
	return nil
}

// HubStats are the hub's counters, for metrics.
type HubStats struct {
	Clients   int    // connected now
	Seq       uint64 // last published sequence number
	Published uint64 // messages published
	// SlowDisconnects counts clients dropped because their send buffer
	// was full.
	SlowDisconnects uint64
	Resets          uint64 // resumes the ring could not serve
	Refused         uint64 // connections refused (limit or shutdown)
}

// frame is one message ready to send, in full and with personal data
// masked.
type frame struct {
	seq          uint64
	full, masked *websocket.PreparedMessage
}

// Hub fans published messages out to websocket clients.
type Hub struct {
	cfg   HubConfig
	log   *slog.Logger
	epoch string

	mu      sync.Mutex
	seq     uint64
	ring    []frame // circular, len(ring) == cfg.Ring
	n       int     // frames held
	clients map[*client]struct{}
	closed  bool

	published, slow, resets, refused atomic.Uint64
}

type client struct {
	send   chan *websocket.PreparedMessage
	kicked chan struct{} // closed when the hub drops the client
	reason int           // websocket close code, set before kicked is closed
	masked bool
}

// NewHub returns a hub. epoch names this hub's sequence: it changes with
// every start, so that a client resuming across a restart is told to reset.
func NewHub(cfg HubConfig, now func() time.Time, log *slog.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		cfg: cfg, log: log, epoch: strconv.FormatInt(now().UnixNano(), 36),
		ring: make([]frame, cfg.Ring), clients: make(map[*client]struct{}),
	}, nil
}

// Run waits for ctx to end, then disconnects every client (close code
// "going away") and refuses new ones.
func (h *Hub) Run(ctx context.Context) error {
	<-ctx.Done()
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		c.reason = websocket.CloseGoingAway
		close(c.kicked)
	}
	h.mu.Unlock()
	return nil
}

// Publish sends msg to every connected client and keeps it for resuming
// ones, assigning msg.Seq (any value set by the caller is replaced). It
// returns the sequence number. It never blocks on a client. msg.Data must
// encode as JSON; personal data in it is masked for clients whose role may
// not see it (see maskData).
func (h *Hub) Publish(msg Message) (uint64, error) {
	full, err := json.Marshal(msg.Data)
	if err != nil {
		return 0, fmt.Errorf("encoding a %s message: %w", msg.Type, err)
	}
	masked, err := json.Marshal(maskData(msg.Data))
	if err != nil {
		return 0, fmt.Errorf("encoding a masked %s message: %w", msg.Type, err)
	}
	typ, _ := json.Marshal(msg.Type)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	f := frame{seq: h.seq}
	if f.full, err = prepare(typ, h.seq, full); err != nil {
		h.seq--
		return 0, err
	}
	f.masked = f.full
	if string(masked) != string(full) {
		if f.masked, err = prepare(typ, h.seq, masked); err != nil {
			h.seq--
			return 0, err
		}
	}
	h.ring[int((h.seq-1)%uint64(len(h.ring)))] = f
	h.n = min(h.n+1, len(h.ring))
	h.published.Add(1)
	for c := range h.clients {
		pm := f.full
		if c.masked {
			pm = f.masked
		}
		select {
		case c.send <- pm:
		default:
			// Full: drop the client rather than block the hub or lose
			// a message silently; it resumes from its last seq.
			delete(h.clients, c)
			c.reason = websocket.CloseTryAgainLater
			close(c.kicked)
			h.slow.Add(1)
			h.log.Warn("slow websocket client disconnected", "buffer", cap(c.send))
		}
	}
	return h.seq, nil
}

func prepare(typ []byte, seq uint64, data []byte) (*websocket.PreparedMessage, error) {
	b := make([]byte, 0, len(typ)+len(data)+40)
	b = append(b, `{"type":`...)
	b = append(b, typ...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	if string(data) != "null" {
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	b = append(b, '}')
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		return nil, fmt.Errorf("preparing a websocket message: %w", err)
	}
	return pm, nil
}

// Seq returns the last published sequence number and the hub's epoch.
func (h *Hub) Seq() (seq uint64, epoch string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq, h.epoch
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	n, seq := len(h.clients), h.seq
	h.mu.Unlock()
	return HubStats{Clients: n, Seq: seq, Published: h.published.Load(), SlowDisconnects: h.slow.Load(),
		Resets: h.resets.Load(), Refused: h.refused.Load()}
}

var errHubClosed = errors.New("the console is shutting down")
var errHubFull = errors.New("too many live connections")

// resume is where a client wants to start: from now (!ok), or after seq of
// epoch.
type resume struct {
	ok    bool
	since uint64
	epoch string
}

// subscribe registers a client and returns the messages it must be sent
// first: a hello or a reset, then what it missed. Registration and backlog
// are taken under one lock, so nothing is missed or sent twice.
func (h *Hub) subscribe(from resume, masked bool) (*client, []*websocket.PreparedMessage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		h.refused.Add(1)
		return nil, nil, errHubClosed
	case len(h.clients) >= h.cfg.MaxClients:
		h.refused.Add(1)
		return nil, nil, errHubFull
	}
	c := &client{send: make(chan *websocket.PreparedMessage, h.cfg.SendBuffer), kicked: make(chan struct{}), masked: masked}
	typ := TypeHello
	oldest := h.seq - uint64(h.n) // the ring holds (oldest, seq]
	if from.ok && (from.epoch != h.epoch || from.since > h.seq || from.since < oldest) {
		typ = TypeReset
		h.resets.Add(1)
	}
	first, err := prepare([]byte(`"`+typ+`"`), h.seq, []byte(`{"epoch":"`+h.epoch+`"}`))
	if err != nil {
		return nil, nil, err
	}
	out := []*websocket.PreparedMessage{first}
	if typ == TypeHello && from.ok {
		for s := from.since + 1; s <= h.seq; s++ {
			f := h.ring[int((s-1)%uint64(len(h.ring)))]
			if masked {
				out = append(out, f.masked)
			} else {
				out = append(out, f.full)
			}
		}
	}
	h.clients[c] = struct{}{}
	return c, out, nil
}

func (h *Hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		c.reason = websocket.CloseNormalClosure
		close(c.kicked)
	}
}
