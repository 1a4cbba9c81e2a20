package formats

import (
	"os"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

func TestTable(t *testing.T) {
	files := map[string]string{
		"postgres-jsonlog": "postgres-jsonlog.log",
		"postgres-csvlog":  "postgres-csvlog.csv",
		"postgres-stderr":  "postgres-stderr.log",
		"mariadb-audit":    "mariadb-server_audit.log",
		"mysql-general":    "mariadb-general.log",
		"mysql-slow":       "mariadb-slow.log",
		"mysql-error":      "mariadb-error.log",
	}
	all := All()
	if len(all) != len(files) {
		t.Errorf("All() has %d formats, want %d", len(all), len(files))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Name >= all[i].Name {
			t.Errorf("All() not sorted: %s before %s", all[i-1].Name, all[i].Name)
		}
	}
	for name, file := range files {
		t.Run(name, func(t *testing.T) {
			f, ok := Lookup(name)
			if !ok || f.Description == "" {
				t.Fatalf("Lookup(%q) = %+v, %v", name, f, ok)
			}
			in, err := os.Open(testenv.Corpus(t, "dblogs", file))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			n := 0
			err = Read(in, f.New(Options{Host: "db1", AssetID: "shop-db"}), func(e event.Event) {
				n++
				if e.Host() != "db1" || e.Fields.Str("vigil.asset.id") != "shop-db" {
					t.Errorf("event without host or asset: %v", e.Fields)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Error("no events")
			}
		})
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup(nope) found a format")
	}
}
