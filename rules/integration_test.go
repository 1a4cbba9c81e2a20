package rules

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/formats"
	"github.com/danang-soc/vigil/internal/testenv"
)

// formatsOptions are the decoder options of the tests.
var formatsOptions = formats.Options{Host: "db1", AssetID: "shop-db"}

// decodeLog reads the complete lines of a log file written by a running
// server through the named format.
func decodeLog(t *testing.T, format, path string, opts formats.Options) []event.Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	}
	f, ok := formats.Lookup(format)
	if !ok {
		t.Fatalf("no format %s", format)
	}
	var evs []event.Event
	if err := formats.Read(bytes.NewReader(b), f.New(opts), func(e event.Event) { evs = append(evs, e) }); err != nil {
		t.Fatalf("decoding %s as %s: %v", path, format, err)
	}
	return evs
}

// detect runs events through the pack and returns what fired.
func detect(t *testing.T, evs []event.Event) *detector {
	t.Helper()
	d := newDetector(t, loadPack(t))
	for i := range evs {
		d.feed(t, &evs[i])
	}
	d.finish()
	return d
}

// stemsFired names the rule files whose rules raised something.
func stemsFired(t *testing.T, d *detector) map[string]bool {
	t.Helper()
	byID := map[string]string{}
	for stem, ids := range ruleFiles(t, d.rs) {
		for _, id := range ids {
			byID[id] = stem
		}
	}
	out := map[string]bool{}
	for _, h := range d.hits {
		out[byID[h.RuleID]] = true
	}
	return out
}

func wantFired(t *testing.T, what string, fired map[string]bool, want []string) {
	t.Helper()
	var missing []string
	for _, s := range want {
		if !fired[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		var got []string
		for s := range fired {
			got = append(got, s)
		}
		slices.Sort(got)
		t.Errorf("%s: rules that did not fire: %v\n(fired: %v)", what, missing, got)
	}
}

// noSevere fails on any alert of level high or critical.
func noSevere(t *testing.T, what string, d *detector, evs []event.Event) {
	t.Helper()
	for _, h := range d.hits {
		if h.Level >= event.LevelHigh {
			raw := ""
			if h.Event >= 0 && h.Event < len(evs) {
				raw = evs[h.Event].Raw
			}
			t.Errorf("%s: benign workload raised %v: %s", what, h, raw)
		}
	}
}

// waitFor waits until the file holds s (the logging collector writes
// asynchronously).
func waitFor(t *testing.T, path, s string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(s)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q", path, s)
}

func TestPostgresEndToEnd(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pg.Benign(t)
	if _, err := pg.Psql("postgres", pg.Password, "postgres", "SELECT 'benign-done'"); err != nil {
		t.Fatal(err)
	}
	opts := formats.Options{Host: "pg1", AssetID: "shop-db", LinePrefix: pg.LinePrefix}
	for _, format := range []string{"jsonlog", "csvlog", "stderr"} {
		waitFor(t, pg.LogFile(format), "benign-done")
		evs := decodeLog(t, "postgres-"+format, pg.LogFile(format), opts)
		if len(evs) < 1000 {
			t.Errorf("%s: only %d events from the benign workload", format, len(evs))
		}
		noSevere(t, "postgres "+format, detect(t, evs), evs)
	}

	pg.Attack(t)
	if _, err := pg.Psql("postgres", pg.Password, "postgres", "SELECT 'attack-done'"); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"jsonlog", "csvlog", "stderr"} {
		waitFor(t, pg.LogFile(format), "attack-done")
		evs := decodeLog(t, "postgres-"+format, pg.LogFile(format), opts)
		noLeaks(t, format, evs, "alicepw", "bobpw", pg.Password)
		wantFired(t, "postgres "+format, stemsFired(t, detect(t, evs)), testenv.PostgresAttackRules)
	}
}

func TestMariaDBEndToEnd(t *testing.T) {
	m := testenv.StartMariaDB(t)
	m.Benign(t)
	if _, err := m.Root("SELECT 'benign-done'"); err != nil {
		t.Fatal(err)
	}
	logs := map[string]string{"mariadb-audit": "audit", "mysql-general": "general", "mysql-slow": "slow", "mysql-error": "error"}
	opts := formats.Options{Host: "my1", AssetID: "shop-db"}
	waitFor(t, m.LogFile("general"), "benign-done")
	for format, kind := range logs {
		evs := decodeLog(t, format, m.LogFile(kind), opts)
		noSevere(t, format, detect(t, evs), evs)
	}

	m.Attack(t)
	if _, err := m.Root("SELECT 'attack-done'"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, m.LogFile("general"), "attack-done")
	fired := map[string]bool{}
	for format, kind := range logs {
		evs := decodeLog(t, format, m.LogFile(kind), opts)
		noLeaks(t, format, evs, "alicepw", "bobpw", "apppw", "newbobpw")
		got := stemsFired(t, detect(t, evs))
		for s := range got {
			fired[s] = true
		}
		if format == "mariadb-audit" {
			wantFired(t, format, got, testenv.MariaDBAuditRules)
		}
	}
	wantFired(t, "mariadb", fired, testenv.MariaDBAttackRules)
}

// noLeaks fails when an event carries one of the passwords in clear.
func noLeaks(t *testing.T, format string, evs []event.Event, passwords ...string) {
	t.Helper()
	for i := range evs {
		js := string(evs[i].AppendJSON(nil))
		for _, s := range passwords {
			if strings.Contains(js, s) {
				t.Errorf("%s: event %d leaks password %q: %s", format, i, s, js)
			}
		}
	}
}
