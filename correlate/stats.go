package correlate

import "time"

// Stats are the Engine's counters, for metrics.
type Stats struct {
	// Observed counts the base-rule matches that some correlation uses.
	Observed uint64
	// Late counts matches not evaluated because they were older than the
	// watermark (Config.Lateness behind the newest event).
	Late uint64
	// Alerts counts correlation alerts raised, chained ones included.
	Alerts uint64
	// Watermark is the event time before which events are late.
	Watermark time.Time
	// Chained is the number of correlation alerts kept for chains;
	// ChainedDropped counts those dropped to respect MaxChainedAlerts.
	Chained        int
	ChainedDropped uint64
	Rules          []RuleStats
}

// RuleStats are one rule's counters.
type RuleStats struct {
	Rule string // ID, or Name
	// Keys is the number of live group-by keys.
	Keys int
	// Alerts raised by the rule.
	Alerts uint64
	// Evicted counts keys removed to respect MaxKeysPerRule.
	Evicted uint64
	// Expired counts keys removed because their window had passed.
	Expired uint64
	// Truncated counts events dropped to respect MaxEventsPerKey.
	Truncated uint64
	// Missing counts matches ignored because a group-by or condition field
	// was absent (or, for value_sum, value_avg and numeric percentiles,
	// not a number), as a grouped search ignores them.
	Missing uint64
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Observed: e.observed, Late: e.late, Alerts: e.alerts, Chained: e.chained.len(), ChainedDropped: e.chained.dropped}
	if e.started {
		s.Watermark = time.Unix(0, e.watermark).UTC()
	}
	for _, r := range e.rules {
		s.Rules = append(s.Rules, RuleStats{
			Rule: r.ref, Keys: r.keys.len(), Alerts: r.alerts, Evicted: r.evicted,
			Expired: r.expired, Truncated: r.truncated, Missing: r.missing,
		})
	}
	return s
}
