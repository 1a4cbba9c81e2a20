package packet

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// BenchmarkDecode decodes the own corpus captures one after the other, from
// the files (read in chunks by DecodeFile) and from memory
// (DecodeBytes), and reports packets and megabytes per second; the tshark
// sub-benchmarks dissect the same files with the PostgreSQL and MySQL
// dissectors, for comparison (skipped when tshark is absent).
//
//	go test -run '^$' -bench Decode -cpu 1 ./collectors/packet
func BenchmarkDecode(b *testing.B) {
	files := []struct {
		rel     string
		cfg     Config
		dissect string
		fields  []string
	}{
		{"postgres.pcap", Config{Postgres: []uint16{5433}}, "tcp.port==5433,pgsql", []string{"pgsql.type", "pgsql.query"}},
		{"mariadb.pcap", Config{MySQL: []uint16{3307}}, "tcp.port==3307,mysql", []string{"mysql.command", "mysql.query"}},
	}
	var size int64
	var packets uint64
	for _, f := range files {
		fi, err := os.Stat(testenv.Corpus(b, "pcaps", f.rel))
		if err != nil {
			b.Fatal(err)
		}
		size += fi.Size()
	}
	var mem [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(testenv.Corpus(b, "pcaps", f.rel))
		if err != nil {
			b.Fatal(err)
		}
		mem = append(mem, raw)
	}
	for _, from := range []string{"file", "memory"} {
		b.Run("vigil-"+from, func(b *testing.B) {
			b.SetBytes(size)
			var events int
			emit := func(event.Event) { events++ }
			packets = 0
			cpu0 := testenv.CPUTime()
			for b.Loop() {
				for i, f := range files {
					var st Stats
					var err error
					if from == "file" {
						st, err = DecodeFile(context.Background(), testenv.Corpus(b, "pcaps", f.rel), f.cfg, emit)
					} else {
						st, err = DecodeBytes(context.Background(), mem[i], f.cfg, emit)
					}
					if err != nil {
						b.Fatal(err)
					}
					packets += st.Packets
				}
			}
			cpu := testenv.CPUTime() - cpu0
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
			b.ReportMetric(float64(packets)/cpu.Seconds(), "packets/cpu-s")
			b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			b.ReportMetric(float64(events)/float64(b.N), "events/op")
		})
	}
	b.Run("tshark", func(b *testing.B) {
		tshark, err := exec.LookPath("tshark")
		if err != nil {
			b.Skip("tshark is not installed")
		}
		b.SetBytes(size)
		var n uint64
		var cpu time.Duration
		for b.Loop() {
			for _, f := range files {
				args := []string{"-r", testenv.Corpus(b, "pcaps", f.rel), "-d", f.dissect, "-T", "fields", "-e", "frame.number"}
				for _, fl := range f.fields {
					args = append(args, "-e", fl)
				}
				cmd := exec.Command(tshark, args...)
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("tshark: %v", err)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				n += uint64(bytes.Count(out, []byte("\n")))
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
		b.ReportMetric(float64(n)/cpu.Seconds(), "packets/cpu-s")
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	})
}

// resegment rewrites an Ethernet/IPv4 capture as a network with a 1500-byte
// MTU would have carried it: every TCP payload cut into segments of at most
// 1448 bytes (the loopback captures of the corpus have segments of up to
// 64 KiB). The sequence numbers follow, so the streams are the same.
func resegment(tb testing.TB, path string) []byte {
	tb.Helper()
	link, ps := readPackets(tb, path)
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65536, link); err != nil {
		tb.Fatal(err)
	}
	const mss = 1448
	for _, p := range ps {
		var s segment
		if ok, _ := parseFrame(int(link), p.data, &s); !ok || len(s.payload) <= mss || link != layers.LinkTypeEthernet {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: len(p.data)}, p.data)
			continue
		}
		hdr := p.data[:len(p.data)-len(s.payload)]
		ihl := int(hdr[14]&0x0f) * 4
		for off := 0; off < len(s.payload); off += mss {
			chunk := s.payload[off:min(off+mss, len(s.payload))]
			f := append(append([]byte(nil), hdr...), chunk...)
			binary.BigEndian.PutUint16(f[16:18], uint16(len(f)-14))
			binary.BigEndian.PutUint32(f[14+ihl+4:], s.seq+uint32(off))
			w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(f), Length: len(f)}, f)
		}
	}
	return buf.Bytes()
}

// BenchmarkDecodeMTU1500 is BenchmarkDecode on the own captures cut into
// the segments of an Ethernet network, from memory.
//
//	go test -run '^$' -bench DecodeMTU1500 -cpu 1 ./collectors/packet
func BenchmarkDecodeMTU1500(b *testing.B) {
	files := []capture{
		{"postgres.pcap", Config{Postgres: []uint16{5433}}},
		{"mariadb.pcap", Config{MySQL: []uint16{3307}}},
	}
	var mem [][]byte
	var size int64
	for _, f := range files {
		m := resegment(b, testenv.Corpus(b, "pcaps", f.rel))
		mem = append(mem, m)
		size += int64(len(m))
	}
	b.SetBytes(size)
	var packets uint64
	var events int
	emit := func(event.Event) { events++ }
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		for i, f := range files {
			st, err := DecodeBytes(context.Background(), mem[i], f.cfg, emit)
			if err != nil {
				b.Fatal(err)
			}
			packets += st.Packets
		}
	}
	cpu := testenv.CPUTime() - cpu0
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(packets)/cpu.Seconds(), "packets/cpu-s")
	b.ReportMetric(float64(packets)/float64(b.N), "packets/op")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// TestResegmented checks that the captures cut to a 1500-byte MTU decode
// to the same database events, so that the benchmark measures real work.
func TestResegmented(t *testing.T) {
	for _, c := range []capture{
		{"postgres.pcap", Config{Postgres: []uint16{5433}}},
		{"mariadb.pcap", Config{MySQL: []uint16{3307}}},
	} {
		path := testenv.Corpus(t, "pcaps", c.rel)
		want, _ := decodeAll(t, path, c.cfg)
		got := decodeBytes(t, resegment(t, path), c.cfg)
		keep := func(evs []event.Event) []string {
			var out []string
			for _, ev := range evs {
				if ev.Fields.Str("event.action") != "flow" {
					ev.Fields = ev.Fields.Clone()
					ev.Fields.Delete("event.duration") // segments share their packet's time
					out = append(out, string(ev.AppendJSON(nil)))
				}
			}
			return out
		}
		if diff := cmp.Diff(keep(want), keep(got.events)); diff != "" {
			t.Errorf("%s cut to MTU 1500 (-whole +cut):\n%s", c.rel, diff)
		}
		if got.stats.Gaps != 0 || got.stats.DecodeErrors != 0 {
			t.Errorf("%s cut: %d gaps, %d decode errors", c.rel, got.stats.Gaps, got.stats.DecodeErrors)
		}
	}
}
