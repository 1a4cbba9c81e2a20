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

func (p protocol) String() string {
	switch p {
	case protoPostgres:
		return "postgresql"
	case protoMySQL:
		return "mysql"
	}
	return ""
}

func newSession(p protocol, maxMessage int, emit func(event.Event)) wireSession {
	switch p {
	case protoPostgres:
		return pgwire.NewSession(pgwire.Options{MaxMessage: maxMessage}, emit)
	case protoMySQL:
		return mysqlwire.NewSession(mysqlwire.Options{MaxMessage: maxMessage}, emit)
	}
	return nil
}
