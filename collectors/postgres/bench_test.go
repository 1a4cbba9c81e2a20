package postgres

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// benchDecoder reports lines per second over a corpus file.
func benchDecoder(b *testing.B, file string, mk func() lineDecoder) {
	data, err := os.ReadFile(testenv.Corpus(b, "dblogs", file))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte{'\n'})
	n := 0
	emit := func(event.Event) { n++ }
	b.SetBytes(int64(len(data)))
	cpu0 := cpuTime()
	for b.Loop() {
		d := mk()
		for _, l := range lines {
			if err := d.Line(l, emit); err != nil {
				b.Fatal(err)
			}
		}
		d.Flush(emit)
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	// The machine is shared: lines per second of the process' own CPU time
	// is the figure that does not depend on the neighbours.
	b.ReportMetric(float64(len(lines))*float64(b.N)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
}

func BenchmarkJSONLog(b *testing.B) {
	benchDecoder(b, "postgres-jsonlog.log", func() lineDecoder { return NewJSONLog(Options{Host: "db1"}) })
}

func BenchmarkCSVLog(b *testing.B) {
	benchDecoder(b, "postgres-csvlog.csv", func() lineDecoder { return NewCSVLog(Options{Host: "db1"}) })
}

func BenchmarkStderr(b *testing.B) {
	benchDecoder(b, "postgres-stderr.log", func() lineDecoder { return NewStderr(Options{Host: "db1"}) })
}

// cpuTime returns the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
