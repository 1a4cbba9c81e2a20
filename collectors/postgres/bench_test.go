package postgres

import (
	"bytes"
	"os"
	"testing"

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
	b.ResetTimer()
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
