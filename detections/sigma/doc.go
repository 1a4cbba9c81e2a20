// Package sigma owns vigil's Sigma engine: it parses Sigma rules, filters and
// correlation rules exactly as the Sigma specification (v2.1) writes them,
// compiles each detection once into a matcher over pre-resolved event fields,
// and matches events against a whole Ruleset, routing each event by its log
// source and skipping, with an Aho-Corasick prefilter over the literals of
// every rule, the rules that cannot match it.
//
// Loading never stops at a bad rule: Load and LoadPaths return the rules
// that compiled together with one RuleError (file, line, reason) per rule
// that did not. A Watcher reloads rule directories when they change.
//
// Correlation rules are parsed and validated here (Correlation); evaluating
// them over time belongs to package correlate.
//
// Concurrency: a Ruleset is immutable once built; Match may be called from
// any number of goroutines at once. Per-call scratch space is pooled. The
// Watcher's Run is meant for one goroutine; its callback receives each new
// Ruleset, which the caller swaps in (an atomic pointer) while the old one
// keeps serving.
package sigma
