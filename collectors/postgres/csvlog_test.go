package postgres

import (
	"github.com/danang-soc/vigil/event"
	"testing"

	"github.com/danang-soc/vigil/internal/testenv"
)

func TestCSVLogCorpus(t *testing.T) {
	evs := decodeFile(t, NewCSVLog(Options{Host: "db1"}), testenv.Corpus(t, "dblogs", "postgres-csvlog.csv"))
	if len(evs) != 198 {
		t.Errorf("got %d events, want 198 (as many as jsonlog)", len(evs))
	}
	checkScenario(t, evs)
	e := find(t, evs, "user.name", "mallory")
	if got, want := e.Fields.Str("detail"), "Role \"mallory\" does not exist.\nConnection matched pg_hba.conf line 91: \"host    all             all             127.0.0.1/32            scram-sha-256\""; got != want {
		t.Errorf("multi-line detail = %q, want %q", got, want)
	}
}

func TestCSVLogErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"few fields", "2026-11-29 15:36:08.045 UTC,a,b", "csvlog line 1: record has 3 fields, want 23 to 26"},
		{"bad time", "yesterday,,,17337,,6b0c4668.43b9,1,,2026-11-29 15:36:08 UTC,,0,LOG,00000,\"x\",,,,,,,,,\"\",\"postmaster\",,0", "csvlog line 1: field log_time: timestamp \"yesterday\" is not YYYY-MM-DD HH:MM:SS[.fff] ZONE"},
		{"junk after quote", `2026-11-29 15:36:08.045 UTC,"a"b,,1,,s,1,,x,,0,LOG,00000,"x",,,,,,,,,"","p",,0`, "csvlog line 1: field 2 (user_name): unexpected 'b' after a closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewCSVLog(Options{})
			err := d.Line([]byte(tt.in), func(event.Event) { t.Error("emitted an event for bad input") })
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
			if d.Pending() {
				t.Error("Pending() after a bad record")
			}
		})
	}
}

func TestCSVLogFlushTruncated(t *testing.T) {
	d := NewCSVLog(Options{})
	var evs []event.Event
	emit := func(e event.Event) { evs = append(evs, e) }
	line := `2026-11-29 15:36:09.991 UTC,"alice","shop",17497,"127.0.0.1:40668",6b0c4669.4459,11,"SELECT",2026-11-29 15:36:09 UTC,3/26,0,ERROR,42501,"permission denied for table secrets",,,,,,,,,"psql","client backend",,0`
	if err := d.Line([]byte(line), emit); err != nil || len(evs) != 1 {
		t.Fatalf("complete record: %v, %d events", err, len(evs))
	}
	if err := d.Line([]byte(`2026-11-29 15:36:10.000 UTC,"alice","shop",17497,"127.0.0.1:40668",6b0c4669.4459,12,"idle",2026-11-29 15:36:09 UTC,3/27,0,LOG,00000,"statement: SELECT 'a`), emit); err != nil {
		t.Fatal(err)
	}
	if !d.Pending() || len(evs) != 1 {
		t.Fatalf("cut record: Pending() = %v, %d events", d.Pending(), len(evs))
	}
	d.Flush(emit)
	if d.Pending() || len(evs) != 2 {
		t.Fatalf("after Flush: Pending() = %v, %d events", d.Pending(), len(evs))
	}
	wantFields(t, &evs[1], map[string]string{"message": "statement: SELECT 'a", "db.user": "alice"})
}
