package sigma

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rar.yml", ruleRar)
	synctest.Test(t, func(t *testing.T) {
		type load struct {
			n, errs int
		}
		loads := make(chan load, 10)
		w := &Watcher{Paths: []string{dir}, Interval: time.Second, OnLoad: func(rs *Ruleset, errs []RuleError) {
			loads <- load{rs.Len(), len(errs)}
		}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		synctest.Wait()
		if got := <-loads; got != (load{1, 0}) {
			t.Errorf("first load %+v, want 1 rule", got)
		}
		// Nothing changes: no reload.
		time.Sleep(3 * time.Second)
		synctest.Wait()
		select {
		case l := <-loads:
			t.Errorf("reload %+v without a change", l)
		default:
		}
		// A new rule and a broken one.
		write("two.yml", strings.Replace(strings.Replace(ruleRar, "6f3e2987-db24-4c78-a860-b4f4095a7095", "other-id", 1), "name: rar_use\n", "", 1))
		write("bad.yml", "title: x\n")
		time.Sleep(time.Second)
		synctest.Wait()
		if got := <-loads; got != (load{2, 1}) {
			t.Errorf("reload %+v, want 2 rules and 1 error", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
}
