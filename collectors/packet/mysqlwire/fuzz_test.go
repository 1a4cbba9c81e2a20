package mysqlwire

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// conversations reads the TCP payloads of each connection to port in a
// capture, encoded as fuzz input: per chunk one direction byte (0 client, 1
// server), a 2-byte length and the bytes. Each is cut at max bytes.
func conversations(t testing.TB, path string, port uint16, max int) [][]byte {
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

// play feeds fuzz input to a session: chunks as conversations writes
// them, a direction byte of 2 or 3 being a gap in that direction.
func play(s *Session, b []byte) {
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

func FuzzSession(f *testing.F) {
	for _, c := range conversations(f, testenv.Corpus(f, "pcaps", "mariadb.pcap"), 3307, 8<<10) {
		f.Add(c)
	}
	files, _ := filepath.Glob(filepath.Join(testenv.Corpus(f, "pcaps", "public", "pcap2mysql-log"), "*.pcap"))
	for _, file := range files {
		for _, c := range conversations(f, file, 3306, 8<<10) {
			f.Add(c)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSession(Options{MaxMessage: 1024}, func(ev event.Event) {
			if ev.Time.IsZero() {
				t.Errorf("event without time: %s", ev.AppendJSON(nil))
			}
			if ev.Fields.Str("event.action") == "" || ev.Fields.Str("event.outcome") == "" {
				t.Errorf("event without action or outcome: %s", ev.AppendJSON(nil))
			}
		})
		play(s, b)
		if len(s.pending) > maxPending {
			t.Errorf("%d requests pending, bound is %d", len(s.pending), maxPending)
		}
	})
}
