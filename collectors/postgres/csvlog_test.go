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
