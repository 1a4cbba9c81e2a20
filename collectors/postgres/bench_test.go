package postgres

import (
	"testing"

	"github.com/danang-soc/vigil/collectors/internal/decodertest"
	"github.com/danang-soc/vigil/internal/testenv"
)

func BenchmarkJSONLog(b *testing.B) {
	decodertest.Bench(b, testenv.Corpus(b, "dblogs", "postgres-jsonlog.log"), func() lineDecoder { return NewJSONLog(Options{Host: "db1"}) })
}

func BenchmarkCSVLog(b *testing.B) {
	decodertest.Bench(b, testenv.Corpus(b, "dblogs", "postgres-csvlog.csv"), func() lineDecoder { return NewCSVLog(Options{Host: "db1"}) })
}

func BenchmarkStderr(b *testing.B) {
	decodertest.Bench(b, testenv.Corpus(b, "dblogs", "postgres-stderr.log"), func() lineDecoder { return NewStderr(Options{Host: "db1"}) })
}
