package mysql

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

// seed adds the lines of a corpus file, and the whole file as one input so
// that multi-line records are seeded too.
func seed(f *testing.F, name string) {
	root := os.Getenv("VIGIL_CORPUS")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	b, err := os.ReadFile(filepath.Join(root, "dblogs", name))
	if err != nil {
		return
	}
	f.Add(string(b))
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f.Add(sc.Text())
	}
}

func fuzzDecoder(t *testing.T, d lineDecoder, s string) {
	emit := func(e event.Event) {
		if e.Source.Product != "mysql" {
			t.Fatalf("event without log source: %+v", e)
		}
		seen := map[string]bool{}
		for _, fl := range e.Fields {
			if seen[fl.Key] {
				t.Fatalf("field %s twice: %+v", fl.Key, e.Fields)
			}
			seen[fl.Key] = true
		}
	}
	for _, l := range bytes.Split([]byte(s), []byte{'\n'}) {
		_ = d.Line(l, emit)
	}
	d.Flush(emit)
	if d.Pending() {
		t.Fatal("Pending() after Flush")
	}
}

func FuzzServerAudit(f *testing.F) {
	seed(f, "mariadb-server_audit.log")
	f.Fuzz(func(t *testing.T, s string) { fuzzDecoder(t, NewServerAudit(Options{}), s) })
}

func FuzzGeneral(f *testing.F) {
	seed(f, "mariadb-general.log")
	f.Fuzz(func(t *testing.T, s string) { fuzzDecoder(t, NewGeneral(Options{}), s) })
}

func FuzzSlow(f *testing.F) {
	seed(f, "mariadb-slow.log")
	f.Fuzz(func(t *testing.T, s string) { fuzzDecoder(t, NewSlow(Options{}), s) })
}

func FuzzErrorLog(f *testing.F) {
	seed(f, "mariadb-error.log")
	f.Fuzz(func(t *testing.T, s string) { fuzzDecoder(t, NewErrorLog(Options{}), s) })
}

func benchDecoder(b *testing.B, file string, mk func() lineDecoder) {
	data, err := os.ReadFile(testenv.Corpus(b, "dblogs", file))
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte{'\n'})
	emit := func(event.Event) {}
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

func BenchmarkServerAudit(b *testing.B) {
	benchDecoder(b, "mariadb-server_audit.log", func() lineDecoder { return NewServerAudit(Options{Host: "db1"}) })
}

func BenchmarkGeneral(b *testing.B) {
	benchDecoder(b, "mariadb-general.log", func() lineDecoder { return NewGeneral(Options{Host: "db1"}) })
}

func BenchmarkSlow(b *testing.B) {
	benchDecoder(b, "mariadb-slow.log", func() lineDecoder { return NewSlow(Options{Host: "db1"}) })
}

func BenchmarkErrorLog(b *testing.B) {
	benchDecoder(b, "mariadb-error.log", func() lineDecoder { return NewErrorLog(Options{Host: "db1"}) })
}

// cpuTime returns the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
