package packet

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/danang-soc/vigil/event"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// ErrNotCapture is returned for input that is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// DecodeFile decodes the capture file at path (pcap or pcapng) and emits its
// events in packet order, the flow records of the connections still open at
// the end included. A capture cut short or corrupted part way yields the
// events of what came before, with Stats.CaptureErrors counting the damage;
// the error is for a file that cannot be read at all or a cancelled ctx.
func DecodeFile(ctx context.Context, path string, cfg Config, emit func(event.Event)) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("opening capture: %w", err)
	}
	defer f.Close()
	st, err := DecodeReader(ctx, f, cfg, emit)
	if err != nil {
		return st, fmt.Errorf("decoding %s: %w", path, err)
	}
	return st, nil
}

// packetReader is what both pcapgo readers offer.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// DecodeReader is DecodeFile on a stream.
func DecodeReader(ctx context.Context, r io.Reader, cfg Config, emit func(event.Event)) (Stats, error) {
	d, err := NewDecoder(cfg, emit)
	if err != nil {
		return Stats{}, err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return Stats{}, fmt.Errorf("%w: %v", ErrNotCapture, err)
	}
	var (
		pr      packetReader
		linkFor func(ci *gopacket.CaptureInfo) layers.LinkType
	)
	switch binary.LittleEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		rd, err := pcapgo.NewReader(br)
		if err != nil {
			return Stats{}, fmt.Errorf("%w: %v", ErrNotCapture, err)
		}
		link := rd.LinkType()
		linkFor = func(*gopacket.CaptureInfo) layers.LinkType { return link }
		pr = rd
	case 0x0a0d0d0a:
		rd, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return Stats{}, fmt.Errorf("%w: %v", ErrNotCapture, err)
		}
		linkFor = func(ci *gopacket.CaptureInfo) layers.LinkType {
			if i, err := rd.Interface(ci.InterfaceIndex); err == nil {
				return i.LinkType
			}
			return rd.LinkType()
		}
		pr = rd
	default:
		return Stats{}, ErrNotCapture
	}
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				d.Flush()
				return d.Stats(), err
			}
		}
		data, ci, err := pr.ZeroCopyReadPacketData()
		if err != nil {
			if err != io.EOF {
				d.stats.CaptureErrors++
			}
			break
		}
		d.Packet(linkFor(&ci), ci.Timestamp, data)
	}
	d.Flush()
	return d.Stats(), nil
}
