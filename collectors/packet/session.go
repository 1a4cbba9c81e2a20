package packet

import (
	"time"

	"github.com/danang-soc/vigil/collectors/packet/mysqlwire"
	"github.com/danang-soc/vigil/collectors/packet/pgwire"
	"github.com/danang-soc/vigil/event"
)

// wireSession decodes the two byte streams of one connection. Client and
// Server are called with the bytes of each direction in order; Gap says that
// bytes are missing before the next call for that direction, and at which
// offset of that direction's stream it resumes; Acked gives the offset of
// the server's stream that the client had acknowledged when it sent the
// bytes of the next Client call.
type wireSession interface {
	Client(ts time.Time, b []byte)
	Server(ts time.Time, b []byte)
	Gap(fromClient bool, resume uint32)
	Acked(off uint32)
	Close(ts time.Time)
	Encrypted() bool
	Errors() int
	SessionID() string
}

type protocol uint8

const (
	protoNone protocol = iota
	protoPostgres
	protoMySQL
)

// portTable gives the protocol of each server port, in two bits a port: 16
// KiB that every decoder clears and the caches hold, rather than 64 KiB.
type portTable [1 << 16 * 2 / 64]uint64

// The protocols fit in two bits.
const _ = uint(3 - protoMySQL)

func (t *portTable) get(port uint16) protocol {
	return protocol(t[port/32] >> (port % 32 * 2) & 3)
}

func (t *portTable) set(port uint16, p protocol) {
	shift := port % 32 * 2
	t[port/32] = t[port/32]&^(3<<shift) | uint64(p)<<shift
}

func (p protocol) String() string {
	switch p {
	case protoPostgres:
		return "postgresql"
	case protoMySQL:
		return "mysql"
	}
	return ""
}

// newSession starts the decoder of a connection; extraFields is how many
// fields are added to each of its events.
func newSession(p protocol, maxMessage, extraFields int, emit func(event.Event)) wireSession {
	switch p {
	case protoPostgres:
		return pgwire.NewSession(pgwire.Options{MaxMessage: maxMessage, ExtraFields: extraFields}, emit)
	case protoMySQL:
		return mysqlwire.NewSession(mysqlwire.Options{MaxMessage: maxMessage, ExtraFields: extraFields}, emit)
	}
	return nil
}
