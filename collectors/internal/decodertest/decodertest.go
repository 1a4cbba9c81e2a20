// Package decodertest is the test harness the log decoders share (the
// line decoders of collectors/postgres and collectors/mysql): fuzz seeds
// from the corpus, the properties every decoder keeps under fuzzing, and the
// lines-per-second benchmark. It is used by tests only.
//
// Concurrency: the functions keep no state.
package decodertest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Decoder is the line decoder contract of the log collectors.
type Decoder interface {
	Line(line []byte, emit func(event.Event)) error
	Flush(emit func(event.Event))
	Pending() bool
}

// Seed adds the lines of a corpus file of dblogs, and the whole file as
// one input so that multi-line records are seeded too. A missing corpus
// seeds nothing (fuzzing then starts from the test's own seeds).
func Seed(f *testing.F, name string) {
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

// Fuzz feeds s to d as lines and checks what every decoder keeps: no
// panic, every event carries the product's log source and no key twice,
// nothing pending after Flush.
func Fuzz(t *testing.T, d Decoder, product, s string) {
	emit := func(e event.Event) {
		if e.Source.Product != product {
			t.Fatalf("event without the %s log source: %+v", product, e)
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

// Bench reports lines per second of a decoder over a log file (the caller
// finds it, e.g. with testenv.Corpus), and lines per second of the process' own CPU time, the figure
// that does not depend on what else runs on a shared machine.
func Bench(b *testing.B, path string, mk func() Decoder) {
	data, err := os.ReadFile(path)
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
	b.ReportMetric(float64(len(lines))*float64(b.N)/(cpuTime()-cpu0).Seconds(), "lines/cpu-s")
}

// cpuTime returns the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
