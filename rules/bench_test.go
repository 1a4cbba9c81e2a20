package rules

import (
	"os"
	"testing"

	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/formats"
	"github.com/danang-soc/vigil/internal/testenv"
)

// BenchmarkPackMatch measures the pack's base rules over the decoded
// corpus logs (events per second through sigma.Ruleset.Match).
func BenchmarkPackMatch(b *testing.B) {
	rs, errs := sigma.Load(sigma.Config{Placeholders: placeholders}, FS, "sigma")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	var evs []event.Event
	for format, file := range map[string]string{
		"postgres-jsonlog": "postgres-jsonlog.log", "mariadb-audit": "mariadb-server_audit.log", "mysql-slow": "mariadb-slow.log",
	} {
		f, err := os.Open(testenv.Corpus(b, "dblogs", file))
		if err != nil {
			b.Fatal(err)
		}
		fm, _ := formats.Lookup(format)
		if err := formats.Read(f, fm.New(formats.Options{}), func(e event.Event) { evs = append(evs, e) }); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	hits := 0
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		for i := range evs {
			rs.Match(&evs[i], func(*sigma.Rule) { hits++ })
		}
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(evs))*float64(b.N)/(testenv.CPUTime()-cpu0).Seconds(), "events/cpu-s")
}
