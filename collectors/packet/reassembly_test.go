package packet

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// rawPacket is one packet of a capture held in memory.
type rawPacket struct {
	ts   time.Time
	data []byte
}

func readPackets(t testing.TB, path string) (layers.LinkType, []rawPacket) {
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
	var ps []rawPacket
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, rawPacket{ci.Timestamp, data})
	}
	return r.LinkType(), ps
}

// replay feeds packets to a new Decoder and returns what the events other
// than flow records say, leaving out times, and the stats.
func replay(t testing.TB, cfg Config, link layers.LinkType, ps []rawPacket) ([]string, Stats) {
	t.Helper()
	var out []string
	d, err := NewDecoder(cfg, func(ev event.Event) {
		if ev.Fields.Str("event.action") == "flow" {
			return
		}
		var line []byte
		for _, k := range []string{"source.port", "event.action", "event.outcome", "db.user", "db.name", "db.statement",
			"db.statement.parameters", "db.response.rows", "db.response.bytes", "db.response.status_code", "error.message", "db.auth.method"} {
			line = append(line, k+"="+ev.Fields.Str(k)+" "...)
		}
		out = append(out, string(line))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		d.Packet(link, p.ts, p.data)
	}
	d.Flush()
	return out, d.Stats()
}

// tcpPayloadLen returns the TCP payload length of an Ethernet/IPv4 frame.
func tcpPayloadLen(link layers.LinkType, b []byte) int {
	var s segment
	if ok, _ := parseFrame(int(link), b, &s); !ok {
		return 0
	}
	return len(s.payload)
}

func sameDirection(link layers.LinkType, a, b []byte) bool {
	var sa, sb segment
	parseFrame(int(link), a, &sa)
	parseFrame(int(link), b, &sb)
	return sa.src == sb.src && sa.dst == sb.dst && sa.srcPort == sb.srcPort && sa.dstPort == sb.dstPort
}

// TestReassemblyDisorder checks that out-of-order and retransmitted
// segments give the same events as the capture in order.
func TestReassemblyDisorder(t *testing.T) {
	cfg := Config{Postgres: []uint16{5433}}
	link, ps := readPackets(t, testenv.Corpus(t, "pcaps", "postgres.pcap"))
	want, _ := replay(t, cfg, link, ps)

	tests := []struct {
		name   string
		mangle func([]rawPacket) []rawPacket
		check  func(t *testing.T, st Stats)
	}{
		{"swap neighbours", func(ps []rawPacket) []rawPacket {
			// Swap each pair of consecutive data packets of the same
			// direction.
			out := slices.Clone(ps)
			for i := 0; i+1 < len(out); i += 2 {
				if tcpPayloadLen(link, out[i].data) > 0 && tcpPayloadLen(link, out[i+1].data) > 0 && sameDirection(link, out[i].data, out[i+1].data) {
					out[i], out[i+1] = out[i+1], out[i]
				}
			}
			return out
		}, func(t *testing.T, st Stats) {
			if st.OutOfOrder == 0 {
				t.Error("no segment counted out of order")
			}
		}},
		{"every segment twice", func(ps []rawPacket) []rawPacket {
			var out []rawPacket
			for _, p := range ps {
				out = append(out, p)
				if tcpPayloadLen(link, p.data) > 0 {
					out = append(out, p)
				}
			}
			return out
		}, func(t *testing.T, st Stats) {
			if st.Retransmitted == 0 {
				t.Error("no retransmission counted")
			}
		}},
		{"both FINs before the last data", func(ps []rawPacket) []rawPacket {
			// The last data of a side (psql's Terminate) comes after
			// its own FIN and the other side's.
			fin := func(p rawPacket) bool {
				var s segment
				parseFrame(int(link), p.data, &s)
				return s.flags&flagFIN != 0
			}
			out := slices.Clone(ps)
			moved := 0
			for i := 1; i+1 < len(out); i++ {
				if fin(out[i]) && fin(out[i+1]) && tcpPayloadLen(link, out[i-1].data) > 0 && sameDirection(link, out[i-1].data, out[i].data) {
					last := out[i-1]
					copy(out[i-1:], out[i:i+2])
					out[i+1] = last
					moved++
				}
			}
			if moved == 0 {
				t.Fatal("no data before two FINs in the capture")
			}
			return out
		}, nil},
		{"late duplicates", func(ps []rawPacket) []rawPacket {
			// Each data segment is repeated three packets later.
			var out []rawPacket
			for i, p := range ps {
				out = append(out, p)
				if i >= 3 && tcpPayloadLen(link, ps[i-3].data) > 0 {
					out = append(out, rawPacket{p.ts, ps[i-3].data})
				}
			}
			return out
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := replay(t, cfg, link, tt.mangle(ps))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events differ from the capture in order (-want +got):\n%s", diff)
			}
			if st.Gaps != 0 || st.DecodeErrors != 0 {
				t.Errorf("gaps %d, decode errors %d; want none", st.Gaps, st.DecodeErrors)
			}
			if tt.check != nil {
				tt.check(t, st)
			}
			if st.Buffered != 0 || st.FlowsOpen != 0 {
				t.Errorf("after Flush: %d bytes buffered, %d flows open", st.Buffered, st.FlowsOpen)
			}
		})
	}
}

// TestReassemblyLoss drops packets and starts captures inside sessions:
// what comes after the loss is still decoded.
func TestReassemblyLoss(t *testing.T) {
	cfg := Config{Postgres: []uint16{5433}}
	link, ps := readPackets(t, testenv.Corpus(t, "pcaps", "postgres.pcap"))
	want, _ := replay(t, cfg, link, ps)
	has := func(evs []string, stmt string) bool {
		for _, e := range evs {
			if bytes.Contains([]byte(e), []byte(`db.statement=`+stmt+` `)) {
				return true
			}
		}
		return false
	}
	// The big result of the SQL injection query spans many packets: drop
	// one of them.
	big := -1
	for i, p := range ps {
		if tcpPayloadLen(link, p.data) > 30000 {
			big = i + 10
			break
		}
	}
	if big < 0 {
		t.Fatal("no large segment in the capture")
	}
	tests := []struct {
		name     string
		packets  []rawPacket
		wantStmt string // a statement after the loss that must be decoded
	}{
		{"one server segment lost", slices.Delete(slices.Clone(ps), big, big+1), "SELECT id, name FROM users WHERE name = 'x' UNION SELECT 1, version();"},
		{"capture starts mid-session", ps[100:], "SELECT id, name FROM users WHERE name = 'x' UNION SELECT 1, version();"},
		{"capture starts later", ps[400:], "SELECT pg_sleep(0.2);"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := replay(t, cfg, link, tt.packets)
			if !has(got, tt.wantStmt) {
				t.Errorf("statement %q not decoded after the loss", tt.wantStmt)
			}
			if st.Gaps == 0 {
				t.Error("no gap counted")
			}
			if len(got) == 0 || len(got) > len(want) {
				t.Errorf("%d events, want between 1 and %d", len(got), len(want))
			}
		})
	}
}

// frame builds an Ethernet/IPv4/TCP frame.
func frame(src, dst [4]byte, sport, dport uint16, seq, ack uint32, flags uint8, payload []byte) []byte {
	b := make([]byte, 14+20+20+len(payload))
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
	ip[8], ip[9] = 64, 6
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4
	tcp[13] = flags
	copy(tcp[20:], payload)
	return b
}

// TestFlowBounds checks the idle timeout and the bound on flows.
func TestFlowBounds(t *testing.T) {
	cli, srv := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		cfg     Config
		packets func() []rawPacket
		want    Stats
	}{
		{"idle flows are closed", Config{IdleTimeout: time.Minute}, func() []rawPacket {
			return []rawPacket{
				{t0, frame(cli, srv, 40000, 5432, 100, 0, flagSYN, nil)},
				{t0.Add(2 * time.Minute), frame(cli, srv, 40001, 5432, 100, 0, flagSYN, nil)},
			}
		}, Stats{Flows: 2, FlowsIdle: 1}},
		{"max flows evicts the oldest", Config{MaxFlows: 2}, func() []rawPacket {
			var ps []rawPacket
			for i := range 5 {
				ps = append(ps, rawPacket{t0.Add(time.Duration(i) * time.Second), frame(cli, srv, uint16(40000+i), 3306, 100, 0, flagSYN, nil)})
			}
			return ps
		}, Stats{Flows: 5, FlowsEvicted: 3}},
		{"held bytes are bounded per flow", Config{MaxFlowBuffer: 1000}, func() []rawPacket {
			ps := []rawPacket{{t0, frame(cli, srv, 40000, 5432, 100, 0, flagSYN, nil)}}
			// 2000 bytes arrive after a hole of 10 bytes.
			for i := range 4 {
				ps = append(ps, rawPacket{t0, frame(cli, srv, 40000, 5432, uint32(111+500*i), 0, flagACK, make([]byte, 500))})
			}
			return ps
		}, Stats{Flows: 1, OutOfOrder: 3, Gaps: 1, LostBytes: 10}},
		{"an acknowledged hole is given up", Config{}, func() []rawPacket {
			return []rawPacket{
				{t0, frame(cli, srv, 40000, 5432, 100, 0, flagSYN, nil)},
				{t0, frame(srv, cli, 5432, 40000, 900, 101, flagSYN|flagACK, nil)},
				{t0, frame(cli, srv, 40000, 5432, 111, 901, flagACK, make([]byte, 50))},
				{t0, frame(srv, cli, 5432, 40000, 901, 161, flagACK, nil)},
			}
		}, Stats{Flows: 1, OutOfOrder: 1, Gaps: 1, LostBytes: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDecoder(tt.cfg, func(event.Event) {})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.packets() {
				d.Packet(layers.LinkTypeEthernet, p.ts, p.data)
			}
			got := d.Stats()
			got = Stats{Flows: got.Flows, FlowsIdle: got.FlowsIdle, FlowsEvicted: got.FlowsEvicted, OutOfOrder: got.OutOfOrder, Gaps: got.Gaps, LostBytes: got.LostBytes}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzReassembly cuts a byte stream into segments, reorders, duplicates
// and drops them as the fuzzer says, and checks that what is delivered is
// the stream in order, with the holes declared.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte("SELECT * FROM users WHERE id = '1' OR '1'='1';"), uint64(1), uint16(7), false)
	f.Add(bytes.Repeat([]byte("0123456789"), 300), uint64(42), uint16(100), true)
	f.Add([]byte{}, uint64(0), uint16(0), false)
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, cut uint16, lose bool) {
		if cut == 0 {
			cut = 1
		}
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		type seg struct {
			seq  uint32
			data []byte
		}
		isn := uint32(rng.Uint64())
		var segs []seg
		for off := 0; off < len(stream); {
			n := 1 + int(uint64(cut)*rng.Uint64N(4)/2)
			n = min(n, len(stream)-off)
			segs = append(segs, seg{isn + 1 + uint32(off), stream[off : off+n]})
			off += n
		}
		order := slices.Clone(segs)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for i := 0; i < len(segs)/3; i++ {
			order = append(order, segs[rng.IntN(len(segs))]) // retransmissions
		}
		dropped := -1
		if lose && len(segs) > 2 {
			dropped = 1 + rng.IntN(len(segs)-2)
		}
		d, err := NewDecoder(Config{MaxFlowBuffer: 1 << 30, MaxBuffer: 1 << 30}, func(event.Event) {})
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		gaps := 0
		h := &halfStream{started: true, next: isn + 1}
		for _, s := range order {
			if dropped >= 0 && s.seq == segs[dropped].seq {
				continue
			}
			h.add(d, time.Time{}, s.seq, s.data, func(_ time.Time, b []byte) { got = append(got, b...) }, func(uint32) { gaps++ })
		}
		h.flush(d, func(_ time.Time, b []byte) { got = append(got, b...) }, func(uint32) { gaps++ })
		want := stream
		if dropped >= 0 {
			lo := int(segs[dropped].seq - isn - 1)
			want = append(slices.Clone(stream[:lo]), stream[lo+len(segs[dropped].data):]...)
			if gaps != 1 {
				t.Errorf("%d gaps declared, want 1", gaps)
			}
		} else if gaps != 0 {
			t.Errorf("%d gaps declared, want none", gaps)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("delivered %d bytes differ from the %d of the stream", len(got), len(want))
		}
		if d.buffered != 0 || h.heldLen != 0 {
			t.Errorf("after flush: %d bytes still held", d.buffered)
		}
	})
}

// TestDamagedCaptures cuts and corrupts corpus captures: the events of what
// can be decoded come out, the damage is counted, nothing panics.
func TestDamagedCaptures(t *testing.T) {
	for _, c := range []capture{
		{"postgres.pcap", Config{Postgres: []uint16{5433}}},
		{"mariadb.pcap", Config{MySQL: []uint16{3307}}},
	} {
		raw, err := os.ReadFile(testenv.Corpus(t, "pcaps", c.rel))
		if err != nil {
			t.Fatal(err)
		}
		full := decodeBytes(t, raw, c.cfg)
		statements := map[string]bool{}
		for _, ev := range full.events {
			statements[ev.Fields.Str("db.statement")] = true
		}
		t.Run(c.rel+"/cut", func(t *testing.T) {
			for _, frac := range []int{5, 25, 50, 75, 95} {
				cut := len(raw) * frac / 100
				got := decodeBytes(t, raw[:cut], c.cfg)
				if got.stats.CaptureErrors != 1 {
					t.Errorf("cut at %d%%: %d capture errors, want 1", frac, got.stats.CaptureErrors)
				}
				if frac >= 25 && len(got.events) == 0 {
					t.Errorf("cut at %d%%: no events", frac)
				}
				for _, ev := range got.events {
					if s := ev.Fields.Str("db.statement"); !statements[s] {
						t.Errorf("cut at %d%%: statement %q is not in the whole capture", frac, s)
					}
				}
			}
		})
		t.Run(c.rel+"/flipped", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for round := range 20 {
				bad := slices.Clone(raw)
				for range 50 {
					i := 24 + rng.IntN(len(bad)-24) // keep the file header
					bad[i] ^= byte(1 + rng.IntN(255))
				}
				got := decodeBytes(t, bad, c.cfg)
				if len(got.events) == 0 {
					t.Errorf("round %d: no events from a capture with 50 flipped bytes", round)
				}
			}
		})
	}
}

type decoded struct {
	events []event.Event
	stats  Stats
}

func decodeBytes(t testing.TB, b []byte, cfg Config) decoded {
	t.Helper()
	var d decoded
	st, err := DecodeReader(context.Background(), bytes.NewReader(b), cfg, func(ev event.Event) { d.events = append(d.events, ev) })
	if err != nil {
		t.Fatalf("DecodeReader: %v", err)
	}
	d.stats = st
	return d
}

// FuzzDecodeCapture feeds whole capture files, seeded with the small
// captures of the corpus: no panic, and nothing held after the end.
func FuzzDecodeCapture(f *testing.F) {
	for _, c := range corpusCaptures(f) {
		path := testenv.Corpus(f, "pcaps", c.rel)
		if fi, err := os.Stat(path); err != nil || fi.Size() > 16<<10 {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	cfg := Config{Postgres: []uint16{5432, 15432}, MySQL: []uint16{3306}, Detect: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeReader(context.Background(), bytes.NewReader(b), cfg, func(event.Event) {})
		if err != nil {
			return
		}
		if st.Buffered != 0 || st.FlowsOpen != 0 {
			t.Errorf("after the end: %d bytes held, %d flows open", st.Buffered, st.FlowsOpen)
		}
	})
}
