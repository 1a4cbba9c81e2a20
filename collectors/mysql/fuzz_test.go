package mysql

import (
	"testing"

	"github.com/danang-soc/vigil/collectors/internal/decodertest"
	"github.com/danang-soc/vigil/internal/testenv"
)

func FuzzServerAudit(f *testing.F) {
	decodertest.Seed(f, "mariadb-server_audit.log")
	f.Fuzz(func(t *testing.T, s string) { decodertest.Fuzz(t, NewServerAudit(Options{}), "mysql", s) })
}

func FuzzGeneral(f *testing.F) {
	decodertest.Seed(f, "mariadb-general.log")
	f.Fuzz(func(t *testing.T, s string) { decodertest.Fuzz(t, NewGeneral(Options{}), "mysql", s) })
}

func FuzzSlow(f *testing.F) {
	decodertest.Seed(f, "mariadb-slow.log")
	f.Fuzz(func(t *testing.T, s string) { decodertest.Fuzz(t, NewSlow(Options{}), "mysql", s) })
}

func FuzzErrorLog(f *testing.F) {
	decodertest.Seed(f, "mariadb-error.log")
	f.Fuzz(func(t *testing.T, s string) { decodertest.Fuzz(t, NewErrorLog(Options{}), "mysql", s) })
}

func BenchmarkServerAudit(b *testing.B) {
	decodertest.Bench(b, testenv.Corpus(b, "dblogs", "mariadb-server_audit.log"), func() lineDecoder { return NewServerAudit(Options{Host: "db1"}) })
}

func BenchmarkGeneral(b *testing.B) {
	decodertest.Bench(b, testenv.Corpus(b, "dblogs", "mariadb-general.log"), func() lineDecoder { return NewGeneral(Options{Host: "db1"}) })
}

func BenchmarkSlow(b *testing.B) {
	decodertest.Bench(b, testenv.Corpus(b, "dblogs", "mariadb-slow.log"), func() lineDecoder { return NewSlow(Options{Host: "db1"}) })
}

func BenchmarkErrorLog(b *testing.B) {
	decodertest.Bench(b, testenv.Corpus(b, "dblogs", "mariadb-error.log"), func() lineDecoder { return NewErrorLog(Options{Host: "db1"}) })
}
