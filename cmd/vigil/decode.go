package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/collectors/packet"
	"github.com/danang-soc/vigil/event"
)

// cmdDecode is `vigil decode FILE.pcap [--json] [--flows] [--port-pg N,..]
// [--port-mysql N,..] [--detect=false]`: the database sessions of a
// capture, one line per login, statement and error, as an analyst would use
// tshark. Connections to other ports are decoded too when they open as
// PostgreSQL or MySQL (--detect, on by default).
func cmdDecode(ctx context.Context, args []string, io stdio) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(io.err)
	asJSON := fs.Bool("json", false, "print one JSON event per line")
	flows := fs.Bool("flows", false, "print the flow record of each connection too")
	pg := fs.String("port-pg", "", "PostgreSQL server ports, comma-separated (default 5432)")
	my := fs.String("port-mysql", "", "MySQL/MariaDB server ports, comma-separated (default 3306)")
	detect := fs.Bool("detect", true, "also decode connections to other ports that open as PostgreSQL or MySQL")
	fs.Usage = func() {
		fmt.Fprintln(io.err, "usage: vigil decode FILE.pcap [--json] [--flows] [--port-pg N,..] [--port-mysql N,..] [--detect=false]")
		fs.PrintDefaults()
	}
	// Flags may come after the file name.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return 2
	}
	cfg := packet.Config{Detect: *detect}
	var err error
	if cfg.Postgres, err = parsePorts(*pg); err != nil {
		fmt.Fprintf(io.err, "vigil decode: --port-pg: %v\n", err)
		return 2
	}
	if cfg.MySQL, err = parsePorts(*my); err != nil {
		fmt.Fprintf(io.err, "vigil decode: --port-mysql: %v\n", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(io.err, "vigil decode: %v\n", err)
		return 2
	}
	w := bufio.NewWriterSize(io.out, 64<<10)
	var line []byte
	now := time.Now()
	st, err := packet.DecodeFile(ctx, files[0], cfg, func(ev event.Event) {
		if !*flows && ev.Fields.Str("event.action") == "flow" {
			return
		}
		if *asJSON {
			ev.Stamp(now)
			line = ev.AppendJSON(line[:0])
		} else {
			line = appendDecodeLine(line[:0], &ev)
		}
		line = append(line, '\n')
		w.Write(line)
	})
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(io.err, "vigil decode: %v\n", err)
		return 1
	}
	if st.CaptureErrors > 0 || st.DecodeErrors > 0 || st.Malformed > 0 || st.Gaps > 0 {
		fmt.Fprintf(io.err, "vigil decode: %d packets; capture damaged: %d, malformed packets: %d, holes in streams: %d (%d bytes), undecodable messages: %d\n",
			st.Packets, st.CaptureErrors, st.Malformed, st.Gaps, st.LostBytes, st.DecodeErrors)
	}
	return 0
}

// appendDecodeLine writes an event as one line of text:
// time, product, client, action, outcome, message.
func appendDecodeLine(b []byte, ev *event.Event) []byte {
	b = ev.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = append(b, ev.Source.Product...)
	b = append(b, ' ')
	b = append(b, ev.Fields.Str("source.ip")...)
	b = append(b, ':')
	b = append(b, ev.Fields.Str("source.port")...)
	b = append(b, ' ')
	b = append(b, ev.Fields.Str("event.action")...)
	b = append(b, ' ')
	b = append(b, ev.Fields.Str("event.outcome")...)
	b = append(b, ' ')
	b = append(b, ev.Fields.Str(event.FieldMessage)...)
	return b
}

func parsePorts(s string) ([]uint16, error) {
	if s == "" {
		return nil, nil
	}
	var ports []uint16
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("bad port %q", p)
		}
		ports = append(ports, uint16(n))
	}
	return ports, nil
}
