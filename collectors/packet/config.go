package packet

import (
	"errors"
	"fmt"
	"time"
)

// Config says which TCP ports carry which database protocol and bounds the
// memory that reassembly may hold. The zero value of a field means its
// default.
type Config struct {
	// Postgres are the server ports decoded as PostgreSQL (default 5432).
	Postgres []uint16 `json:"postgres,omitempty"`
	// MySQL are the server ports decoded as MySQL/MariaDB (default 3306).
	MySQL []uint16 `json:"mysql,omitempty"`

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
	}
	return nil
}
