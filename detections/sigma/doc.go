// Package sigma owns vigil's Sigma engine: it parses Sigma rules, filters and
// correlation rules exactly as the Sigma specification (v2.1) writes them,
// compiles each detection once into a matcher over pre-resolved event fields,
// and matches events against a whole Ruleset.
//
// Loading: Load (an fs.FS, such as the embedded rules) and LoadPaths (files
// or directories) compile every .yml/.yaml document; a bad rule is reported
// as a RuleError ("path:line: reason") and never stops the others. Config
// carries the values of %placeholders% (a rule whose placeholder has no
// value is rejected with ErrPlaceholder) and the log-source mapping
// (DefaultLogSources, logsources.yml in this package, when nil). A Watcher
// reloads rule directories when they change.
//
// Matching: Ruleset.Match calls a function for every rule that matches an
// event, filters applied, in rule order. An event that carries a log source
// (event.Event.Source) is matched against the rules whose log source names
// nothing that differs from it; an event without one is mapped by the
// LogSourceMapping (Windows channels and event ids as SigmaHQ's thor.yml,
// Linux, vigil's database sources), which may also rename fields (Image is
// NewProcessName in Security 4688); an event that fits no mapping is matched
// against every rule. Each rule is a candidate for an event only when one
// of its needles (literals chosen per rule so that one must occur if the
// rule matches) occurs in the event; needles are found per field by hash,
// tries, a scan of hashed 4-byte substrings or a Wu-Manber skip scan. Each
// value is lower-cased at most once per event; regular expressions compile
// once.
//
// Correlation rules are parsed and validated here (Correlation, with their
// references resolved); evaluating them over time belongs to package
// correlate.
//
// Concurrency: a Ruleset is immutable once built; Match may be called from
// any number of goroutines at once (per-call scratch space is pooled, and
// the routing table grows copy-on-write). A Watcher's Run is meant for one
// goroutine; its callback receives each new Ruleset, which the caller swaps
// in (an atomic pointer) while the old one keeps serving.
package sigma
