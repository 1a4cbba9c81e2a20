// Package wirefuzz is the fuzzing harness the database wire decoders share:
// it turns the TCP conversations of a capture into fuzz seeds, plays fuzz
// input into a decoder session, and writes a test's bytes to sessions cut
// in every way. It is used by tests only.
//
// Concurrency: the functions keep no state.
package wirefuzz

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Conversations reads the TCP payloads of each connection to port in a
// capture, encoded as fuzz input: per chunk one direction byte (0 client, 1
// server), a 2-byte length and the bytes. Each is cut at max bytes.
func Conversations(t testing.TB, path string, port uint16, max int) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	convs := map[uint16][]byte{}
	var order []uint16
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Lazy)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || len(tcp.Payload) == 0 {
			continue
		}
		dir, cli := byte(0), uint16(tcp.SrcPort)
		if uint16(tcp.SrcPort) == port {
			dir, cli = 1, uint16(tcp.DstPort)
		} else if uint16(tcp.DstPort) != port {
			continue
		}
		if _, ok := convs[cli]; !ok {
			order = append(order, cli)
		}
		b := convs[cli]
		for pl := tcp.Payload; len(pl) > 0 && len(b) < max; {
			n := min(len(pl), 0xffff)
			b = append(b, dir, byte(n>>8), byte(n))
			b = append(b, pl[:n]...)
			pl = pl[n:]
		}
		convs[cli] = b
	}
	var out [][]byte
	for _, c := range order {
		out = append(out, convs[c])
	}
	return out
}

// Session is what a wire decoder's session offers to the reassembly.
type Session interface {
	Client(ts time.Time, b []byte)
	Server(ts time.Time, b []byte)
	Gap(fromClient bool, resume uint32)
	Acked(off uint32)
	Close(ts time.Time)
}

// Play feeds fuzz input to a session: chunks as Conversations writes
// them, a direction byte of 2 or 3 being a gap in that direction.
func Play(s Session, b []byte) {
	ts := time.Unix(0, 0)
	for len(b) >= 3 {
		dir := b[0]
		n := int(binary.BigEndian.Uint16(b[1:3]))
		b = b[3:]
		n = min(n, len(b))
		ts = ts.Add(time.Millisecond)
		switch dir % 4 {
		case 0:
			s.Client(ts, b[:n])
		case 1:
			s.Server(ts, b[:n])
		case 2:
			s.Gap(true, uint32(n))
		case 3:
			s.Gap(false, uint32(n))
		}
		if dir&0x80 != 0 {
			s.Acked(uint32(n))
		}
		b = b[n:]
	}
	s.Close(ts)
}

// Cuts returns the ways in which a test writes b to a session: cut once at
// every offset, and after that whole, in single bytes, or in chunks of 7 or
// 64 bytes. Decoders must give the same events for each.
func Cuts(b []byte) [][][]byte {
	var out [][][]byte
	for at := range len(b) {
		for _, every := range []int{0, 1, 7, 64} {
			parts := [][]byte{b[:at]}
			rest := b[at:]
			for every > 0 && len(rest) > every {
				parts = append(parts, rest[:every])
				rest = rest[every:]
			}
			out = append(out, append(parts, rest))
		}
	}
	return out
}

// CheckRows writes result, the server's answer to a query, to sessions
// that open brought to the point of waiting for it, cut in each of the
// ways of Cuts, and checks that the query's event counts rows rows and
// bytes bytes, without decode errors.
func CheckRows(t *testing.T, open func(emit func(event.Event)) Session, result []byte, rows, bytes int) {
	t.Helper()
	want := fmt.Sprintf("rows %d, bytes %d, 0 errors", rows, bytes)
	for i, parts := range Cuts(result) {
		var evs []event.Event
		s := open(func(ev event.Event) { evs = append(evs, ev) })
		ts := time.Unix(1, 0)
		for _, p := range parts {
			s.Server(ts, p)
		}
		s.Close(ts)
		var errors int
		if e, ok := s.(interface{ Errors() int }); ok {
			errors = e.Errors()
		}
		if len(evs) == 0 {
			t.Fatalf("cut %d: no event", i)
		}
		f := evs[len(evs)-1].Fields
		if got := fmt.Sprintf("rows %s, bytes %s, %d errors", f.Str("db.response.rows"), f.Str("db.response.bytes"), errors); got != want {
			t.Errorf("cut %d (%d writes): %s, want %s", i, len(parts), got, want)
		}
	}
}
