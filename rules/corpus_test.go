package rules

import (
	"testing"

	"github.com/danang-soc/vigil/internal/testenv"
)

// TestCorpusHunt replays the real logs of the corpus' scripted session
// (../shared/corpus/dblogs, see its README) through the collectors'
// decoders and the pack, as `vigil hunt --log FORMAT:FILE` does, and checks
// that what the session did is detected in every log that records it.
func TestCorpusHunt(t *testing.T) {
	pg := []string{
		"db_role_created", "db_superuser_granted", "db_grant_all", "db_role_changed",
		"db_sqli_tautology", "db_sqli_union_catalog", "db_sqli_time_delay", "db_permission_denied",
		"db_pg_copy_to_file", "db_pg_copy_to_client", "db_drop_table", "db_sensitive_table_access",
	}
	my := []string{
		"db_role_created", "db_superuser_granted", "db_grant_all", "db_grant_option", "db_role_changed",
		"db_sqli_tautology", "db_sqli_union_catalog", "db_sqli_time_delay",
		"db_mysql_into_outfile", "db_drop_table",
	}
	tests := []struct {
		format, file string
		want         []string
	}{
		{"postgres-jsonlog", "postgres-jsonlog.log", append(pg, "db_login_failed")},
		{"postgres-csvlog", "postgres-csvlog.csv", append(pg, "db_login_failed")},
		{"postgres-stderr", "postgres-stderr.log", append(pg, "db_login_failed")},
		{"postgres-stderr", "pgaudit-log_rows.log", []string{"db_pg_audit_settings_changed", "db_sqli_tautology"}},
		{"mariadb-audit", "mariadb-server_audit.log", append(my, "db_login_failed", "db_permission_denied", "db_sensitive_table_access")},
		{"mysql-general", "mariadb-general.log", append(my, "db_login_failed")},
		{"mysql-slow", "mariadb-slow.log", append(my, "db_mass_read")},
		{"mysql-error", "mariadb-error.log", []string{"db_login_failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			evs := decodeLog(t, tt.format, testenv.Corpus(t, "dblogs", tt.file), formatsOptions)
			wantFired(t, tt.file, stemsFired(t, detect(t, evs)), tt.want)
		})
	}
}
