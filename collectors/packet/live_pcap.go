//go:build cgo

package packet

import (
	"errors"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
)

// pcapSource captures with libpcap, which uses a memory-mapped AF_PACKET
// ring (TPACKET_V3) on Linux.
type pcapSource struct {
	h *pcap.Handle
}

func openLive(cfg Config, _ func() time.Time) (liveSource, error) {
	in, err := pcap.NewInactiveHandle(cfg.Interface)
	if err != nil {
		return nil, err
	}
	defer in.CleanUp()
	for _, set := range []func() error{
		func() error { return in.SetSnapLen(cfg.Snaplen) },
		func() error { return in.SetPromisc(cfg.Promiscuous) },
		func() error { return in.SetTimeout(readTimeout) },
		func() error { return in.SetBufferSize(cfg.BufferBytes) },
	} {
		if err := set(); err != nil {
			return nil, err
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, err
	}
	if err := h.SetBPFFilter(cfg.Filter); err != nil {
		h.Close()
		return nil, err
	}
	return &pcapSource{h: h}, nil
}

func (s *pcapSource) read() ([]byte, time.Time, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if err != nil {
		var ne pcap.NextError
		if errors.As(err, &ne) && ne == pcap.NextErrorTimeoutExpired {
			return nil, time.Time{}, errTimeout
		}
		return nil, time.Time{}, err
	}
	return data, ci.Timestamp, nil
}

func (s *pcapSource) linkType() layers.LinkType { return s.h.LinkType() }

func (s *pcapSource) kernelStats() (recv, drop, ifdrop uint64, err error) {
	st, err := s.h.Stats()
	if err != nil {
		return 0, 0, 0, err
	}
	return uint64(st.PacketsReceived), uint64(st.PacketsDropped), uint64(st.PacketsIfDropped), nil
}

func (s *pcapSource) close() { s.h.Close() }
