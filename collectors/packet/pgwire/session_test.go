package pgwire

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/collectors/packet/internal/wirefuzz"
	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

// msg builds a typed message.
func msg(typ byte, body ...string) []byte {
	b := strings.Join(body, "")
	out := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(b)))
	return append(out, b...)
}

// untyped builds a startup-phase message: a code and its body.
func untyped(code uint32, body string) []byte {
	out := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(out, uint32(8+len(body)))
	binary.BigEndian.PutUint32(out[4:], code)
	return append(out, body...)
}

func i32(n uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return string(b[:])
}

func i16(n uint16) string {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], n)
	return string(b[:])
}

func startup(user, db string) []byte {
	return untyped(196608, "user\x00"+user+"\x00database\x00"+db+"\x00\x00")
}

var (
	authOK = msg('R', i32(0))
	ready  = msg('Z', "I")
)

// step is one write of the conversation.
type step struct {
	client bool
	b      []byte
}

func c(parts ...[]byte) step { return step{true, concat(parts)} }
func s(parts ...[]byte) step { return step{false, concat(parts)} }

func concat(parts [][]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// summary is what the tests check of an event.
type summary struct {
	Action, Outcome, User, DB, Statement, Params, Rows, Code, Method string
}

func run(t *testing.T, steps []step) ([]summary, []event.Event, *Session) {
	t.Helper()
	var evs []event.Event
	sess := NewSession(Options{}, func(ev event.Event) { evs = append(evs, ev) })
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, st := range steps {
		ts = ts.Add(time.Millisecond)
		if st.client {
			sess.Client(ts, st.b)
		} else {
			sess.Server(ts, st.b)
		}
	}
	sess.Close(ts)
	var out []summary
	for _, ev := range evs {
		f := ev.Fields
		out = append(out, summary{f.Str("event.action"), f.Str("event.outcome"), f.Str("db.user"), f.Str("db.name"),
			f.Str("db.statement"), f.Str("db.statement.parameters"), f.Str("db.response.rows"), f.Str("db.response.status_code"), f.Str("db.auth.method")})
	}
	return out, evs, sess
}

func TestSession(t *testing.T) {
	tests := []struct {
		name      string
		steps     []step
		want      []summary
		encrypted bool
		secret    string // must appear in no event
	}{
		{
			name:      "TLS accepted",
			steps:     []step{c(untyped(80877103, "")), s([]byte("S")), c([]byte("\x16\x03\x01\x02\x00 client hello")), s([]byte("\x16\x03\x03 server hello"))},
			want:      []summary{{Action: "login", Outcome: "unknown"}},
			encrypted: true,
		},
		{
			name:      "GSSAPI encryption accepted",
			steps:     []step{c(untyped(80877104, "")), s([]byte("G")), c([]byte("\x60\x82 token"))},
			want:      []summary{{Action: "login", Outcome: "unknown"}},
			encrypted: true,
		},
		{
			name:  "TLS refused, then a login in clear",
			steps: []step{c(untyped(80877103, "")), s([]byte("N")), c(startup("bob", "db1")), s(authOK, msg('S', "server_version\x0015\x00"), ready)},
			want:  []summary{{Action: "login", Outcome: "success", User: "bob", DB: "db1", Method: "trust"}},
		},
		{
			name: "md5 password refused",
			steps: []step{c(startup("eve", "db1")), s(msg('R', i32(5), "salt")), c(msg('p', "md53f2a5c8e0b1d2f3a4b5c6d7e8f90a1b2\x00")),
				s(msg('E', "SFATAL\x00VFATAL\x00C28P01\x00Mpassword authentication failed for user \"eve\"\x00\x00"))},
			want: []summary{
				{Action: "login", Outcome: "failure", User: "eve", DB: "db1", Code: "28P01", Method: "md5"},
			},
			secret: "3f2a5c8e0b1d",
		},
		{
			name:   "cleartext password",
			steps:  []step{c(startup("bob", "db1")), s(msg('R', i32(3))), c(msg('p', "SCRAM-SHA-256-hunter2\x00")), s(authOK, ready)},
			want:   []summary{{Action: "login", Outcome: "success", User: "bob", DB: "db1", Method: "password"}},
			secret: "hunter2",
		},
		{
			name: "extended query: a failed step skips the rest until Sync",
			steps: []step{
				c(startup("bob", "db1")), s(authOK, ready),
				c(msg('P', "s1\x00SELECT $1\x00", i16(0)), msg('B', "\x00s1\x00", i16(0), i16(1), i32(1), "x", i16(0)), msg('E', "\x00", i32(0)), msg('S')),
				s(msg('1'), msg('2'), msg('D', i16(1), i32(1), "x"), msg('C', "SELECT 1\x00"), ready),
				c(msg('P', "s2\x00SELEC 1\x00", i16(0)), msg('B', "\x00s2\x00", i16(0), i16(0), i16(0)), msg('E', "\x00", i32(0)), msg('S')),
				s(msg('E', "SERROR\x00C42601\x00Msyntax error at or near \"SELEC\"\x00\x00"), ready),
			},
			want: []summary{
				{Action: "login", Outcome: "success", User: "bob", DB: "db1", Method: "trust"},
				{Action: "query", Outcome: "success", User: "bob", DB: "db1", Statement: "SELECT $1", Params: "$1 = 'x'", Rows: "1"},
				{Action: "query", Outcome: "failure", User: "bob", DB: "db1", Statement: "SELEC 1", Code: "42601"},
			},
		},
		{
			name: "binary parameters typed by Parse",
			steps: []step{
				c(startup("bob", "db1")), s(authOK, ready),
				c(msg('P', "\x00DELETE FROM t WHERE id = $1 AND big = $2 AND ok = $3\x00", i16(3), i32(23), i32(20), i32(16)),
					msg('B', "\x00\x00", i16(1), i16(1), i16(3), i32(4), i32(0xfffffffe), i32(8), "\x00\x00\x00\x01\x00\x00\x00\x00", i32(1), "\x01", i16(0)),
					msg('E', "\x00", i32(0)), msg('S')),
				s(msg('1'), msg('2'), msg('C', "DELETE 3\x00"), ready),
			},
			want: []summary{
				{Action: "login", Outcome: "success", User: "bob", DB: "db1", Method: "trust"},
				{Action: "query", Outcome: "success", User: "bob", DB: "db1", Statement: "DELETE FROM t WHERE id = $1 AND big = $2 AND ok = $3", Params: "$1 = '-2', $2 = '4294967296', $3 = 'true'", Rows: "3"},
			},
		},
		{
			name: "several statements in one simple query, and an empty one",
			steps: []step{
				c(startup("bob", "db1")), s(authOK, ready),
				c(msg('Q', "SELECT 1; SELECT 2\x00")),
				s(msg('T', i16(0)), msg('D', i16(0)), msg('C', "SELECT 1\x00"), msg('T', i16(0)), msg('D', i16(0)), msg('C', "SELECT 1\x00"), ready),
				c(msg('Q', "\x00")), s(msg('I'), ready),
				c(msg('X')),
			},
			want: []summary{
				{Action: "login", Outcome: "success", User: "bob", DB: "db1", Method: "trust"},
				{Action: "query", Outcome: "success", User: "bob", DB: "db1", Statement: "SELECT 1; SELECT 2", Rows: "2"},
				{Action: "logout", Outcome: "success", User: "bob", DB: "db1"},
			},
		},
		{
			name: "statement without an answer before the end",
			steps: []step{
				c(startup("bob", "db1")), s(authOK, ready),
				c(msg('Q', "ALTER USER bob PASSWORD 'hunter2'\x00")),
			},
			want: []summary{
				{Action: "login", Outcome: "success", User: "bob", DB: "db1", Method: "trust"},
				{Action: "dcl", Outcome: "unknown", User: "bob", DB: "db1", Statement: "ALTER USER bob PASSWORD '*****'"},
			},
			secret: "hunter2",
		},
		{
			name: "messages split across writes",
			steps: func() []step {
				all := concat([][]byte{startup("bob", "db1")})
				var steps []step
				for _, b := range all {
					steps = append(steps, c([]byte{b}))
				}
				srv := concat([][]byte{authOK, ready})
				for _, b := range srv {
					steps = append(steps, s([]byte{b}))
				}
				return steps
			}(),
			want: []summary{{Action: "login", Outcome: "success", User: "bob", DB: "db1", Method: "trust"}},
		},
		{
			name:  "cancel request",
			steps: []step{c(untyped(80877102, i32(1234)+i32(5678)))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, evs, sess := run(t, tt.steps)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if sess.Encrypted() != tt.encrypted {
				t.Errorf("Encrypted() = %v, want %v", sess.Encrypted(), tt.encrypted)
			}
			if sess.Errors() != 0 {
				t.Errorf("%d decode errors", sess.Errors())
			}
			if tt.secret != "" {
				for _, ev := range evs {
					if js := ev.AppendJSON(nil); strings.Contains(string(js), tt.secret) {
						t.Errorf("secret in %s", js)
					}
				}
			}
		})
	}
}

// TestResync checks that a session that lost bytes finds the next message.
func TestResync(t *testing.T) {
	var evs []event.Event
	sess := NewSession(Options{}, func(ev event.Event) { evs = append(evs, ev) })
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The capture starts inside the connection, in the middle of a message.
	sess.Gap(true, 0)
	sess.Gap(false, 0)
	sess.Client(ts, []byte("LECT 1\x00"))
	sess.Client(ts, msg('Q', "SELECT 2\x00"))
	sess.Server(ts, []byte("\x00\x00garbage"))
	sess.Server(ts, concat([][]byte{msg('C', "SELECT 1\x00"), ready}))
	sess.Close(ts)
	if len(evs) != 1 || evs[0].Fields.Str("db.statement") != "SELECT 2" || evs[0].Fields.Str("event.outcome") != "success" {
		for _, ev := range evs {
			t.Logf("%s", ev.AppendJSON(nil))
		}
		t.Fatalf("got %d events, want the one of SELECT 2", len(evs))
	}
}

// TestRowsCutAnywhere checks that a result's rows are counted the same
// however the server's bytes are cut: rows counted in bulk within a write,
// rows split across writes, headers split across writes.
func TestRowsCutAnywhere(t *testing.T) {
	var rows [][]byte
	for i := range 40 {
		rows = append(rows, msg('D', i16(1), i32(uint32(i)), strings.Repeat("x", i)))
	}
	result := concat(append(append([][]byte{msg('T', i16(0))}, rows...), msg('C', "SELECT 40\x00"), ready))
	wirefuzz.CheckRows(t, func(emit func(event.Event)) wirefuzz.Session {
		sess := NewSession(Options{}, emit)
		ts := time.Unix(1, 0)
		sess.Client(ts, startup("bob", "db1"))
		sess.Server(ts, concat([][]byte{authOK, ready}))
		sess.Client(ts, msg('Q', "SELECT x FROM t\x00"))
		return sess
	}, result, 40, len(concat(rows)))
}

// TestExtraFields: events leave room for the fields the caller adds.
func TestExtraFields(t *testing.T) {
	sess := NewSession(Options{ExtraFields: 8}, func(ev event.Event) {
		if room := cap(ev.Fields) - len(ev.Fields); room < 8 {
			t.Errorf("room for %d fields, want 8: %s", room, ev.AppendJSON(nil))
		}
	})
	ts := time.Unix(1, 0)
	sess.Client(ts, startup("bob", "db1"))
	sess.Server(ts, concat([][]byte{authOK, ready}))
	sess.Client(ts, msg('Q', "SELECT 1\x00"))
	sess.Server(ts, concat([][]byte{msg('T', i16(0)), msg('D', i16(0)), msg('C', "SELECT 1\x00"), ready}))
	sess.Client(ts, msg('X'))
	sess.Close(ts)
}
