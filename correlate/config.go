package correlate

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds the Engine. The zero value of a field means its default.
type Config struct {
	// Lateness is how far behind the newest event time seen an event may
	// be and still be evaluated (default 5m). The watermark is the newest
	// event time minus Lateness; an event older than the watermark is
	// not evaluated and is reported (ErrLate, Stats.Late).
	Lateness time.Duration `json:"lateness"`
	// MaxKeysPerRule bounds the live group-by keys of each rule (default
	// 100,000: about 15 MB per event_count rule). When a new key would
	// exceed it, the Engine evicts one key: an expired one if it meets
	// one, otherwise the key whose newest event is oldest among a sample
	// of 16 keys (approximate least-recently-seen, as Redis does). Each
	// eviction is counted in RuleStats.Evicted.
	MaxKeysPerRule int `json:"max_keys_per_rule"`
	// MaxEventsPerKey bounds the events kept per key (default 256). The
	// oldest are dropped first and counted in RuleStats.Truncated.
	// event_count and value_count judged on arrival keep at most twice
	// their threshold (at least 8) whatever this says, which leaves room
	// for out-of-order events; value_count keeps one event per value and
	// temporal keeps the newest event of each referenced rule.
	MaxEventsPerKey int `json:"max_events_per_key"`
	// MaxChainedAlerts bounds the alerts of referenced correlations kept
	// for the correlations that chain them (default 100,000), beyond
	// what ages out with the longest timespan; the oldest go first.
	MaxChainedAlerts int `json:"max_chained_alerts"`
}

// Defaults.
const (
	DefaultLateness         = 5 * time.Minute
	DefaultMaxKeysPerRule   = 100_000
	DefaultMaxEventsPerKey  = 256
	DefaultMaxChainedAlerts = 100_000
)

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Lateness == 0 {
		c.Lateness = DefaultLateness
	}
	if c.MaxKeysPerRule == 0 {
		c.MaxKeysPerRule = DefaultMaxKeysPerRule
	}
	if c.MaxEventsPerKey == 0 {
		c.MaxEventsPerKey = DefaultMaxEventsPerKey
	}
	if c.MaxChainedAlerts == 0 {
		c.MaxChainedAlerts = DefaultMaxChainedAlerts
	}
	return c
}

// Validate reports values that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Lateness < 0 {
		errs = append(errs, fmt.Errorf("lateness must not be negative, got %v", c.Lateness))
	}
	if c.MaxKeysPerRule < 0 {
		errs = append(errs, fmt.Errorf("max_keys_per_rule must not be negative, got %d", c.MaxKeysPerRule))
	}
	if c.MaxChainedAlerts < 0 {
		errs = append(errs, fmt.Errorf("max_chained_alerts must not be negative, got %d", c.MaxChainedAlerts))
	}
	if c.MaxEventsPerKey < 0 || c.MaxEventsPerKey > 1<<16 {
		errs = append(errs, fmt.Errorf("max_events_per_key must be in [0, 65536], got %d", c.MaxEventsPerKey))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("correlate config: %w", err)
	}
	return nil
}
