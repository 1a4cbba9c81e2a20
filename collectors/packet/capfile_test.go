package packet

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
)

// TestPcapng writes corpus captures as pcapng (with pcapgo's writer, at
// nanosecond resolution) and checks that they decode to the same events as
// the pcap files, from a file and from a stream.
func TestPcapng(t *testing.T) {
	for _, c := range []capture{
		{"postgres.pcap", Config{Postgres: []uint16{5433}}},
		{"mariadb.pcap", Config{MySQL: []uint16{3307}}},
	} {
		t.Run(c.rel, func(t *testing.T) {
			path := testenv.Corpus(t, "pcaps", c.rel)
			want, _ := decodeAll(t, path, c.cfg)
			link, ps := readPackets(t, path)
			var buf bytes.Buffer
			w, err := pcapgo.NewNgWriter(&buf, link)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: len(p.data)}
				if err := w.WritePacket(ci, p.data); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			ng := filepath.Join(t.TempDir(), "capture.pcapng")
			if err := os.WriteFile(ng, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			fromFile, _ := decodeAll(t, ng, c.cfg)
			if diff := cmp.Diff(render(want, Stats{}), render(fromFile, Stats{})); diff != "" {
				t.Errorf("pcapng file (-pcap +pcapng):\n%s", diff)
			}
			var fromStream []event.Event
			if _, err := DecodeReader(context.Background(), bytes.NewReader(buf.Bytes()), c.cfg, func(ev event.Event) { fromStream = append(fromStream, ev) }); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(render(want, Stats{}), render(fromStream, Stats{})); diff != "" {
				t.Errorf("pcapng stream (-pcap +pcapng):\n%s", diff)
			}
		})
	}
}

func TestNotACapture(t *testing.T) {
	for _, in := range []string{"", "abc", "hello world, this is not a capture file"} {
		_, err := DecodeReader(context.Background(), bytes.NewReader([]byte(in)), Config{}, func(event.Event) {})
		if err == nil {
			t.Errorf("DecodeReader(%q) = nil error, want ErrNotCapture", in)
		}
	}
}
