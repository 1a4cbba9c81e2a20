// Package rules is the detection content vigil ships, embedded in the
// binary: the Sigma rules (and Sigma correlation rules) under sigma/, among
// them vigil's database rule pack (log sources product postgresql, product
// mysql, category database). It holds content only; the engines that read
// it never import it.
//
// Concurrency: FS is read-only and safe for concurrent use.
package rules

import "embed"

// FS holds the rule files under "sigma/", and "placeholders.yml": the
// default values of the placeholders the rules use (name: [values]), for
// the server to use where its configuration sets none.
//
//go:embed sigma placeholders.yml
var FS embed.FS
