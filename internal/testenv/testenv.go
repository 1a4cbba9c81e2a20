// Package testenv finds what vigil's tests need from outside the repository:
// the shared corpus of real public data (VIGIL_CORPUS) and the real servers
// that integration tests start. Under CI (CI=true) a missing prerequisite is
// a failure, elsewhere a skip with a clear message. Safe for concurrent use.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run in CI, where nothing may be skipped
// for lack of data or servers.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it in CI, because what it needs is absent.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// Corpus returns the path of a file or folder in the shared corpus
// (VIGIL_CORPUS, default ../shared/corpus beside the repository).
func Corpus(t testing.TB, parts ...string) string {
	t.Helper()
	root := os.Getenv("VIGIL_CORPUS")
	if root == "" {
		_, file, _, _ := runtime.Caller(0)
		// internal/testenv/testenv.go -> repository root -> ../shared/corpus
		root = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
	}
	p := filepath.Join(append([]string{root}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "corpus file %s is absent (set VIGIL_CORPUS): %v", p, err)
	}
	return p
}
