package packet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config says which TCP ports carry which database protocol and bounds the
// memory that reassembly may hold. The zero value of a field means its
// default.
//
// Memory: at most MaxBuffer bytes of out-of-order segments over all
// connections, plus, per connection being decoded, the message being
// assembled in each direction (up to MaxMessage; up to 1 MiB for a packet
// of the compressed MySQL protocol). Idle connections keep a few KiB.
type Config struct {
	// Postgres are the server ports decoded as PostgreSQL (default 5432).
	Postgres []uint16 `json:"postgres,omitempty"`
	// MySQL are the server ports decoded as MySQL/MariaDB (default 3306).
	MySQL []uint16 `json:"mysql,omitempty"`
	// Detect also decodes the connections to other ports that open with a
	// PostgreSQL startup packet or a MySQL server greeting; their server
	// port is then decoded as that protocol from then on.
	Detect bool `json:"detect,omitempty"`

	// MaxFlows bounds the connections tracked at once (default 16384). When
	// full, the least recently seen connection is closed early.
	MaxFlows int `json:"max_flows,omitempty"`
	// MaxFlowBuffer bounds the out-of-order bytes held per direction of a
	// connection (default 1 MiB); past it the hole is declared lost.
	MaxFlowBuffer int `json:"max_flow_buffer,omitempty"`
	// MaxBuffer bounds the out-of-order bytes held over all connections
	// (default 64 MiB).
	MaxBuffer int `json:"max_buffer,omitempty"`
	// MaxMessage bounds the bytes of one protocol message kept to decode it
	// (a statement text, default 64 KiB); longer statements are truncated.
	// Result rows are counted without being kept.
	MaxMessage int `json:"max_message,omitempty"`
	// IdleTimeout closes a connection that has seen no packet for this long,
	// in packet time (default 5 minutes).
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"`

	// Live capture only.

	// Interface is the network interface to capture on ("eth0", "any").
	Interface string `json:"interface,omitempty"`
	// Filter is the BPF filter of the capture; by default TCP to or from
	// the configured ports. Another filter needs libpcap (a cgo build).
	Filter string `json:"filter,omitempty"`
	// Snaplen is the bytes kept of each packet (default 262144).
	Snaplen int `json:"snaplen,omitempty"`
	// Promiscuous puts the interface in promiscuous mode, to see traffic
	// not addressed to this host (a SPAN port).
	Promiscuous bool `json:"promiscuous,omitempty"`
	// BufferBytes is the kernel's capture buffer (default 32 MiB); when
	// full, the kernel drops packets and counts them (Stats.KernelDropped).
	BufferBytes int `json:"buffer_bytes,omitempty"`
	// Batch is the most events written to the sink at once (default 512).
	Batch int `json:"batch,omitempty"`
	// FlushInterval is the longest an event waits before it is written
	// (default 1s).
	FlushInterval time.Duration `json:"flush_interval,omitempty"`
}

// Defaults of Config.
const (
	DefaultPostgresPort  = 5432
	DefaultMySQLPort     = 3306
	DefaultMaxFlows      = 16384
	DefaultMaxFlowBuffer = 1 << 20
	DefaultMaxBuffer     = 64 << 20
	DefaultMaxMessage    = 64 << 10
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultSnaplen       = 262144
	DefaultBufferBytes   = 32 << 20
	DefaultBatch         = 512
	DefaultFlushInterval = time.Second
)

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Postgres == nil {
		c.Postgres = []uint16{DefaultPostgresPort}
	}
	if c.MySQL == nil {
		c.MySQL = []uint16{DefaultMySQLPort}
	}
	if c.MaxFlows == 0 {
		c.MaxFlows = DefaultMaxFlows
	}
	if c.MaxFlowBuffer == 0 {
		c.MaxFlowBuffer = DefaultMaxFlowBuffer
	}
	if c.MaxBuffer == 0 {
		c.MaxBuffer = DefaultMaxBuffer
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Snaplen == 0 {
		c.Snaplen = DefaultSnaplen
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = DefaultBufferBytes
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Filter == "" {
		c.Filter = defaultFilter(c)
	}
	return c
}

// Validate reports the first problem with c: a port 0, a port given to two
// protocols, no port at all, or a negative bound.
func (c Config) Validate() error {
	c = c.withDefaults()
	seen := map[uint16]string{}
	for _, p := range []struct {
		name  string
		ports []uint16
	}{{"postgres", c.Postgres}, {"mysql", c.MySQL}} {
		for _, port := range p.ports {
			if port == 0 {
				return fmt.Errorf("%s: port 0 is not a port", p.name)
			}
			if other, ok := seen[port]; ok && other != p.name {
				return fmt.Errorf("port %d is given to both %s and %s", port, other, p.name)
			}
			seen[port] = p.name
		}
	}
	if len(seen) == 0 {
		return errors.New("no port to decode")
	}
	switch {
	case c.MaxFlows < 0:
		return errors.New("max_flows is negative")
	case c.MaxFlowBuffer < 0:
		return errors.New("max_flow_buffer is negative")
	case c.MaxBuffer < 0:
		return errors.New("max_buffer is negative")
	case c.MaxMessage < 0:
		return errors.New("max_message is negative")
	case c.IdleTimeout < 0:
		return errors.New("idle_timeout is negative")
	case c.Snaplen < 0 || c.Snaplen > maxSnaplen:
		return fmt.Errorf("snaplen %d is outside 0..%d", c.Snaplen, maxSnaplen)
	case c.BufferBytes < 0:
		return errors.New("buffer_bytes is negative")
	case c.Batch < 0:
		return errors.New("batch is negative")
	case c.FlushInterval < 0:
		return errors.New("flush_interval is negative")
	}
	return nil
}

// defaultFilter is the BPF filter for TCP to or from the configured ports.
func defaultFilter(c Config) string {
	var b strings.Builder
	b.WriteString("tcp and (")
	n := 0
	for _, ports := range [][]uint16{c.Postgres, c.MySQL} {
		for _, p := range ports {
			if n > 0 {
				b.WriteString(" or ")
			}
			b.WriteString("port " + strconv.Itoa(int(p)))
			n++
		}
	}
	b.WriteString(")")
	return b.String()
}
