package packet

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// BenchmarkDecode decodes the own corpus captures (from the page cache, as
// DecodeFile maps them), one after the other, and reports packets and megabytes per second; the tshark
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
	b.Run("vigil", func(b *testing.B) {
		b.SetBytes(size)
		var events int
		emit := func(event.Event) { events++ }
		packets = 0
		for b.Loop() {
			for _, f := range files {
				st, err := DecodeFile(context.Background(), testenv.Corpus(b, "pcaps", f.rel), f.cfg, emit)
				if err != nil {
					b.Fatal(err)
				}
				packets += st.Packets
			}
		}
		b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
		b.ReportMetric(float64(events)/float64(b.N), "events/op")
	})
	b.Run("tshark", func(b *testing.B) {
		tshark, err := exec.LookPath("tshark")
		if err != nil {
			b.Skip("tshark is not installed")
		}
		b.SetBytes(size)
		var n uint64
		for b.Loop() {
			for _, f := range files {
				args := []string{"-r", testenv.Corpus(b, "pcaps", f.rel), "-d", f.dissect, "-T", "fields", "-e", "frame.number"}
				for _, fl := range f.fields {
					args = append(args, "-e", fl)
				}
				out, err := exec.Command(tshark, args...).Output()
				if err != nil {
					b.Fatalf("tshark: %v", err)
				}
				n += uint64(bytes.Count(out, []byte("\n")))
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
	})
}
