// Package correlate owns vigil's second stage of detection: Sigma
// correlation rules evaluated on the stream of base-rule matches (Engine),
// and the grouping of alerts into incidents an analyst can work (Grouper,
// Transition, Apply).
//
// # Windows
//
// The Engine keeps, per correlation rule and per group-by key, the few
// event stamps its window needs (time, event id, one 64-bit value). Windows
// slide on event time: events belong together when the newest is at most
// Timespan after the oldest (both ends included). A rule whose condition
// only has lower bounds (gt, gte) on a count, distinct count, sum or on the
// rules seen (temporal, temporal_ordered) is judged when each event
// arrives, and fires as soon as the threshold is reached; the events of
// that alert are consumed, so the next alert needs fresh events. A rule
// that can only be judged once no more events can join (lt, lte, eq, neq
// in its condition, value_avg, value_percentile) is judged when the
// watermark passes the end of the window that starts at the key's oldest
// event; that window is then consumed and the next starts at the next
// event. Advance moves the watermark when the stream is idle, Flush closes
// everything at the end of a finite input.
//
// Events may arrive out of order by up to Config.Lateness behind the newest
// event seen; older ones are not evaluated and are reported (ErrLate,
// Stats.Late). An event lacking a group-by or condition field is ignored by
// that rule, as a grouped search ignores it, and counted
// (RuleStats.Missing). Observing the same event twice counts it once.
//
// value_percentile with Condition.Percentile set compares that percentile
// of the field's numeric values; without it, it has the meaning of the
// specification's example: events whose field value makes up a share of
// the group's events (in percent) that satisfies the condition.
//
// A correlation referenced by another (a chain) feeds its alerts to it,
// with its group-by values as the fields; generate decides whose alerts
// are emitted (Engine.Generates).
//
// Memory is bounded per rule (Config.MaxKeysPerRule,
// Config.MaxEventsPerKey) and for chains (Config.MaxChainedAlerts), with
// the eviction policies written on Config and counted in Stats; about 150
// bytes per live event_count key. State
// survives restarts through Snapshot and Restore.
//
// The package imports only the event kernel and the standard library: the
// server converts parsed Sigma correlation rules into Rule values.
//
// # Concurrency
//
// Engine and Grouper are safe for concurrent use; each serialises its
// calls with one mutex, so a pipeline feeds each from one goroutine in
// stream order while others read Stats, take a Snapshot or set
// suppressions. The emit callbacks run with the Engine's lock held and must
// not call back into the same Engine.
package correlate
