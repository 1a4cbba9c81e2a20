package formats

import (
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
)

func TestSourceValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Source
		want string
	}{
		{"ok", Source{Format: "postgres-stderr", Path: "/var/log/postgresql/postgresql-15-main.log", AssetID: "citizen-db", LinePrefix: "%m [%p] "}, ""},
		{"unknown format", Source{Format: "oracle-audit", AssetID: "x"}, `format "oracle-audit" is unknown (want one of mariadb-audit, mysql-error, mysql-general, mysql-slow, postgres-csvlog, postgres-jsonlog, postgres-stderr)`},
		{"no asset", Source{Format: "mariadb-audit"}, "asset_id is required: it ties the log to its protected system"},
		{"bad zone", Source{Format: "mariadb-audit", AssetID: "x", TimeZone: "Mars/Olympus"}, `time_zone "Mars/Olympus": unknown time zone Mars/Olympus`},
		{"prefix elsewhere", Source{Format: "postgres-jsonlog", AssetID: "x", LinePrefix: "%m "}, "log_line_prefix applies only to postgres-stderr, not postgres-jsonlog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
			d, err := tt.s.Decoder()
			if (d != nil) != (tt.want == "") || (err == nil) != (tt.want == "") {
				t.Errorf("Decoder() = %v, %v", d, err)
			}
		})
	}
}

func TestSourceTimeZone(t *testing.T) {
	d, err := Source{Format: "mariadb-audit", AssetID: "x", TimeZone: "Asia/Ho_Chi_Minh"}.Decoder()
	if err != nil {
		t.Fatal(err)
	}
	var got event.Event
	if err := d.Line([]byte("20261129 15:34:56,vm,root,localhost,5,0,CONNECT,,,0"), func(e event.Event) { got = e }); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 29, 8, 34, 56, 0, time.UTC); !got.Time.Equal(want) {
		t.Errorf("time = %v, want %v (15:34:56 at UTC+7)", got.Time.UTC(), want)
	}
}
