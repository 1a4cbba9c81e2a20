package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/gopacket/layers"
)

// Decoder turns captured packets into database events: it keeps the
// connections to the configured ports, reassembles them, decodes them and
// emits their events and flow records through emit, in packet order.
type Decoder struct {
	cfg   Config
	emit  func(event.Event)
	ports *portTable // the protocol of each server port
	flows map[flowKey]*flow
	// closed remembers recently closed connections, so that their late
	// segments (retransmissions, the last ACKs) do not open new ones.
	closed   map[flowKey]time.Time
	buffered int // out-of-order bytes held over all flows
	stats    Stats
	now      time.Time // time of the latest packet
	swept    time.Time // time of the latest idle sweep
	seg      segment
}

// flowKey names a connection by its client and server ends.
type flowKey struct {
	cli, srv         [16]byte
	cliPort, srvPort uint16
}

// flow is one tracked connection.
type flow struct {
	key         flowKey
	proto       protocol
	cli, srv    halfStream // cli carries client-to-server bytes
	sess        wireSession
	first, last time.Time
	rst         bool
	fields      event.Fields // the network fields every event of the flow gets
	id          string
}

// NewDecoder returns a Decoder for cfg that emits events through emit.
func NewDecoder(cfg Config, emit func(event.Event)) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("packet config: %w", err)
	}
	cfg = cfg.withDefaults()
	d := &Decoder{cfg: cfg, ports: new(portTable), flows: map[flowKey]*flow{}, closed: map[flowKey]time.Time{}}
	d.emit = func(ev event.Event) {
		d.stats.Events++
		emit(ev)
	}
	for _, p := range cfg.Postgres {
		d.ports.set(p, protoPostgres)
	}
	for _, p := range cfg.MySQL {
		d.ports.set(p, protoMySQL)
	}
	return d, nil
}

// Stats returns the counts so far.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.FlowsOpen = uint64(len(d.flows))
	s.Buffered = uint64(d.buffered)
	return s
}

// Packet decodes one captured frame of the given link type.
func (d *Decoder) Packet(link layers.LinkType, ts time.Time, data []byte) {
	d.stats.Packets++
	d.stats.Bytes += uint64(len(data))
	if ts.After(d.now) {
		d.now = ts
	}
	if d.now.Sub(d.swept) > d.cfg.IdleTimeout/4 {
		d.sweep()
	}
	s := &d.seg
	ok, bad := parseFrame(int(link), data, s)
	if !ok {
		if bad {
			d.stats.Malformed++
		} else {
			d.stats.Ignored++
		}
		return
	}
	var fromClient bool
	var proto protocol
	dstProto, srcProto := d.ports.get(s.dstPort), d.ports.get(s.srcPort)
	dstIsSrv, srcIsSrv := dstProto != protoNone, srcProto != protoNone
	switch {
	case dstIsSrv && !srcIsSrv:
		fromClient, proto = true, dstProto
	case srcIsSrv && !dstIsSrv:
		fromClient, proto = false, srcProto
	case srcIsSrv && dstIsSrv:
		// Both ends use configured ports: the opening SYN or a known flow
		// tells the server, else the lower port is taken for it.
		_, known := d.flows[flowKey{s.src, s.dst, s.srcPort, s.dstPort}]
		_, knownRev := d.flows[flowKey{s.dst, s.src, s.dstPort, s.srcPort}]
		switch {
		case known:
			fromClient = true
		case knownRev:
			fromClient = false
		case s.flags&(flagSYN|flagACK) == flagSYN:
			fromClient = true
		case s.flags&(flagSYN|flagACK) == flagSYN|flagACK:
			fromClient = false
		default:
			fromClient = s.dstPort <= s.srcPort
		}
		proto = dstProto
		if !fromClient {
			proto = srcProto
		}
	default:
		if d.cfg.Detect && len(s.payload) > 0 {
			if p, srv := detect(s); p != protoNone {
				// A database on a port of its own: learn the port, and
				// take this segment as the start of the connection.
				d.ports.set(srv, p)
				d.stats.Detected++
				fromClient, proto = srv == s.dstPort, p
				break
			}
		}
		d.stats.Ignored++
		return
	}
	d.stats.TCP++
	var key flowKey
	if fromClient {
		key = flowKey{s.src, s.dst, s.srcPort, s.dstPort}
	} else {
		key = flowKey{s.dst, s.src, s.dstPort, s.srcPort}
	}
	f := d.flows[key]
	if f == nil {
		if s.flags&flagRST != 0 || (len(s.payload) == 0 && s.flags&flagSYN == 0) {
			return // nothing to learn from a stray ACK or reset
		}
		if _, ok := d.closed[key]; ok {
			if s.flags&(flagSYN|flagACK) != flagSYN {
				d.stats.Retransmitted++ // a late segment of a closed connection
				return
			}
			delete(d.closed, key) // the port is reused
		}
		f = d.open(key, proto, ts)
		if s.flags&flagSYN == 0 && detectedNow(s, proto) {
			// The capture missed the SYN but not the first bytes.
			f.cli.fresh, f.srv.fresh = true, true
		}
	}
	f.last = ts
	h, other := &f.cli, &f.srv
	if !fromClient {
		h, other = &f.srv, &f.cli
	}
	h.packets++
	h.bytes += uint64(len(s.payload))

	// The peer acknowledged bytes we never saw: the capture lost them, so
	// stop waiting for them.
	if s.flags&flagACK != 0 && len(other.held) > 0 && other.started && seqDiff(s.ack, other.held[0].seq) >= 0 {
		other.skip(d, f.gapFunc(!fromClient))
		other.drain(d, f.deliverFunc(!fromClient))
	}

	switch {
	case s.flags&flagSYN != 0:
		h.started = true
		h.next = s.seq + 1
		h.base = h.next
	case len(s.payload) > 0:
		if fromClient && s.flags&flagACK != 0 && f.srv.started {
			// How much of the server's stream the client had when it
			// sent this: answers lost later are matched by it.
			f.sess.Acked(s.ack - f.srv.base)
		}
		h.add(d, ts, s.seq, s.payload, f.deliverFunc(fromClient), f.gapFunc(fromClient))
	}
	if s.flags&flagFIN != 0 && !h.fin {
		h.fin = true
		h.finSeq = s.seq + uint32(len(s.payload))
	}
	if s.flags&flagRST != 0 {
		f.rst = true
		d.close(f, ts)
		return
	}
	if f.cli.done() && f.srv.done() {
		d.close(f, ts)
	}
}

// Advance moves the decoder's clock to now when no packet came for a while,
// so that idle connections are closed during a quiet live capture.
func (d *Decoder) Advance(now time.Time) {
	if now.After(d.now) {
		d.now = now
	}
	if d.now.Sub(d.swept) > d.cfg.IdleTimeout/4 {
		d.sweep()
	}
}

// detect recognises the first segment of a database connection on a port
// not configured: a PostgreSQL startup, SSLRequest or GSSENCRequest from
// the client, or a MySQL server greeting. It returns the protocol and the
// server's port.
func detect(s *segment) (protocol, uint16) {
	b := s.payload
	if len(b) >= 8 {
		n, code := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
		if int(n) == len(b) && (code == 80877103 || code == 80877104 || (code == 196608 && n > 8 && n < 10000 && b[len(b)-1] == 0)) {
			return protoPostgres, s.dstPort
		}
	}
	if len(b) >= 40 && int(b[0])|int(b[1])<<8|int(b[2])<<16 == len(b)-4 && b[3] == 0 && b[4] == 10 {
		// protocol 10, then a printable server version ending in NUL
		for i, c := range b[5:min(len(b), 5+64)] {
			if c == 0 {
				if i > 0 {
					return protoMySQL, s.srcPort
				}
				break
			}
			if c < 0x20 || c > 0x7e {
				break
			}
		}
	}
	return protoNone, 0
}

// detectedNow reports whether s is the segment that made detect learn its
// port, so that its connection starts with it rather than inside it.
func detectedNow(s *segment, p protocol) bool {
	got, _ := detect(s)
	return got == p
}

// Flush closes every open connection, as at the end of a capture file.
func (d *Decoder) Flush() {
	for _, f := range d.sorted(func(*flow) bool { return true }) {
		d.close(f, f.last)
	}
}

// sorted returns the flows that keep selects, oldest first, so that what
// is emitted does not depend on map order.
func (d *Decoder) sorted(keep func(*flow) bool) []*flow {
	var fs []*flow
	for _, f := range d.flows {
		if keep(f) {
			fs = append(fs, f)
		}
	}
	slices.SortFunc(fs, func(a, b *flow) int {
		if c := a.first.Compare(b.first); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return fs
}

func (d *Decoder) open(key flowKey, proto protocol, ts time.Time) *flow {
	if len(d.flows) >= d.cfg.MaxFlows {
		d.evict()
	}
	d.stats.Flows++
	f := &flow{key: key, proto: proto, first: ts, last: ts}
	cli := netip.AddrFrom16(key.cli).Unmap()
	srv := netip.AddrFrom16(key.srv).Unmap()
	f.id = netip.AddrPortFrom(cli, key.cliPort).String() + "-" + netip.AddrPortFrom(srv, key.srvPort).String() + "@" + strconv.FormatInt(ts.UnixNano(), 36)
	f.fields = event.Fields{
		{Key: "source.ip", Value: event.String(cli.String())},
		// source.address is what the log collectors fill (MariaDB logs host
		// names) and what the rule pack's correlations group by.
		{Key: "source.address", Value: event.String(cli.String())},
		{Key: "source.port", Value: event.Int(int64(key.cliPort))},
		{Key: "destination.ip", Value: event.String(srv.String())},
		{Key: "destination.port", Value: event.Int(int64(key.srvPort))},
		{Key: "network.transport", Value: event.String("tcp")},
		{Key: "network.protocol", Value: event.String(proto.String())},
	}
	f.sess = newSession(proto, d.cfg.MaxMessage, decorateFields(f), func(ev event.Event) { d.emit(f.decorate(ev)) })
	d.flows[key] = f
	return f
}

// decorateFields is how many fields decorate adds at the most.
func decorateFields(f *flow) int { return 1 + len(f.fields) }

// decorate adds the source and the network fields to an event of the flow.
func (f *flow) decorate(ev event.Event) event.Event {
	ev.Source = event.LogSource{Product: f.proto.String(), Category: "database", Service: "wire"}
	if _, ok := ev.Fields.Get("db.session.id"); !ok {
		id := f.sess.SessionID()
		if id == "" {
			id = f.id
		}
		ev.Fields = append(ev.Fields, event.Field{Key: "db.session.id", Value: event.String(id)})
	}
	ev.Fields = append(ev.Fields, f.fields...)
	return ev
}

func (f *flow) deliverFunc(fromClient bool) deliverFunc {
	if fromClient {
		return f.sess.Client
	}
	return f.sess.Server
}

func (f *flow) gapFunc(fromClient bool) gapFunc {
	return func(resume uint32) { f.sess.Gap(fromClient, resume) }
}

// close ends a flow: what is held is delivered across its holes, the
// decoder is closed and the flow record emitted.
func (d *Decoder) close(f *flow, ts time.Time) {
	f.cli.flush(d, f.deliverFunc(true), f.gapFunc(true))
	f.srv.flush(d, f.deliverFunc(false), f.gapFunc(false))
	f.sess.Close(ts)
	d.stats.DecodeErrors += uint64(f.sess.Errors())
	delete(d.flows, f.key)
	if len(d.closed) >= d.cfg.MaxFlows {
		clear(d.closed)
	}
	d.closed[f.key] = f.last

	ev := event.Event{Time: f.first}
	dur := f.last.Sub(f.first)
	ev.Fields = append(make(event.Fields, 0, 13+decorateFields(f)), event.Fields{
		{Key: "event.kind", Value: event.String("event")},
		{Key: "event.category", Value: event.String("network")},
		{Key: "event.action", Value: event.String("flow")},
		{Key: "event.duration", Value: event.Int(int64(dur))},
		{Key: "source.bytes", Value: event.Int(int64(f.cli.bytes))},
		{Key: "source.packets", Value: event.Int(int64(f.cli.packets))},
		{Key: "destination.bytes", Value: event.Int(int64(f.srv.bytes))},
		{Key: "destination.packets", Value: event.Int(int64(f.srv.packets))},
		{Key: "network.bytes", Value: event.Int(int64(f.cli.bytes + f.srv.bytes))},
		{Key: "network.packets", Value: event.Int(int64(f.cli.packets + f.srv.packets))},
		{Key: "network.encrypted", Value: event.Bool(f.sess.Encrypted())},
	}...)
	end := "closed"
	switch {
	case f.rst:
		end = "reset"
	case !f.cli.fin || !f.srv.fin:
		end = "open"
	}
	ev.Fields = append(ev.Fields, event.Field{Key: "network.flow.end", Value: event.String(end)})
	ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String(fmt.Sprintf(
		"%s flow %s, %d bytes %d packets from client, %d bytes %d packets from server, %s",
		f.proto, end, f.cli.bytes, f.cli.packets, f.srv.bytes, f.srv.packets, dur))})
	d.emit(f.decorate(ev))
}

// sweep closes the connections idle for longer than the idle timeout.
func (d *Decoder) sweep() {
	d.swept = d.now
	for k, t := range d.closed {
		if d.now.Sub(t) > d.cfg.IdleTimeout {
			delete(d.closed, k)
		}
	}
	for _, f := range d.sorted(func(f *flow) bool { return d.now.Sub(f.last) > d.cfg.IdleTimeout }) {
		d.stats.FlowsIdle++
		d.close(f, f.last)
	}
}

// evict closes the least recently seen connection to make room.
func (d *Decoder) evict() {
	var old *flow
	for _, f := range d.flows {
		if old == nil || f.last.Before(old.last) {
			old = f
		}
	}
	if old != nil {
		d.stats.FlowsEvicted++
		d.close(old, old.last)
	}
}
