package packet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
	"testing/iotest"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// decodeBoth decodes a capture from memory and as a stream read through r,
// and reports where the two differ.
func decodeBoth(t *testing.T, name string, b []byte, r io.Reader, cfg Config) {
	t.Helper()
	var mem, stream []event.Event
	memSt, err := DecodeBytes(context.Background(), b, cfg, func(ev event.Event) { mem = append(mem, ev) })
	if err != nil {
		t.Fatalf("%s: DecodeBytes: %v", name, err)
	}
	streamSt, err := DecodeReader(context.Background(), r, cfg, func(ev event.Event) { stream = append(stream, ev) })
	if err != nil {
		t.Fatalf("%s: DecodeReader: %v", name, err)
	}
	if diff := cmp.Diff(string(render(mem, memSt)), string(render(stream, streamSt))); diff != "" {
		t.Errorf("%s (-memory +stream):\n%s", name, diff)
	}
}

// TestChunkReader checks that a capture read as a stream, in chunks that
// records cross, decodes as it does from memory, whatever sizes the reads
// return: every corpus capture, captures cut short, records larger than the
// buffer.
func TestChunkReader(t *testing.T) {
	for _, c := range corpusCaptures(t) {
		b, err := os.ReadFile(testenv.Corpus(t, "pcaps", c.rel))
		if err != nil {
			t.Fatal(err)
		}
		decodeBoth(t, c.rel+" in single bytes", b, iotest.OneByteReader(bytes.NewReader(b)), c.cfg)
		decodeBoth(t, c.rel+" in halves", b, iotest.HalfReader(bytes.NewReader(b)), c.cfg)
		decodeBoth(t, c.rel+" with EOF on the last bytes", b, iotest.DataErrReader(bytes.NewReader(b)), c.cfg)
		if len(b) > chunkSize+100 {
			for _, n := range []int{chunkSize - 7, chunkSize, chunkSize + 21, len(b) - 5} {
				decodeBoth(t, c.rel+" cut short", b[:n], bytes.NewReader(b[:n]), c.cfg)
			}
		}
	}

	// Records longer than the buffer, and smaller ones around them.
	sizes := []int{60, chunkSize + 1000, 70, 2*chunkSize + 3, 80}
	pcap := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	pcap = append(pcap, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 0) // version, snaplen 1 MiB, Ethernet
	for i, n := range sizes {
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(i))
		pcap = binary.LittleEndian.AppendUint32(pcap, 0)
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(n))
		pcap = binary.LittleEndian.AppendUint32(pcap, uint32(n))
		pcap = append(pcap, make([]byte, n)...)
	}
	decodeBoth(t, "pcap with large records", pcap, iotest.HalfReader(bytes.NewReader(pcap)), Config{})
	st, err := DecodeReader(context.Background(), bytes.NewReader(pcap), Config{}, func(event.Event) {})
	if err != nil || st.Packets != uint64(len(sizes)) || st.CaptureErrors != 0 {
		t.Errorf("pcap with large records: %d packets, %d capture errors, %v; want %d, 0, nil", st.Packets, st.CaptureErrors, err, len(sizes))
	}

	// pcapng: a block of an unknown type, longer than the buffer, is skipped.
	block := func(typ uint32, body []byte) []byte {
		n := uint32(12 + len(body))
		b := binary.LittleEndian.AppendUint32(nil, typ)
		b = binary.LittleEndian.AppendUint32(b, n)
		b = append(b, body...)
		return binary.LittleEndian.AppendUint32(b, n)
	}
	ng := block(0x0a0d0d0a, []byte{0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	ng = append(ng, block(1, []byte{1, 0, 0, 0, 0, 0, 0, 0})...)
	ng = append(ng, block(0xbad, make([]byte, chunkSize+4))...)
	epb := make([]byte, 20+64)
	binary.LittleEndian.PutUint32(epb[12:], 64)
	binary.LittleEndian.PutUint32(epb[16:], 64)
	ng = append(ng, block(6, epb)...)
	decodeBoth(t, "pcapng with a large unknown block", ng, bytes.NewReader(ng), Config{})
	st, err = DecodeReader(context.Background(), bytes.NewReader(ng), Config{}, func(event.Event) {})
	if err != nil || st.Packets != 1 || st.CaptureErrors != 0 {
		t.Errorf("pcapng with a large unknown block: %d packets, %d capture errors, %v; want 1, 0, nil", st.Packets, st.CaptureErrors, err)
	}
}

// TestChunkReaderError: a read that fails is an error of DecodeReader, after
// the events of what was read.
func TestChunkReaderError(t *testing.T) {
	b, err := os.ReadFile(testenv.Corpus(t, "pcaps", "postgres.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(b[:len(b)/2]), iotest.ErrReader(errDisk))
	var n int
	st, err := DecodeReader(context.Background(), r, Config{Postgres: []uint16{5433}}, func(event.Event) { n++ })
	if !errors.Is(err, errDisk) {
		t.Errorf("DecodeReader = %v, want %v", err, errDisk)
	}
	if n == 0 || st.Packets == 0 {
		t.Errorf("%d events of %d packets before the failure, want some", n, st.Packets)
	}
}
