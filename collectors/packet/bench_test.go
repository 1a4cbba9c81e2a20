package packet

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// BenchmarkDecode decodes the own corpus captures one after the other, from
// the files (mapped from the page cache by DecodeFile) and from memory
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
			cpu0 := cpuTime()
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
			cpu := cpuTime() - cpu0
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

// cpuTime is the processor time this process has used, so that throughput
// can be given per processor second on a machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
