package syslog

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Config is the syslog server's configuration. Zero values take the
// documented defaults.
type Config struct {
	// UDP and TCP are the listen addresses ("0.0.0.0:514", "127.0.0.1:0");
	// an empty address turns that transport off. At least one is needed.
	UDP string `json:"udp" yaml:"udp"`
	TCP string `json:"tcp" yaml:"tcp"`
	// MaxMessage is the largest message in bytes (default 65536, at least
	// 480 as RFC 5426 asks); longer messages are cut to it and counted.
	MaxMessage int `json:"max_message" yaml:"max_message"`
	// MaxConnections bounds concurrent TCP connections (default 1024);
	// connections beyond it are closed at once.
	MaxConnections int `json:"max_connections" yaml:"max_connections"`
	// QueueSize is how many parsed events wait for the sink (default 16384).
	// When it is full, TCP connections stop being read and UDP datagrams are
	// dropped and counted.
	QueueSize int `json:"queue_size" yaml:"queue_size"`
	// BatchSize (default 1024) and BatchWait (default 200ms) bound a batch:
	// it is written when it is full or when its first event has waited
	// BatchWait.
	BatchSize int           `json:"batch_size" yaml:"batch_size"`
	BatchWait time.Duration `json:"batch_wait" yaml:"batch_wait"`
	// DrainTimeout is how long, after Run's context ends, queued events may
	// take to reach the sink (default 5s); what is left then is counted as
	// dropped.
	DrainTimeout time.Duration `json:"drain_timeout" yaml:"drain_timeout"`
	// Timezone is the IANA name of the zone of RFC 3164 timestamps, which
	// carry none (default "Local", the machine's zone).
	Timezone string `json:"timezone" yaml:"timezone"`
	// Source is the log source of the events (default linux/syslog).
	Source event.LogSource `json:"source" yaml:"source"`
}

// Defaults of Config.
const (
	DefaultMaxMessage     = 64 << 10
	DefaultMaxConnections = 1024
	DefaultQueueSize      = 16384
	DefaultBatchSize      = 1024
	DefaultBatchWait      = 200 * time.Millisecond
	DefaultDrainTimeout   = 5 * time.Second
	minMaxMessage         = 480
	maxMaxMessage         = 16 << 20
)

// Validate reports the first problem of the configuration.
func (c Config) Validate() error {
	if c.UDP == "" && c.TCP == "" {
		return errors.New("syslog: neither a udp nor a tcp listen address")
	}
	for _, a := range []struct{ name, addr string }{{"udp", c.UDP}, {"tcp", c.TCP}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("syslog: %s address %q: %w", a.name, a.addr, err)
		}
	}
	if c.MaxMessage != 0 && (c.MaxMessage < minMaxMessage || c.MaxMessage > maxMaxMessage) {
		return fmt.Errorf("syslog: max_message %d outside %d..%d", c.MaxMessage, minMaxMessage, maxMaxMessage)
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"max_connections", int64(c.MaxConnections)}, {"queue_size", int64(c.QueueSize)},
		{"batch_size", int64(c.BatchSize)}, {"batch_wait", int64(c.BatchWait)}, {"drain_timeout", int64(c.DrainTimeout)},
	} {
		if n.v < 0 {
			return fmt.Errorf("syslog: %s is negative", n.name)
		}
	}
	if _, err := c.location(); err != nil {
		return err
	}
	return nil
}

func (c Config) location() (*time.Location, error) {
	if c.Timezone == "" || c.Timezone == "Local" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("syslog: timezone %q: %w", c.Timezone, err)
	}
	return loc, nil
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxMessage, DefaultMaxMessage)
	def(&c.MaxConnections, DefaultMaxConnections)
	def(&c.QueueSize, DefaultQueueSize)
	def(&c.BatchSize, DefaultBatchSize)
	if c.BatchWait == 0 {
		c.BatchWait = DefaultBatchWait
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	return c
}
