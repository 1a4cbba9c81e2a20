package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/danang-soc/vigil/collectors/syslog"
	"github.com/danang-soc/vigil/internal/bus"
	"github.com/danang-soc/vigil/internal/formats"
	"github.com/danang-soc/vigil/internal/ingest"
	"gopkg.in/yaml.v3"
)

// Config is the whole server configuration. Every field has a default, so
// that `vigil serve` runs with no file at all; a file is decoded strictly
// (unknown keys are errors) and each part is handed only its own piece.
type Config struct {
	// Listen is the HTTP address of the console and API. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Data is the directory of the store, bus and identity. Default ./data.
	Data string `yaml:"data"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`

	Bus       bus.Config      `yaml:"bus"`
	Ingest    ingest.Config   `yaml:"ingest"`
	Store     StoreConfig     `yaml:"store"`
	Rules     RulesConfig     `yaml:"rules"`
	Correlate CorrelateConfig `yaml:"correlate"`
	Incidents IncidentsConfig `yaml:"incidents"`
	Syslog    syslog.Config   `yaml:"syslog"`
	Files     []FileInput     `yaml:"files"`
	Packet    PacketConfig    `yaml:"packet"`
	Console   ConsoleConfig   `yaml:"console"`
}

// StoreConfig configures the embedded store.
type StoreConfig struct {
	// Retention is how long events are kept. Default 365 days (Vietnamese
	// law asks 12 months for investigation logs).
	Retention time.Duration `yaml:"retention"`
	// MaxBytes is the disk budget of stored events; 0 means none.
	MaxBytes int64 `yaml:"max_bytes"`
	// PruneEvery is how often retention runs. Default 10 minutes.
	PruneEvery time.Duration `yaml:"prune_every"`
}

// RulesConfig names the detection rules.
type RulesConfig struct {
	// Bundled loads the rules shipped in the binary. Default true.
	Bundled *bool `yaml:"bundled"`
	// Dirs are further directories of Sigma rules, reloaded when they change.
	Dirs []string `yaml:"dirs"`
	// Placeholders resolve Sigma placeholders such as %SensitiveTables%.
	Placeholders map[string][]string `yaml:"placeholders"`
	// ReloadEvery is how often Dirs are checked for changes. Default 5s.
	ReloadEvery time.Duration `yaml:"reload_every"`
}

// CorrelateConfig bounds correlation.
type CorrelateConfig struct {
	Lateness        time.Duration `yaml:"lateness"`
	MaxKeysPerRule  int           `yaml:"max_keys_per_rule"`
	MaxEventsPerKey int           `yaml:"max_events_per_key"`
	// SnapshotEvery is how often correlation state is saved. Default 10s.
	SnapshotEvery time.Duration `yaml:"snapshot_every"`
}

// IncidentsConfig configures the grouping of alerts into incidents.
type IncidentsConfig struct {
	// Window is how long after its last alert an incident still takes new
	// alerts about the same entities. Default 1 hour.
	Window time.Duration `yaml:"window"`
}

// FileInput is one log file (or glob) the server tails: its format, the
// server it comes from and the protected system it belongs to.
type FileInput struct {
	formats.Source `yaml:",inline"`
	// FromEnd starts at the file's end the first time it is seen, instead
	// of reading what it already holds.
	FromEnd bool `yaml:"from_end"`
}

// PacketConfig configures live capture of database traffic; an empty
// interface leaves it off. Capturing needs root or CAP_NET_RAW.
type PacketConfig struct {
	// Interface to capture on ("eth0", "any", "lo").
	Interface string `yaml:"interface"`
	// Filter is a BPF filter; default TCP to or from the ports below.
	Filter string `yaml:"filter"`
	// PostgresPorts and MySQLPorts are the server ports of each protocol
	// (default 5432 and 3306).
	PostgresPorts []uint16 `yaml:"postgres_ports"`
	MySQLPorts    []uint16 `yaml:"mysql_ports"`
	// Detect also decodes connections to other ports that open like a
	// PostgreSQL or MySQL session.
	Detect bool `yaml:"detect"`
	// Promiscuous captures traffic not addressed to this host (SPAN port).
	Promiscuous bool `yaml:"promiscuous"`
}

// ConsoleConfig configures the web console.
type ConsoleConfig struct {
	// Origin is the console's public origin, checked on websocket upgrades
	// opened with a session cookie. Default empty: the origin must match
	// the request's Host, which works whichever name the console is opened
	// by (127.0.0.1 or localhost).
	Origin string `yaml:"origin"`
	// SecureCookies marks session cookies Secure. Default: true unless the
	// listen address is loopback (plain HTTP on 127.0.0.1).
	SecureCookies *bool `yaml:"secure_cookies"`
}

// LoadConfig reads a YAML configuration file strictly: unknown keys and
// wrong types are errors naming the line.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("reading config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if c.Data == "" {
		c.Data = "data"
	}
	switch c.LogLevel {
	case "":
		c.LogLevel = "info"
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Bus.Dir == "" {
		c.Bus.Dir = c.Data + "/bus"
	}
	if err := c.Bus.Validate(); err != nil {
		return err
	}
	if err := c.Ingest.Validate(); err != nil {
		return err
	}
	if c.Store.Retention == 0 {
		c.Store.Retention = 365 * 24 * time.Hour
	}
	if c.Store.PruneEvery == 0 {
		c.Store.PruneEvery = 10 * time.Minute
	}
	if c.Store.Retention < time.Hour || c.Store.MaxBytes < 0 {
		return fmt.Errorf("store: retention %s must be at least 1h and max_bytes %d not negative", c.Store.Retention, c.Store.MaxBytes)
	}
	if c.Rules.Bundled == nil {
		t := true
		c.Rules.Bundled = &t
	}
	if c.Rules.ReloadEvery == 0 {
		c.Rules.ReloadEvery = 5 * time.Second
	}
	if c.Correlate.SnapshotEvery == 0 {
		c.Correlate.SnapshotEvery = 10 * time.Second
	}
	if c.Incidents.Window == 0 {
		c.Incidents.Window = time.Hour
	}
	for i, f := range c.Files {
		if f.Path == "" {
			return fmt.Errorf("files[%d]: path is required", i)
		}
		if err := f.Source.Validate(); err != nil {
			return fmt.Errorf("files[%d] (%s): %w", i, f.Path, err)
		}
	}
	if c.Console.SecureCookies == nil {
		ip := net.ParseIP(host)
		secure := !(host == "localhost" || (ip != nil && ip.IsLoopback()))
		c.Console.SecureCookies = &secure
	}
	return nil
}
