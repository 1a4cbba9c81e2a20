package pgwire

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/collectors/packet/internal/stmttext"
	"github.com/danang-soc/vigil/event"
)

// Options bound what a Session keeps.
type Options struct {
	// MaxMessage is the most bytes of one message kept to decode it (the
	// statement text, the bind parameters); longer ones are truncated.
	// Default 64 KiB.
	MaxMessage int
	// ExtraFields is how many fields the caller adds to each event: the
	// events are made with room for them, so that adding them does not
	// copy the event's fields.
	ExtraFields int
}

// Bounds of a session's state, so that a hostile client cannot grow it.
const (
	maxPending    = 4096 // requests awaiting their answer
	maxStatements = 4096 // named prepared statements remembered
	maxParams     = 64   // bind parameters reported per statement
	maxParamLen   = 256  // bytes reported per parameter
)

type phase uint8

const (
	phaseStartup   phase = iota // waiting for the startup message
	phaseSSL                    // SSLRequest sent, waiting for 'S' or 'N'
	phaseGSS                    // GSSENCRequest sent, waiting for 'G' or 'N'
	phaseAuth                   // startup sent, authenticating
	phaseReady                  // logged in: queries
	phaseEncrypted              // TLS or GSSAPI encryption: nothing to decode
	phaseDone                   // cancel request or after Terminate
)

// Session decodes one PostgreSQL connection. Client and Server take the
// bytes of each direction in order; events are emitted through emit.
type Session struct {
	opt      Options
	emit     func(event.Event)
	cli, srv framer
	phase    phase
	errors   int

	user, db, app string
	authMethod    string
	loginTime     time.Time
	loginEmitted  bool
	loggedIn      bool
	encryption    string // "tls" or "gssapi"
	pid           string
	srvSeen       bool // bytes came from the server
	acked         uint32
	hasAck        bool
	lastTime      time.Time

	stmts   map[string]prepared
	portals map[string]portal
	pending []*op

	bindParams []string
}

type prepared struct {
	query string
	oids  []uint32
}

type portal struct {
	query  string
	params []string
}

// op is a client request that waits for the server's answer.
type op struct {
	kind   byte // the client message type: 'Q', 'P', 'B', 'E', 'D', 'C', 'S', 'F'
	ts     time.Time
	query  string
	params []string
	name   string // prepared statement name
	rows   int64
	bytes  int64
	tag    string
	err    *pgError
	copy   bool
	empty  bool
	acked  uint32 // offset of the server stream read when it was sent
	hasAck bool
}

type pgError struct {
	severity, code, message string
}

// NewSession returns a Session that emits its events through emit.
func NewSession(opt Options, emit func(event.Event)) *Session {
	if opt.MaxMessage <= 0 {
		opt.MaxMessage = 64 << 10
	}
	s := &Session{opt: opt, emit: emit}
	s.srv.typed = true
	return s
}

// Encrypted reports whether the session switched to TLS or GSSAPI
// encryption.
func (s *Session) Encrypted() bool { return s.encryption != "" }

// Errors counts the messages that could not be decoded.
func (s *Session) Errors() int { return s.errors }

// SessionID returns "": the wire does not carry the server's session id
// (its backend process id is the event field "process.pid").
func (s *Session) SessionID() string { return "" }

// Acked says how far into the server's byte stream the client had read when
// it sent the bytes of the next Client call. After a loss of server bytes it
// tells which requests lost their answers.
func (s *Session) Acked(off uint32) { s.acked, s.hasAck = off, true }

// Gap says that bytes of one direction were lost before the next call;
// resume is the offset in that direction's stream where the next call's
// bytes start.
func (s *Session) Gap(fromClient bool, resume uint32) {
	f := &s.srv
	if fromClient {
		f = &s.cli
	}
	if s.phase == phaseStartup && fromClient && s.cli.nhdr == 0 && s.cli.remain == 0 && s.loginTime.IsZero() {
		// A capture that starts inside the connection: the login is
		// unseen, statements can still be decoded.
		s.phase = phaseReady
		s.cli.typed = true
	}
	f.lost = true
	f.reset()
	if !fromClient && s.srvSeen {
		// Answers were lost: the requests sent before the client had
		// read up to the resume point lost (part of) theirs.
		keep := s.pending[:0]
		for _, o := range s.pending {
			if o.hasAck && int32(o.acked-resume) >= 0 {
				keep = append(keep, o)
			}
		}
		clear(s.pending[len(keep):])
		s.pending = keep
	}
}

// Client takes bytes sent by the client.
func (s *Session) Client(ts time.Time, b []byte) {
	s.lastTime = ts
	if s.phase >= phaseEncrypted {
		return
	}
	s.feed(&s.cli, true, ts, b)
}

// Server takes bytes sent by the server.
func (s *Session) Server(ts time.Time, b []byte) {
	s.lastTime = ts
	if s.phase >= phaseEncrypted || len(b) == 0 {
		return
	}
	s.srvSeen = true
	if (s.phase == phaseSSL || s.phase == phaseGSS) && s.srv.nhdr == 0 && s.srv.remain == 0 && !s.srv.lost {
		// The one-byte answer to SSLRequest or GSSENCRequest.
		switch c := b[0]; {
		case c == 'S' && s.phase == phaseSSL:
			s.encrypt(ts, "tls")
			return
		case c == 'G' && s.phase == phaseGSS:
			s.encrypt(ts, "gssapi")
			return
		case c == 'N':
			s.phase = phaseStartup
			b = b[1:]
		}
	}
	s.feed(&s.srv, false, ts, b)
}

// Close ends the session: a login still waiting for its outcome is reported
// with an unknown outcome.
func (s *Session) Close(ts time.Time) {
	if s.phase == phaseAuth && !s.loginEmitted {
		s.login(ts, "unknown", nil)
	}
	// Statements whose answer was not seen (the capture ended, or the
	// answer was lost) are reported with an unknown outcome.
	for _, o := range s.pending {
		if o.kind == 'Q' || o.kind == 'E' {
			s.complete(o, time.Time{})
		}
	}
	s.pending = nil
}

func (s *Session) encrypt(ts time.Time, kind string) {
	s.encryption = kind
	s.phase = phaseEncrypted
	ev := s.newEvent(ts, "authentication", "login", "unknown")
	ev.Fields = append(ev.Fields,
		event.Field{Key: "network.encrypted", Value: event.Bool(true)},
		event.Field{Key: "tls.established", Value: event.Bool(kind == "tls")},
		event.Field{Key: event.FieldMessage, Value: event.String("login over an encrypted (" + kind + ") session: user, database and statements unseen")},
	)
	s.emit(ev)
}

// wants says whether the body of the message being framed is needed.
func (s *Session) wants(fromClient bool, f *framer) bool {
	if fromClient {
		switch f.typ {
		case 0, 'Q', 'P', 'B', 'E', 'p':
			return true
		}
		return false
	}
	switch f.typ {
	case 'D', 'd', 'N', 'S', 'A', 't', 'T':
		return false
	}
	return true
}

// dispatch handles one complete message.
func (s *Session) dispatch(f *framer, fromClient bool) {
	body := f.body
	truncated := len(body) < f.size
	if fromClient {
		s.client(f.typ, body, truncated, f.start)
	} else {
		s.server(f.typ, body, f.size, f.start)
	}
	if cap(f.body) > keepBuffer {
		f.body = nil // an idle connection keeps no large buffer
	}
}

// keepBuffer is the largest message buffer kept between messages.
const keepBuffer = 4 << 10

func (s *Session) client(typ byte, body []byte, truncated bool, ts time.Time) {
	switch typ {
	case 0:
		s.startup(body, ts)
	case 'Q':
		q, _ := cstring(body)
		s.push(&op{kind: 'Q', ts: ts, query: q})
	case 'P':
		name, rest := cstring(body)
		q, rest := cstring(rest)
		var oids []uint32
		if len(rest) >= 2 {
			n := int(binary.BigEndian.Uint16(rest))
			rest = rest[2:]
			for i := 0; i < n && len(rest) >= 4; i++ {
				oids = append(oids, binary.BigEndian.Uint32(rest))
				rest = rest[4:]
			}
		}
		if s.stmts == nil {
			s.stmts = map[string]prepared{}
		}
		if len(s.stmts) >= maxStatements {
			clear(s.stmts)
		}
		s.stmts[name] = prepared{q, oids}
		s.push(&op{kind: 'P', ts: ts, query: q, name: name})
	case 'B':
		p, name := s.bind(body, truncated)
		if s.portals == nil {
			s.portals = map[string]portal{}
		}
		if len(s.portals) >= maxStatements {
			clear(s.portals)
		}
		s.portals[p] = portal{s.stmts[name].query, s.bindParams}
		s.push(&op{kind: 'B', ts: ts, query: s.stmts[name].query, name: name})
	case 'E':
		name, _ := cstring(body)
		p := s.portals[name]
		s.push(&op{kind: 'E', ts: ts, query: p.query, params: p.params})
	case 'D', 'C', 'S', 'F':
		s.push(&op{kind: typ, ts: ts})
	case 'X':
		s.phase = phaseDone
		ev := s.newEvent(ts, "authentication", "logout", "success")
		if !s.loginTime.IsZero() {
			ev.Fields = append(ev.Fields, event.Field{Key: "event.duration", Value: event.Int(int64(ts.Sub(s.loginTime)))})
		}
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String("logout " + s.who())})
		s.emit(ev)
	case 'p':
		if s.phase == phaseAuth && (s.authMethod == "" || s.authMethod == "SASL") {
			// SASLInitialResponse names the mechanism chosen. Only a
			// known mechanism name is taken: a password message must
			// never become a field.
			if m, _ := cstring(body); strings.HasPrefix(m, "SCRAM-SHA-") || m == "OAUTHBEARER" {
				s.authMethod = m
			}
		}
	case 'H', 'd', 'c', 'f':
	default:
		s.errors++
	}
}

// bindParams is scratch for bind, kept between calls to avoid allocating
// when there are no parameters.
func (s *Session) bind(body []byte, truncated bool) (portalName, stmt string) {
	s.bindParams = nil
	portalName, rest := cstring(body)
	stmt, rest = cstring(rest)
	if len(rest) < 2 {
		s.errors++
		return
	}
	nf := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < 2*nf+2 {
		if !truncated {
			s.errors++
		}
		return
	}
	formats := rest[:2*nf]
	rest = rest[2*nf:]
	np := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	oids := s.stmts[stmt].oids
	for i := 0; i < np && i < maxParams; i++ {
		if len(rest) < 4 {
			if !truncated {
				s.errors++
			}
			return
		}
		n := int(int32(binary.BigEndian.Uint32(rest)))
		rest = rest[4:]
		if n < 0 {
			s.bindParams = append(s.bindParams, "NULL")
			continue
		}
		if n > len(rest) {
			if !truncated {
				s.errors++
			}
			return
		}
		binary := false
		switch nf {
		case 0:
		case 1:
			binary = formats[1] == 1
		default:
			if i < nf {
				binary = formats[2*i+1] == 1
			}
		}
		var oid uint32
		if i < len(oids) {
			oid = oids[i]
		}
		s.bindParams = append(s.bindParams, paramValue(rest[:n], binary, oid))
		rest = rest[n:]
	}
	return
}

func (s *Session) startup(body []byte, ts time.Time) {
	if len(body) < 4 {
		s.errors++
		return
	}
	code := binary.BigEndian.Uint32(body)
	switch code {
	case 80877103: // SSLRequest
		s.phase = phaseSSL
		return
	case 80877104: // GSSENCRequest
		s.phase = phaseGSS
		return
	case 80877102: // CancelRequest: another connection's query is cancelled
		s.phase = phaseDone
		return
	}
	if code>>16 != 3 {
		s.errors++
		return
	}
	s.cli.typed = true
	s.phase = phaseAuth
	s.loginTime = ts
	rest := body[4:]
	for len(rest) > 0 && rest[0] != 0 {
		var k, v string
		k, rest = cstring(rest)
		v, rest = cstring(rest)
		switch k {
		case "user":
			s.user = v
		case "database":
			s.db = v
		case "application_name":
			s.app = v
		}
	}
	if s.db == "" {
		s.db = s.user // the server's default
	}
}

func (s *Session) server(typ byte, body []byte, size int, ts time.Time) {
	if s.phase == phaseAuth || s.phase == phaseStartup {
		switch typ {
		case 'R':
			s.auth(body)
		case 'K':
			if len(body) >= 4 {
				s.pid = strconv.FormatUint(uint64(binary.BigEndian.Uint32(body)), 10)
			}
		case 'E':
			// The login failed: its event carries the error.
			e := parseError(body)
			if s.loginEmitted {
				s.errorEvent(ts, e, "")
			} else {
				s.login(ts, "failure", e)
			}
		case 'Z':
			s.login(ts, "success", nil)
			s.phase = phaseReady
		case 'S', 'N', 'v':
		default:
			s.errors++
		}
		return
	}
	var head *op
	if len(s.pending) > 0 {
		head = s.pending[0]
	}
	switch typ {
	case 'D', 'd':
		if head != nil {
			head.rows++
			head.bytes += int64(size) + 5
		}
	case 'C':
		if head == nil {
			s.errors++
			return
		}
		tag, _ := cstring(body)
		head.tag = tag
		if head.kind == 'E' {
			s.complete(head, ts)
			s.pop()
		}
	case 's':
		if head != nil && head.kind == 'E' {
			s.complete(head, ts)
			s.pop()
		}
	case 'I':
		if head != nil {
			head.empty = true
			if head.kind == 'E' {
				s.pop()
			}
		}
	case '1', '2', '3', 'n', 'V':
		if head != nil {
			s.pop()
		}
	case 'T':
		if head != nil && head.kind == 'D' {
			s.pop()
		}
	case 'G', 'H', 'W':
		if head != nil {
			head.copy = true
		}
	case 'E':
		e := parseError(body)
		if head == nil {
			s.errorEvent(ts, e, "")
			return
		}
		if head.kind == 'Q' {
			head.err = e
			return
		}
		// An extended-protocol step failed: report its statement, and
		// drop the steps the server skips until Sync.
		head.err = e
		if head.kind != 'S' && head.kind != 'D' && head.kind != 'C' {
			s.complete(head, ts)
		} else {
			s.errorEvent(ts, e, "")
		}
		i := 0
		for i < len(s.pending) && s.pending[i].kind != 'S' {
			i++
		}
		s.pending = s.pending[i:]
	case 'Z':
		for len(s.pending) > 0 {
			h := s.pending[0]
			s.pop()
			if h.kind == 'Q' {
				if !h.empty || h.err != nil {
					s.complete(h, ts)
				}
				break
			}
			if h.kind == 'S' {
				break
			}
		}
	case 'K':
		if len(body) >= 4 {
			s.pid = strconv.FormatUint(uint64(binary.BigEndian.Uint32(body)), 10)
		}
	case 'N', 'A', 'S', 't', 'c', 'R', 'v':
	default:
		s.errors++
	}
}

func (s *Session) push(o *op) {
	if s.phase != phaseReady {
		if s.phase != phaseAuth || o.kind != 'Q' {
			return
		}
	}
	if len(s.pending) >= maxPending {
		s.errors++
		s.pop()
	}
	o.acked, o.hasAck = s.acked, s.hasAck
	s.pending = append(s.pending, o)
}

func (s *Session) pop() {
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		s.pending = s.pending[:0:0]
	}
}

func (s *Session) auth(body []byte) {
	if len(body) < 4 {
		s.errors++
		return
	}
	switch binary.BigEndian.Uint32(body) {
	case 0:
		if s.authMethod == "" {
			s.authMethod = "trust"
		}
	case 2:
		s.authMethod = "kerberos"
	case 3:
		s.authMethod = "password"
	case 5:
		s.authMethod = "md5"
	case 7, 8:
		s.authMethod = "gss"
	case 9:
		s.authMethod = "sspi"
	case 10:
		s.authMethod = "SASL"
	}
}

// login reports the login attempt once.
func (s *Session) login(ts time.Time, outcome string, e *pgError) {
	if s.loginEmitted {
		return
	}
	s.loginEmitted = true
	s.loggedIn = outcome == "success"
	ev := s.newEvent(s.loginTime, "authentication", "login", outcome)
	if s.loginTime.IsZero() {
		ev.Time = ts
	} else {
		ev.Fields = append(ev.Fields, event.Field{Key: "event.duration", Value: event.Int(int64(ts.Sub(s.loginTime)))})
	}
	if s.app != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "postgresql.application_name", Value: event.String(s.app)})
	}
	if s.authMethod != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "db.auth.method", Value: event.String(s.authMethod)})
	}
	msg := "login " + s.who() + " " + outcome
	if e != nil {
		ev.Fields = appendError(ev.Fields, e)
		msg += ": " + e.code + " " + e.message
	}
	ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String(msg)})
	s.emit(ev)
}

func (s *Session) who() string {
	user := s.user
	if user == "" {
		user = "?"
	}
	if s.db == "" {
		return user
	}
	return user + "@" + s.db
}

// complete reports a statement answered at ts; a zero ts means that its
// answer was not seen.
func (s *Session) complete(o *op, ts time.Time) {
	outcome := "success"
	switch {
	case o.err != nil:
		outcome = "failure"
	case ts.IsZero():
		outcome = "unknown"
	}
	q := stmttext.Mask(o.query)
	ev := s.statementEvent(o.ts, q, outcome)
	f := ev.Fields
	if !ts.IsZero() {
		f = append(f, event.Field{Key: "event.duration", Value: event.Int(int64(ts.Sub(o.ts)))})
	}
	if o.name != "" {
		f = append(f, event.Field{Key: "postgresql.prepared_statement", Value: event.String(o.name)})
	}
	if len(o.params) > 0 {
		f = append(f, event.Field{Key: "db.statement.parameters", Value: event.String(formatParams(o.params))})
	}
	rows := o.rows
	if n, ok := tagRows(o.tag); ok && (rows == 0 || o.copy) {
		rows = n
	}
	if (o.err == nil && !ts.IsZero()) || rows > 0 {
		f = append(f, event.Field{Key: "db.response.rows", Value: event.Int(rows)})
	}
	if !ts.IsZero() || o.bytes > 0 {
		f = append(f, event.Field{Key: "db.response.bytes", Value: event.Int(o.bytes)})
	}
	if o.tag != "" {
		f = append(f, event.Field{Key: "db.response.tag", Value: event.String(o.tag)})
	}
	msg := stmttext.Message(q)
	switch {
	case o.err != nil:
		f = appendError(f, o.err)
		msg += " -> " + o.err.code + " " + o.err.message
	case ts.IsZero():
		msg += " -> no answer seen"
	default:
		msg += " -> " + strconv.FormatInt(rows, 10) + " rows"
	}
	f = append(f, event.Field{Key: event.FieldMessage, Value: event.String(msg)})
	ev.Fields = f
	s.emit(ev)
}

func (s *Session) errorEvent(ts time.Time, e *pgError, query string) {
	ev := s.newEvent(ts, "database", "error", "failure")
	if query != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "db.statement", Value: event.String(stmttext.Mask(query))})
	}
	ev.Fields = appendError(ev.Fields, e)
	ev.Fields = append(ev.Fields,
		event.Field{Key: "log.level", Value: event.String(e.severity)},
		event.Field{Key: event.FieldMessage, Value: event.String(e.severity + " " + e.code + " " + e.message)})
	s.emit(ev)
}

func appendError(f event.Fields, e *pgError) event.Fields {
	return append(f,
		event.Field{Key: "db.response.status_code", Value: event.String(e.code)},
		event.Field{Key: "error.code", Value: event.String(e.code)},
		event.Field{Key: "error.message", Value: event.String(e.message)})
}

// ownFields is the room made for a session's own fields in each event:
// enough for all but its largest events (a failed statement with
// parameters and rows).
const ownFields = 20

// newEvent starts an event with the session's database fields.
func (s *Session) newEvent(ts time.Time, category, action, outcome string) event.Event {
	f := make(event.Fields, 0, ownFields+s.opt.ExtraFields)
	f = append(f,
		event.Field{Key: "event.kind", Value: event.String("event")},
		event.Field{Key: "event.category", Value: event.String(category)},
		event.Field{Key: "event.action", Value: event.String(action)},
		event.Field{Key: "event.outcome", Value: event.String(outcome)},
		event.Field{Key: "db.system", Value: event.String("postgresql")})
	if s.db != "" {
		f = append(f, event.Field{Key: "db.name", Value: event.String(s.db)})
	}
	if s.user != "" {
		f = append(f,
			event.Field{Key: "db.user", Value: event.String(s.user)},
			event.Field{Key: "user.name", Value: event.String(s.user)})
	}
	if s.pid != "" {
		f = append(f, event.Field{Key: "process.pid", Value: event.Number(s.pid)})
	}
	return event.Event{Time: ts, Fields: f}
}

func parseError(body []byte) *pgError {
	e := &pgError{}
	for len(body) > 0 && body[0] != 0 {
		t := body[0]
		var v string
		v, body = cstring(body[1:])
		switch t {
		case 'S':
			if e.severity == "" {
				e.severity = v
			}
		case 'V':
			e.severity = v
		case 'C':
			e.code = v
		case 'M':
			e.message = v
		}
	}
	return e
}

// tagRows returns the row count at the end of a command tag
// ("SELECT 20000", "INSERT 0 5", "COPY 3").
func tagRows(tag string) (int64, bool) {
	i := len(tag)
	for i > 0 && tag[i-1] >= '0' && tag[i-1] <= '9' {
		i--
	}
	if i == len(tag) || i == 0 || tag[i-1] != ' ' {
		return 0, false
	}
	n, err := strconv.ParseInt(tag[i:], 10, 64)
	return n, err == nil
}

// cstring splits a NUL-terminated string off b. Without a NUL, all of b is
// the string.
func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}
