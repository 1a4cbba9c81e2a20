package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/danang-soc/vigil/collectors/packet/internal/stmttext"
	"github.com/danang-soc/vigil/event"
)

// Options bound what a Session keeps.
type Options struct {
	// MaxMessage is the most bytes of one client packet kept to decode it
	// (a statement text); longer ones are truncated. Default 64 KiB.
	MaxMessage int
	// ExtraFields is how many fields the caller adds to each event: the
	// events are made with room for them, so that adding them does not
	// copy the event's fields.
	ExtraFields int
}

// Capability flags.
const (
	capConnectWithDB   = 1 << 3
	capCompress        = 1 << 5
	capLocalFiles      = 1 << 7
	capProtocol41      = 1 << 9
	capSSL             = 1 << 11
	capSecureConn      = 1 << 15
	capMultiStatements = 1 << 16
	capMultiResults    = 1 << 17
	capPluginAuth      = 1 << 19
	capConnectAttrs    = 1 << 20
	capAuthLenenc      = 1 << 21
	capDeprecateEOF    = 1 << 24
)

var capNames = []struct {
	bit  uint32
	name string
}{
	{1, "LONG_PASSWORD"}, {1 << 1, "FOUND_ROWS"}, {1 << 2, "LONG_FLAG"}, {capConnectWithDB, "CONNECT_WITH_DB"},
	{1 << 4, "NO_SCHEMA"}, {capCompress, "COMPRESS"}, {1 << 6, "ODBC"}, {capLocalFiles, "LOCAL_FILES"},
	{1 << 8, "IGNORE_SPACE"}, {capProtocol41, "PROTOCOL_41"}, {1 << 10, "INTERACTIVE"}, {capSSL, "SSL"},
	{1 << 12, "IGNORE_SIGPIPE"}, {1 << 13, "TRANSACTIONS"}, {capSecureConn, "SECURE_CONNECTION"},
	{capMultiStatements, "MULTI_STATEMENTS"}, {capMultiResults, "MULTI_RESULTS"}, {1 << 18, "PS_MULTI_RESULTS"},
	{capPluginAuth, "PLUGIN_AUTH"}, {capConnectAttrs, "CONNECT_ATTRS"}, {capAuthLenenc, "PLUGIN_AUTH_LENENC_CLIENT_DATA"},
	{1 << 22, "CAN_HANDLE_EXPIRED_PASSWORDS"}, {1 << 23, "SESSION_TRACK"}, {capDeprecateEOF, "DEPRECATE_EOF"},
}

// Commands.
const (
	comQuit             = 0x01
	comInitDB           = 0x02
	comQuery            = 0x03
	comFieldList        = 0x04
	comChangeUser       = 0x11
	comStmtPrepare      = 0x16
	comStmtExecute      = 0x17
	comStmtSendLongData = 0x18
	comStmtClose        = 0x19
	comStmtReset        = 0x1a
	comStmtFetch        = 0x1c
)

// Server status flag: another result set follows.
const statusMoreResults = 0x0008

// Bounds of a session's state.
const (
	maxPending    = 256
	maxStatements = 4096
	maxParams     = 64
	maxParamLen   = 256
	keepServer    = 1024 // bytes kept of a greeting, OK or ERR packet
	keepRow       = 32   // bytes kept of a row: enough to tell the terminator
)

type phase uint8

const (
	phaseGreeting  phase = iota // waiting for the server greeting
	phaseHandshake              // waiting for the client's handshake response
	phaseAuth                   // waiting for the outcome of authentication
	phaseCommand                // logged in
	phaseEncrypted              // TLS: nothing to decode
	phaseDone                   // after COM_QUIT or a refused connection
)

// response states of a command.
const (
	respFirst   = iota // the first packet of the answer
	respColumns        // column definitions
	respColEOF         // the EOF after the column definitions
	respRows           // rows up to the terminator
	respPrepare        // parameter and column definitions of a prepared statement
	respInfile         // LOCAL INFILE: the file is being sent, then OK or ERR
	respList           // COM_FIELD_LIST: definitions up to EOF
)

// Session decodes one MySQL or MariaDB connection. Client and Server take the
// bytes of each direction in order; events are emitted through emit.
type Session struct {
	opt      Options
	emit     func(event.Event)
	cli, srv framer
	zcli     inflater
	zsrv     inflater
	compress bool // the compressed protocol is on
	phase    phase
	errors   int

	serverCaps, clientCaps uint32
	version                string
	connID                 string
	user, db, plugin       string
	loginTime              time.Time
	loginEmitted           bool
	encrypted              bool
	srvSeen                bool // bytes came from the server
	acked                  uint32
	hasAck                 bool

	stmts   map[uint32]*stmt
	pending []*command
}

type stmt struct {
	query   string
	nparams int
	types   []byte // two bytes per parameter, from the last execute that sent them
}

// command is a client command waiting for the server's answer.
type command struct {
	cmd     byte
	ts      time.Time
	query   string
	arg     string
	params  string
	stmt    *stmt
	state   int
	left    int // definitions still to come
	rows    int64
	bytes   int64
	results int
	ok      *okPacket
	err     *errPacket
	acked   uint32 // offset of the server stream read when it was sent
	hasAck  bool
}

type okPacket struct {
	affected, insertID uint64
	status             uint16
}

type errPacket struct {
	code    uint16
	state   string
	message string
}

// NewSession returns a Session that emits its events through emit.
func NewSession(opt Options, emit func(event.Event)) *Session {
	if opt.MaxMessage <= 0 {
		opt.MaxMessage = 64 << 10
	}
	s := &Session{opt: opt, emit: emit}
	s.srv.rows = s.countRows
	return s
}

// countRows counts the packets of a result's rows, the bulk of the server's
// bytes, without the framing of other packets: b holds a whole packet of
// the given size (its header read) and what follows it. Only the headers
// and the first byte of each row are read. It returns the bytes taken.
func (s *Session) countRows(size int, b []byte) int {
	if len(s.pending) == 0 || b[0] == 0xfe || b[0] == 0xff {
		return 0
	}
	c := s.pending[0]
	if c.state != respRows {
		return 0
	}
	// Each header's place depends on the one before, so the loop is kept
	// short: an index rather than a reslice, the header read as one word.
	rows := int64(1)
	off := size
	for off+4 < len(b) {
		_ = b[off+4]
		n := int((uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24) & (1<<24 - 1))
		next := off + 4 + n
		if n == 0 || n >= maxPacket || next > len(b) || b[off+4] == 0xfe || b[off+4] == 0xff {
			break // not a row, or not wholly in b
		}
		rows++
		off = next
	}
	c.rows += rows
	c.bytes += int64(off) + 4 // the first header was read before
	return off
}

// Encrypted reports whether the session switched to TLS.
func (s *Session) Encrypted() bool { return s.encrypted }

// Errors counts the packets that could not be decoded.
func (s *Session) Errors() int { return s.errors }

// SessionID returns the connection id from the server greeting, the id that
// the server's own logs give the connection.
func (s *Session) SessionID() string { return s.connID }

// Acked says how far into the server's byte stream the client had read when
// it sent the bytes of the next Client call. After a loss of server bytes it
// tells which commands lost their answers.
func (s *Session) Acked(off uint32) { s.acked, s.hasAck = off, true }

// Gap says that bytes of one direction were lost before the next call;
// resume is the offset in that direction's stream where the next call's
// bytes start.
func (s *Session) Gap(fromClient bool, resume uint32) {
	s.lose(fromClient, func(c *command) bool { return c.hasAck && int32(c.acked-resume) >= 0 })
}

// lose resynchronises one direction after lost bytes; keep says which
// commands may still get their answer.
func (s *Session) lose(fromClient bool, keep func(*command) bool) {
	if s.phase == phaseGreeting && s.loginTime.IsZero() && s.srv.nhdr == 0 && s.srv.remain == 0 {
		// A capture that starts inside the connection: the login is
		// unseen, commands can still be decoded.
		s.phase = phaseCommand
	}
	if fromClient {
		s.cli.lost = true
		s.cli.reset()
		s.zcli.lost = true
	} else {
		s.srv.lost = true
		s.srv.reset()
		s.zsrv.lost = true
		if s.srvSeen {
			// Answers were lost: keep the commands sent after the
			// client had read up to the resume point.
			kept := s.pending[:0]
			for _, c := range s.pending {
				if keep(c) {
					kept = append(kept, c)
				}
			}
			clear(s.pending[len(kept):])
			s.pending = kept
		}
	}
}

// Client takes bytes sent by the client.
func (s *Session) Client(ts time.Time, b []byte) {
	if s.phase >= phaseEncrypted {
		return
	}
	if s.compress {
		s.inflate(&s.zcli, true, ts, b)
		return
	}
	s.feedClient(ts, b)
}

// Server takes bytes sent by the server.
func (s *Session) Server(ts time.Time, b []byte) {
	if s.phase >= phaseEncrypted {
		return
	}
	s.srvSeen = true
	if s.compress {
		s.inflate(&s.zsrv, false, ts, b)
		return
	}
	s.feedServer(ts, b)
}

func (s *Session) feedClient(ts time.Time, b []byte) {
	s.cli.feed(ts, b, s.clientLimit, s.client, s.plausibleClient)
}

func (s *Session) feedServer(ts time.Time, b []byte) {
	s.srv.feed(ts, b, s.serverLimit, s.server, s.plausibleServer)
}

func (s *Session) clientLimit(byte) int { return s.opt.MaxMessage }

func (s *Session) serverLimit(byte) int {
	if len(s.pending) > 0 {
		switch s.pending[0].state {
		case respColumns, respColEOF, respPrepare, respList:
			return keepRow
		case respRows:
			return keepRow
		}
	}
	return keepServer
}

// plausibleClient: after lost bytes, a command packet with sequence 0.
func (s *Session) plausibleClient(b []byte) bool {
	if len(b) < 5 || b[3] != 0 {
		return false
	}
	n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	return n >= 1 && n+4 >= len(b) && b[4] <= 0x1f && b[4] != 0
}

// plausibleServer: after lost bytes, only an answer to a command seen after
// the gap can be matched, so wait for the client's next command.
func (s *Session) plausibleServer(b []byte) bool {
	return len(s.pending) > 0 && len(b) >= 5 && b[3] == 1
}

// Close ends the session: a login still waiting for its outcome is reported
// with an unknown outcome.
func (s *Session) Close(ts time.Time) {
	if s.phase == phaseAuth && !s.loginEmitted {
		s.login(ts, "unknown", nil)
	}
	// Statements whose answer was not seen (the capture ended, or the
	// answer was lost) are reported with an unknown outcome.
	for _, c := range s.pending {
		if c.cmd == comQuery || c.cmd == comStmtExecute {
			s.statement(c, time.Time{})
		}
	}
	s.pending = nil
}

func (s *Session) client(f *framer) {
	body, ts := f.body, f.start
	truncated := len(body) < f.total
	switch s.phase {
	case phaseGreeting:
		s.errors++
		return
	case phaseHandshake:
		s.handshake(body, ts)
		return
	case phaseAuth:
		return // auth switch responses and more data
	case phaseDone:
		return
	}
	if len(body) == 0 {
		s.errors++
		return
	}
	if f.seq != 0 {
		if len(s.pending) > 0 && s.pending[0].state == respInfile {
			return // the contents of a LOCAL INFILE
		}
		s.errors++
		return
	}
	c := &command{cmd: body[0], ts: ts}
	arg := body[1:]
	switch c.cmd {
	case comQuit:
		s.phase = phaseDone
		ev := s.newEvent(ts, "authentication", "logout", "success")
		if !s.loginTime.IsZero() {
			ev.Fields = append(ev.Fields, event.Field{Key: "event.duration", Value: event.Int(int64(ts.Sub(s.loginTime)))})
		}
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String("logout " + s.who())})
		s.emit(ev)
		return
	case comQuery, comStmtPrepare:
		c.query = string(arg)
	case comInitDB:
		c.arg = string(arg)
	case comStmtExecute:
		if len(arg) < 4 {
			s.errors++
			return
		}
		id := binary.LittleEndian.Uint32(arg)
		st := s.stmts[id]
		if st == nil {
			st = &stmt{nparams: -1}
		} else {
			c.query = st.query
			c.params = s.executeParams(st, arg[4:], truncated)
		}
		c.stmt = st
	case comStmtSendLongData, comStmtClose:
		if c.cmd == comStmtClose && len(arg) >= 4 {
			delete(s.stmts, binary.LittleEndian.Uint32(arg))
		}
		return // no answer
	case comChangeUser:
		// user, auth response, database: a new login on the connection
		u, rest := cstring(arg)
		s.user = u
		if s.clientCaps&capSecureConn != 0 && len(rest) > 0 && len(rest) > int(rest[0]) {
			rest = rest[1+int(rest[0]):]
		} else {
			_, rest = cstring(rest)
		}
		s.db, _ = cstring(rest)
		s.phase = phaseAuth
		s.loginTime = ts
		s.loginEmitted = false
		return
	}
	if len(s.pending) >= maxPending {
		s.errors++
		s.pending = s.pending[1:]
	}
	c.acked, c.hasAck = s.acked, s.hasAck
	s.pending = append(s.pending, c)
}

func (s *Session) handshake(body []byte, ts time.Time) {
	s.loginTime = ts
	if len(body) < 4 {
		s.errors++
		return
	}
	caps := uint32(binary.LittleEndian.Uint16(body))
	var rest []byte
	if caps&capProtocol41 != 0 {
		if len(body) < 32 {
			s.errors++
			return
		}
		caps = binary.LittleEndian.Uint32(body)
		s.clientCaps = caps
		if len(body) == 32 && caps&capSSL != 0 {
			s.encrypt(ts)
			return
		}
		rest = body[32:]
	} else {
		s.clientCaps = caps
		if len(body) < 5 {
			s.errors++
			return
		}
		rest = body[5:]
	}
	s.phase = phaseAuth
	s.user, rest = cstring(rest)
	switch {
	case caps&capAuthLenenc != 0:
		n, m := lenenc(rest)
		if m == 0 || uint64(len(rest)-m) < n {
			rest = nil
		} else {
			rest = rest[m+int(n):]
		}
	case caps&capSecureConn != 0:
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			rest = nil
		} else {
			rest = rest[1+int(rest[0]):]
		}
	default:
		_, rest = cstring(rest)
	}
	if caps&capConnectWithDB != 0 && len(rest) > 0 {
		s.db, rest = cstring(rest)
	}
	if caps&capPluginAuth != 0 && len(rest) > 0 {
		s.plugin, _ = cstring(rest)
	}
}

func (s *Session) encrypt(ts time.Time) {
	s.encrypted = true
	s.phase = phaseEncrypted
	ev := s.newEvent(ts, "authentication", "login", "unknown")
	ev.Fields = append(ev.Fields,
		event.Field{Key: "network.encrypted", Value: event.Bool(true)},
		event.Field{Key: "tls.established", Value: event.Bool(true)},
		event.Field{Key: event.FieldMessage, Value: event.String("login over TLS: user, database and statements unseen")},
	)
	if s.version != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "mysql.server_version", Value: event.String(s.version)})
	}
	s.emit(ev)
}

func (s *Session) server(f *framer) {
	body, ts := f.body, f.start
	switch s.phase {
	case phaseGreeting:
		s.greeting(body, ts)
		return
	case phaseHandshake:
		s.errors++
		return
	case phaseAuth:
		s.authAnswer(body, ts)
		return
	case phaseDone:
		return
	}
	if len(s.pending) == 0 {
		if len(body) > 0 && body[0] == 0xff {
			// An error without a command, as when the server closes
			// the connection.
			s.errorEvent(ts, s.parseErr(body), "")
			return
		}
		s.errors++
		return
	}
	c := s.pending[0]
	if len(body) == 0 {
		s.errors++
		return
	}
	switch c.state {
	case respFirst, respInfile:
		switch body[0] {
		case 0x00:
			if c.cmd == comStmtPrepare && c.state == respFirst {
				s.prepareOK(c, body)
				return
			}
			c.ok = s.parseOK(body)
			s.answered(c, ts, c.ok.status)
		case 0xff:
			c.err = s.parseErr(body)
			s.done(c, ts)
		case 0xfb:
			if c.cmd == comQuery {
				c.state = respInfile
				return
			}
			s.errors++
		case 0xfe:
			if c.cmd == comFieldList && len(body) < 9 {
				s.done(c, ts)
				return
			}
			s.errors++
			s.done(c, ts)
		default:
			if c.cmd == comFieldList {
				c.state = respList
				return
			}
			n, m := lenenc(body)
			if m == 0 || n == 0 || n > 1<<16 {
				s.errors++
				s.done(c, ts)
				return
			}
			c.state = respColumns
			c.left = int(n)
		}
	case respColumns:
		c.left--
		if c.left <= 0 {
			if s.deprecateEOF() {
				c.state = respRows
			} else {
				c.state = respColEOF
			}
		}
	case respColEOF:
		if body[0] != 0xfe {
			s.errors++
		}
		c.state = respRows
	case respRows:
		switch {
		case body[0] == 0xfe && f.total < maxPacket && (f.total < 9 || s.deprecateEOF()):
			var status uint16
			if s.deprecateEOF() {
				status = s.parseOK(body).status
			} else if len(body) >= 5 {
				status = binary.LittleEndian.Uint16(body[3:5])
			}
			s.answered(c, ts, status)
		case body[0] == 0xff:
			c.err = s.parseErr(body)
			s.done(c, ts)
		default:
			c.rows++
			c.bytes += int64(f.total) + 4
		}
	case respPrepare:
		c.left--
		if c.left <= 0 {
			s.pop()
		}
	case respList:
		if body[0] == 0xfe && len(body) < 9 {
			s.done(c, ts)
		} else if body[0] == 0xff {
			c.err = s.parseErr(body)
			s.done(c, ts)
		}
	}
}

func (s *Session) deprecateEOF() bool {
	return s.clientCaps&s.serverCaps&capDeprecateEOF != 0
}

// answered ends one result of c: another follows when the server says so.
func (s *Session) answered(c *command, ts time.Time, status uint16) {
	c.results++
	if status&statusMoreResults != 0 {
		c.state = respFirst
		return
	}
	s.done(c, ts)
}

// prepareOK reads COM_STMT_PREPARE_OK; the definitions of the parameters
// and columns follow.
func (s *Session) prepareOK(c *command, body []byte) {
	if len(body) < 9 {
		s.errors++
		s.pop()
		return
	}
	id := binary.LittleEndian.Uint32(body[1:5])
	ncols := int(binary.LittleEndian.Uint16(body[5:7]))
	nparams := int(binary.LittleEndian.Uint16(body[7:9]))
	if s.stmts == nil {
		s.stmts = map[uint32]*stmt{}
	}
	if len(s.stmts) >= maxStatements {
		clear(s.stmts)
	}
	s.stmts[id] = &stmt{query: c.query, nparams: nparams}
	c.state = respPrepare
	// Count the definitions and the EOF after each non-empty group as
	// packets to skip.
	c.left = nparams + ncols
	if !s.deprecateEOF() {
		if nparams > 0 {
			c.left++
		}
		if ncols > 0 {
			c.left++
		}
	}
	if c.left == 0 {
		s.pop()
	}
}

func (s *Session) pop() {
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		s.pending = s.pending[:0:0]
	}
}

// done ends a command and reports it.
func (s *Session) done(c *command, ts time.Time) {
	s.pop()
	switch c.cmd {
	case comQuery, comStmtExecute, comStmtPrepare:
		if c.cmd == comStmtPrepare && c.err == nil {
			return // the statement is reported when it is executed
		}
		s.statement(c, ts)
	case comInitDB:
		if c.err == nil {
			s.db = c.arg
		}
		outcome := "success"
		if c.err != nil {
			outcome = "failure"
		}
		ev := s.newEvent(c.ts, "database", "query", outcome)
		ev.Fields = append(ev.Fields,
			event.Field{Key: "db.operation", Value: event.String("USE")},
			event.Field{Key: "event.duration", Value: event.Int(int64(ts.Sub(c.ts)))})
		if c.err != nil {
			ev.Fields = appendError(ev.Fields, c.err)
			ev.Fields.Set("db.name", event.String(c.arg))
		}
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String("init db " + c.arg + " " + outcome)})
		s.emit(ev)
	default:
		if c.err != nil {
			s.errorEvent(ts, c.err, "") // a command without an event of its own
		}
	}
}

func (s *Session) greeting(body []byte, ts time.Time) {
	if len(body) == 0 {
		s.errors++
		return
	}
	if body[0] == 0xff {
		// The server refused the connection before the handshake.
		e := s.parseErr(body)
		s.loginTime = ts
		s.login(ts, "failure", e)
		s.phase = phaseDone
		return
	}
	if body[0] != 10 {
		s.errors++
		s.phase = phaseDone
		return
	}
	v, rest := cstring(body[1:])
	s.version = v
	if len(rest) < 4+8+1+2 {
		s.errors++
		s.phase = phaseHandshake
		return
	}
	s.connID = strconv.FormatUint(uint64(binary.LittleEndian.Uint32(rest)), 10)
	rest = rest[4+8+1:]
	s.serverCaps = uint32(binary.LittleEndian.Uint16(rest))
	if len(rest) >= 2+1+2+2 {
		s.serverCaps |= uint32(binary.LittleEndian.Uint16(rest[5:7])) << 16
	}
	s.phase = phaseHandshake
}

func (s *Session) authAnswer(body []byte, ts time.Time) {
	if len(body) == 0 {
		s.errors++
		return
	}
	switch body[0] {
	case 0x00:
		s.login(ts, "success", nil)
		s.phase = phaseCommand
		if s.clientCaps&s.serverCaps&capCompress != 0 {
			s.compress = true
		}
	case 0xff:
		e := s.parseErr(body)
		s.login(ts, "failure", e)
		s.phase = phaseDone
	case 0xfe:
		if p, _ := cstring(body[1:]); p != "" {
			s.plugin = p // auth switch
		}
	case 0x01: // more data (caching_sha2_password, ...)
	default:
		s.errors++
	}
}

// login reports the login attempt once.
func (s *Session) login(ts time.Time, outcome string, e *errPacket) {
	if s.loginEmitted {
		return
	}
	s.loginEmitted = true
	start := s.loginTime
	if start.IsZero() {
		start = ts
	}
	ev := s.newEvent(start, "authentication", "login", outcome)
	ev.Fields = append(ev.Fields, event.Field{Key: "event.duration", Value: event.Int(int64(ts.Sub(start)))})
	if s.plugin != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "db.auth.method", Value: event.String(s.plugin)})
	}
	if s.version != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "mysql.server_version", Value: event.String(s.version)})
	}
	if s.clientCaps != 0 {
		var names []string
		for _, c := range capNames {
			if s.clientCaps&c.bit != 0 {
				names = append(names, c.name)
			}
		}
		ev.Fields = append(ev.Fields,
			event.Field{Key: "mysql.client_flags", Value: event.Int(int64(s.clientCaps))},
			event.Field{Key: "mysql.capabilities", Value: event.Strings(names...)})
	}
	msg := "login " + s.who() + " " + outcome
	if e != nil {
		ev.Fields = appendError(ev.Fields, e)
		msg += ": " + strconv.Itoa(int(e.code)) + " " + e.message
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

func (s *Session) parseOK(body []byte) *okPacket {
	ok := &okPacket{}
	rest := body[1:]
	n, m := lenenc(rest)
	ok.affected, rest = n, rest[m:]
	n, m = lenenc(rest)
	ok.insertID, rest = n, rest[m:]
	if len(rest) >= 2 {
		ok.status = binary.LittleEndian.Uint16(rest)
	}
	return ok
}

func (s *Session) parseErr(body []byte) *errPacket {
	e := &errPacket{}
	if len(body) < 3 {
		s.errors++
		return e
	}
	e.code = binary.LittleEndian.Uint16(body[1:3])
	rest := body[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		e.state = string(rest[1:6])
		rest = rest[6:]
	}
	e.message = string(bytes.ToValidUTF8(rest, []byte("\uFFFD")))
	return e
}

func (s *Session) errorEvent(ts time.Time, e *errPacket, query string) {
	ev := s.newEvent(ts, "database", "error", "failure")
	if query != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: "db.statement", Value: event.String(stmttext.Mask(query))})
	}
	ev.Fields = appendError(ev.Fields, e)
	ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String("ERROR " + strconv.Itoa(int(e.code)) + " (" + e.state + "): " + e.message)})
	s.emit(ev)
}

func appendError(f event.Fields, e *errPacket) event.Fields {
	code := strconv.Itoa(int(e.code))
	f = append(f,
		event.Field{Key: "db.response.status_code", Value: event.String(code)},
		event.Field{Key: "error.code", Value: event.String(code)},
		event.Field{Key: "error.message", Value: event.String(e.message)})
	if e.state != "" {
		f = append(f, event.Field{Key: "mysql.sqlstate", Value: event.String(e.state)})
	}
	return f
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
		event.Field{Key: "db.system", Value: event.String("mysql")})
	if s.db != "" {
		f = append(f, event.Field{Key: "db.name", Value: event.String(s.db)})
	}
	if s.user != "" {
		f = append(f,
			event.Field{Key: "db.user", Value: event.String(s.user)},
			event.Field{Key: "user.name", Value: event.String(s.user)})
	}
	return event.Event{Time: ts, Fields: f}
}

// lenenc reads a length-encoded integer; m is the bytes it took, 0 when b
// is too short.
func lenenc(b []byte) (n uint64, m int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1
	case c == 0xfc:
		if len(b) >= 3 {
			return uint64(binary.LittleEndian.Uint16(b[1:])), 3
		}
	case c == 0xfd:
		if len(b) >= 4 {
			return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
		}
	case c == 0xfe:
		if len(b) >= 9 {
			return binary.LittleEndian.Uint64(b[1:]), 9
		}
	}
	return 0, 0
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
