package packet

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"
)

// afpacketSource captures with an AF_PACKET socket in pure Go, for builds
// without cgo and libpcap (the static binary). It takes only the built-in
// port filter, compiled here to classic BPF and run in the kernel, and
// stamps packets with the time they are read.
type afpacketSource struct {
	fd       int
	buf      []byte
	loopback bool
	now      func() time.Time
	recv     uint64 // the kernel's counters reset when read: kept here
	drop     uint64
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openAFPacket opens the capture socket of cfg.Interface.
func openAFPacket(cfg Config, now func() time.Time) (liveSource, error) {
	if cfg.Filter != defaultFilter(cfg) {
		return nil, fmt.Errorf("filter %q: without libpcap only the built-in port filter is available", cfg.Filter)
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, err
	}
	prog, err := portFilter(cfg)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	s := &afpacketSource{fd: fd, buf: make([]byte, cfg.Snaplen), loopback: ifi.Flags&net.FlagLoopback != 0, now: now}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"attaching the filter", func() error {
			return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]})
		}},
		{"binding", func() error {
			return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
		}},
		{"sizing the buffer", func() error {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.BufferBytes); err == nil {
				return nil
			}
			return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.BufferBytes)
		}},
		{"setting the read timeout", func() error {
			tv := unix.NsecToTimeval(int64(readTimeout))
			return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		}},
		{"setting promiscuous mode", func() error {
			if !cfg.Promiscuous {
				return nil
			}
			return unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC})
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return s, nil
}

func (s *afpacketSource) read() ([]byte, time.Time, error) {
	for {
		n, from, err := unix.Recvfrom(s.fd, s.buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK):
			return nil, time.Time{}, errTimeout
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, time.Time{}, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && s.loopback && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // on loopback every packet is seen leaving and arriving
		}
		return s.buf[:n], s.now(), nil
	}
}

func (s *afpacketSource) linkType() layers.LinkType { return layers.LinkTypeEthernet }

func (s *afpacketSource) kernelStats() (recv, drop, ifdrop uint64, err error) {
	st, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, 0, err
	}
	s.recv += uint64(st.Packets)
	s.drop += uint64(st.Drops)
	return s.recv, s.drop, 0, nil
}

func (s *afpacketSource) close() { unix.Close(s.fd) }
