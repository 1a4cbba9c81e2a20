// Package sigmago measures vigil's Sigma engine beside
// github.com/bradleyjkemp/sigma-go v0.6.6 on the same rules (SigmaHQ's
// Windows process_creation set) and the same events (SigmaHQ's regression
// samples), and compares their coverage. It is a separate module so that
// the product's go.mod stays free of sigma-go.
//
// Concurrency: benchmarks and tests only; nothing here is shared.
package sigmago
