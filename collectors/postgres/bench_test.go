package postgres

import (
	"testing"

	"github.com/danang-soc/vigil/collectors/internal/decodertest"
)

func BenchmarkJSONLog(b *testing.B) {
	decodertest.Bench(b, "postgres-jsonlog.log", func() lineDecoder { return NewJSONLog(Options{Host: "db1"}) })
}

func BenchmarkCSVLog(b *testing.B) {
	decodertest.Bench(b, "postgres-csvlog.csv", func() lineDecoder { return NewCSVLog(Options{Host: "db1"}) })
}

func BenchmarkStderr(b *testing.B) {
	decodertest.Bench(b, "postgres-stderr.log", func() lineDecoder { return NewStderr(Options{Host: "db1"}) })
}
