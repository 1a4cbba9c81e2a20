// Package archtest holds the tests that keep vigil's architecture honest:
// the direction of imports between pipeline stages (DESIGN.md, "Layout") and
// a doc comment on every package. It has no code of its own.
package archtest
