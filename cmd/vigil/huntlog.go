package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/danang-soc/vigil/collectors/packet"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/formats"
)

// pcapFormat is the capture format of `vigil hunt --log pcap:FILE`: the
// packet collector's decoders instead of a log decoder.
const pcapFormat = "pcap"

// logSource reads a raw log (or a capture) with the named collector's own
// decoder, as the server would: spec is FORMAT:FILE.
func logSource(spec string) (huntSource, error) {
	format, path, ok := strings.Cut(spec, ":")
	if !ok || format == "" || path == "" {
		return huntSource{}, fmt.Errorf("--log %q: want FORMAT:FILE (vigil hunt --formats lists the formats)", spec)
	}
	s := huntSource{name: path}
	if fi, err := os.Stat(path); err == nil {
		s.size = fi.Size()
	}
	if format == pcapFormat {
		s.read = func(ctx context.Context, progress *atomic.Int64, emit func(*event.Event) error) error {
			var emitErr error
			_, err := packet.DecodeFile(ctx, path, packet.Config{Detect: true}, func(e event.Event) {
				if emitErr == nil {
					emitErr = emit(&e)
				}
			})
			progress.Add(s.size)
			if err != nil {
				return fmt.Errorf("decoding %s: %w", path, err)
			}
			return emitErr
		}
		return s, nil
	}
	f, ok := formats.Lookup(format)
	if !ok {
		return huntSource{}, fmt.Errorf("--log %q: unknown format %q (known: %s)", spec, format, strings.Join(formatNames(), ", "))
	}
	s.read = func(ctx context.Context, progress *atomic.Int64, emit func(*event.Event) error) error {
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		host, _ := os.Hostname()
		dec := f.New(formats.Options{Host: host})
		var emitErr error
		err = formats.Read(&countingReader{r: file, n: progress}, dec, func(e event.Event) {
			if emitErr == nil {
				emitErr = emit(&e)
			}
		})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return emitErr
	}
	return s, nil
}

func formatNames() []string {
	names := []string{pcapFormat}
	for _, f := range formats.All() {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// printFormats lists what --log accepts.
func printFormats(io stdio) {
	fmt.Fprintf(io.out, "%-18s %s\n", pcapFormat, "pcap or pcapng capture: PostgreSQL and MySQL/MariaDB sessions decoded from the wire")
	for _, f := range formats.All() {
		fmt.Fprintf(io.out, "%-18s %s\n", f.Name, f.Description)
	}
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
