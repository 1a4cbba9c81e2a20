package mysqlwire

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/collectors/packet/internal/wirefuzz"
	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

// pkt builds a protocol packet.
func pkt(seq byte, payload ...string) []byte {
	p := strings.Join(payload, "")
	return append([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq}, p...)
}

func le16(n uint16) string { return string(binary.LittleEndian.AppendUint16(nil, n)) }
func le32(n uint32) string { return string(binary.LittleEndian.AppendUint32(nil, n)) }

const baseCaps = capProtocol41 | capSecureConn | capPluginAuth | capConnectWithDB | capMultiResults

func greeting(caps uint32) []byte {
	return pkt(0, "\x0a", "10.11.19-MariaDB\x00", le32(42), "12345678", "\x00", le16(uint16(caps)), "\x21", le16(2),
		le16(uint16(caps>>16)), "\x15", strings.Repeat("\x00", 10), "123456789012\x00", "mysql_native_password\x00")
}

func handshake(caps uint32, user, db string) []byte {
	body := le32(caps) + le32(1<<24) + "\x21" + strings.Repeat("\x00", 23) + user + "\x00" + "\x14" + strings.Repeat("\x01", 20)
	if caps&capConnectWithDB != 0 {
		body += db + "\x00"
	}
	body += "mysql_native_password\x00"
	return pkt(1, body)
}

func ok(seq byte) []byte { return pkt(seq, "\x00\x00\x00\x02\x00\x00\x00") }

func errPkt(seq byte, code uint16, state, msg string) []byte {
	return pkt(seq, "\xff", le16(code), "#", state, msg)
}

func eof(seq byte, status uint16) []byte { return pkt(seq, "\xfe\x00\x00", le16(status)) }

type step struct {
	client bool
	b      []byte
}

func c(parts ...[]byte) step { return step{true, bytes.Join(parts, nil)} }
func s(parts ...[]byte) step { return step{false, bytes.Join(parts, nil)} }

type summary struct {
	Action, Outcome, User, DB, Statement, Params, Rows, Code string
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
			f.Str("db.statement"), f.Str("db.statement.parameters"), f.Str("db.response.rows"), f.Str("db.response.status_code")})
	}
	return out, evs, sess
}

// resultSet is a text result of one column and n rows, with the EOF
// packets of servers without CLIENT_DEPRECATE_EOF.
func resultSet(n int, status uint16) []byte {
	var b []byte
	b = append(b, pkt(1, "\x01")...)
	b = append(b, pkt(2, "\x03def\x00\x00\x00\x01x\x00\x0c\x21\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00")...)
	b = append(b, eof(3, 0)...)
	for i := range n {
		b = append(b, pkt(byte(4+i), "\x011")...)
	}
	return append(b, eof(byte(4+n), status)...)
}

func TestSession(t *testing.T) {
	login := []step{s(greeting(baseCaps)), c(handshake(baseCaps, "bob", "shop")), s(ok(2))}
	loggedIn := summary{Action: "login", Outcome: "success", User: "bob", DB: "shop"}
	tests := []struct {
		name      string
		steps     []step
		want      []summary
		encrypted bool
	}{
		{
			name:      "TLS upgrade",
			steps:     []step{s(greeting(baseCaps | capSSL)), c(pkt(1, le32(baseCaps|capSSL), le32(1<<24), "\x21", strings.Repeat("\x00", 23))), c([]byte("\x16\x03\x01 client hello"))},
			want:      []summary{{Action: "login", Outcome: "unknown"}},
			encrypted: true,
		},
		{
			name:  "refused before the handshake",
			steps: []step{s(errPkt(0, 1130, "HY000", "Host '10.0.0.9' is not allowed to connect"))},
			want: []summary{
				{Action: "login", Outcome: "failure", Code: "1130"},
			},
		},
		{
			name: "auth switch then access denied",
			steps: []step{s(greeting(baseCaps)), c(handshake(baseCaps, "eve", "shop")), s(pkt(2, "\xfecaching_sha2_password\x00salt")),
				c(pkt(3, strings.Repeat("\x02", 32))), s(errPkt(4, 1045, "28000", "Access denied for user 'eve'"))},
			want: []summary{
				{Action: "login", Outcome: "failure", User: "eve", DB: "shop", Code: "1045"},
			},
		},
		{
			name: "init db refused, query, change user",
			steps: append(login[:3:3],
				c(pkt(0, "\x02nosuch")), s(errPkt(1, 1049, "42000", "Unknown database 'nosuch'")),
				c(pkt(0, "\x03SELECT x FROM t")), s(resultSet(3, 0)),
				c(pkt(0, "\x11alice\x00\x14", strings.Repeat("\x03", 20), "hr\x00")), s(ok(1)),
				c(pkt(0, "\x01")),
			),
			want: []summary{
				loggedIn,
				{Action: "query", Outcome: "failure", User: "bob", DB: "nosuch", Code: "1049"},
				{Action: "query", Outcome: "success", User: "bob", DB: "shop", Statement: "SELECT x FROM t", Rows: "3"},
				{Action: "login", Outcome: "success", User: "alice", DB: "hr"},
				{Action: "logout", Outcome: "success", User: "alice", DB: "hr"},
			},
		},
		{
			name: "stored procedure with two result sets",
			steps: append(login[:3:3],
				c(pkt(0, "\x03CALL p()")), s(resultSet(2, statusMoreResults), resultSet(1, statusMoreResults), ok(9)),
			),
			want: []summary{loggedIn, {Action: "query", Outcome: "success", User: "bob", DB: "shop", Statement: "CALL p()", Rows: "3"}},
		},
		{
			name: "prepared statement with binary parameters",
			steps: append(login[:3:3],
				c(pkt(0, "\x16UPDATE t SET name = ? WHERE id = ?")),
				s(pkt(1, "\x00", le32(7), le16(0), le16(2), "\x00", le16(0)), pkt(2, "\x03def\x00\x00\x00\x01?\x00\x0c\x3f\x00\x00\x00\x00\x00\xfd\x80\x00\x00\x00\x00"),
					pkt(3, "\x03def\x00\x00\x00\x01?\x00\x0c\x3f\x00\x00\x00\x00\x00\x08\x80\x00\x00\x00\x00"), eof(4, 0)),
				c(pkt(0, "\x17", le32(7), "\x00", le32(1), "\x00", "\x01", "\xfd\x00\x08\x00", "\x06O'Neil", "\x2a\x00\x00\x00\x00\x00\x00\x00")),
				s(pkt(1, "\x00\x01\x00\x02\x00\x00\x00")),
				c(pkt(0, "\x19", le32(7))),
			),
			want: []summary{loggedIn, {Action: "query", Outcome: "success", User: "bob", DB: "shop", Statement: "UPDATE t SET name = ? WHERE id = ?", Params: "'O''Neil', 42", Rows: "1"}},
		},
		{
			name: "statement without an answer before the end",
			steps: append(login[:3:3],
				c(pkt(0, "\x03ALTER USER bob IDENTIFIED BY 'hunter2'")),
			),
			want: []summary{loggedIn, {Action: "dcl", Outcome: "unknown", User: "bob", DB: "shop", Statement: "ALTER USER bob IDENTIFIED BY '*****'"}},
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
			for _, ev := range evs {
				if js := ev.AppendJSON(nil); bytes.Contains(js, []byte("hunter2")) {
					t.Errorf("password in %s", js)
				}
			}
		})
	}
}

// TestCompressed checks the compressed protocol, deflated and stored
// packets alike.
func TestCompressed(t *testing.T) {
	caps := uint32(baseCaps | capCompress)
	wrap := func(seq byte, deflate bool, b []byte) []byte {
		payload, ulen := b, 0
		if deflate {
			var z bytes.Buffer
			w := zlib.NewWriter(&z)
			w.Write(b)
			w.Close()
			payload, ulen = z.Bytes(), len(b)
		}
		h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq, byte(ulen), byte(ulen >> 8), byte(ulen >> 16)}
		return append(h, payload...)
	}
	big := resultSet(500, 0)
	got, _, sess := run(t, []step{
		s(greeting(caps)), c(handshake(caps, "bob", "shop")), s(ok(2)),
		c(wrap(0, false, pkt(0, "\x03SELECT x FROM t"))),
		s(wrap(0, true, big[:len(big)/2])), s(wrap(1, true, big[len(big)/2:])),
	})
	want := []summary{
		{Action: "login", Outcome: "success", User: "bob", DB: "shop"},
		{Action: "query", Outcome: "success", User: "bob", DB: "shop", Statement: "SELECT x FROM t", Rows: "500"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if sess.Errors() != 0 {
		t.Errorf("%d decode errors", sess.Errors())
	}
}

// TestRowsCutAnywhere checks that a result's rows are counted the same
// however the server's bytes are cut: rows counted in bulk within a write,
// rows split across writes, headers split across writes.
func TestRowsCutAnywhere(t *testing.T) {
	var rows []byte
	for i := range 40 {
		row := "\xfb" // NULL
		if i%5 != 0 {
			row = string(byte(i%10)) + strings.Repeat("x", i%10) // a string of i%10 bytes
		}
		rows = append(rows, pkt(byte(4+i), row)...)
	}
	result := bytes.Join([][]byte{pkt(1, "\x01"), pkt(2, "\x03def\x00\x00\x00\x01x\x00\x0c\x21\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"), eof(3, 0), rows, eof(44, 2)}, nil)
	wirefuzz.CheckRows(t, func(emit func(event.Event)) wirefuzz.Session {
		sess := NewSession(Options{}, emit)
		ts := time.Unix(1, 0)
		sess.Server(ts, greeting(baseCaps))
		sess.Client(ts, handshake(baseCaps, "bob", "db1"))
		sess.Server(ts, ok(2))
		sess.Client(ts, pkt(0, "\x03SELECT x FROM t"))
		return sess
	}, result, 40, len(rows))
}

// TestExtraFields: events leave room for the fields the caller adds.
func TestExtraFields(t *testing.T) {
	sess := NewSession(Options{ExtraFields: 8}, func(ev event.Event) {
		if room := cap(ev.Fields) - len(ev.Fields); room < 8 {
			t.Errorf("room for %d fields, want 8: %s", room, ev.AppendJSON(nil))
		}
	})
	ts := time.Unix(1, 0)
	sess.Server(ts, greeting(baseCaps))
	sess.Client(ts, handshake(baseCaps, "bob", "db1"))
	sess.Server(ts, ok(2))
	sess.Client(ts, pkt(0, "\x03SELECT 1"))
	sess.Server(ts, resultSet(1, 0))
	sess.Client(ts, pkt(0, "\x01"))
	sess.Close(ts)
}
