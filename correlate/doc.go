// Package correlate owns vigil's second stage of detection: Sigma
// correlation rules evaluated on the stream of base-rule matches (Engine),
// and the grouping of alerts into incidents an analyst can work (Grouper,
// Transition).
//
// The Engine keeps, per correlation rule and per group-by key, the few
// event stamps its window needs; windows slide on event time, tolerate late
// and out-of-order events within Config.Lateness, and report what arrives
// later than that (ErrLate, Stats.Late). Memory is bounded per rule
// (Config.MaxKeysPerRule, Config.MaxEventsPerKey) with the eviction policy
// written on Config and counted in Stats. State survives restarts through
// Snapshot and Restore.
//
// The package imports only the event kernel and the standard library: the
// server converts parsed Sigma correlation rules into Rule values.
//
// Concurrency: Engine and Grouper are safe for concurrent use; each
// serialises its calls with one mutex, so a pipeline feeds each from one
// goroutine in stream order while others read Stats, take a Snapshot or
// set suppressions. The emit callbacks are called with the lock held and
// must not call back into the same Engine.
package correlate
