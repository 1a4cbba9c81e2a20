package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema changes in order; migrations[n] takes the
// schema from version n-1 to n. Append only: a released migration is never
// edited.
var migrations = []string{
	0: ``,
	1: `
CREATE TABLE events (
	seq      INTEGER PRIMARY KEY,
	id       BLOB    NOT NULL,
	time     INTEGER NOT NULL,
	received INTEGER NOT NULL,
	product  TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	category TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	service  TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	host     TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	doc      TEXT    NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_host_time ON events (host, time);
CREATE VIRTUAL TABLE events_fts USING fts5 (message, statement, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
	DELETE FROM events_fts WHERE rowid = old.seq;
END;
`,
	2: `
CREATE TABLE alerts (
	id      BLOB    PRIMARY KEY,
	time    INTEGER NOT NULL,
	created INTEGER NOT NULL,
	rule_id TEXT    NOT NULL,
	level   INTEGER NOT NULL,
	host    TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	doc     TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX alerts_time ON alerts (time, id);
CREATE INDEX alerts_rule_time ON alerts (rule_id, time, id);
CREATE TABLE alert_events (
	alert_id BLOB NOT NULL,
	event_id BLOB NOT NULL,
	PRIMARY KEY (alert_id, event_id)
) WITHOUT ROWID;
CREATE INDEX alert_events_event ON alert_events (event_id);
`,
	3: `
CREATE TABLE incidents (
	id          BLOB    PRIMARY KEY,
	status      TEXT    NOT NULL,
	severity    INTEGER NOT NULL,
	assignee    TEXT    NOT NULL DEFAULT '',
	system      TEXT    NOT NULL DEFAULT '',
	key         TEXT    NOT NULL DEFAULT '',
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL,
	alert_count INTEGER NOT NULL,
	doc         TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX incidents_updated ON incidents (updated, id);
CREATE INDEX incidents_status_updated ON incidents (status, updated, id);
CREATE INDEX incidents_severity ON incidents (severity, updated, id);
CREATE INDEX incidents_status_severity ON incidents (status, severity, updated, id);
CREATE INDEX incidents_created ON incidents (created, id);
CREATE INDEX incidents_status_created ON incidents (status, created, id);
CREATE INDEX incidents_status_last_seen ON incidents (status, last_seen, id);
CREATE INDEX incidents_last_seen ON incidents (last_seen, id);
CREATE INDEX incidents_assignee ON incidents (assignee, updated, id);
CREATE INDEX incidents_assignee_status ON incidents (assignee, status, updated, id);
CREATE INDEX incidents_system ON incidents (system, updated, id);
CREATE INDEX incidents_system_status ON incidents (system, status, updated, id);
CREATE TABLE incident_alerts (
	incident_id BLOB NOT NULL,
	alert_id    BLOB NOT NULL,
	PRIMARY KEY (incident_id, alert_id)
) WITHOUT ROWID;
CREATE INDEX incident_alerts_alert ON incident_alerts (alert_id);
CREATE TABLE incident_notes (
	seq         INTEGER PRIMARY KEY,
	incident_id BLOB    NOT NULL,
	time        INTEGER NOT NULL,
	actor       TEXT    NOT NULL,
	text        TEXT    NOT NULL
);
CREATE INDEX incident_notes_incident ON incident_notes (incident_id, seq);
CREATE TABLE incident_history (
	seq         INTEGER PRIMARY KEY,
	incident_id BLOB    NOT NULL,
	time        INTEGER NOT NULL,
	actor       TEXT    NOT NULL,
	field       TEXT    NOT NULL,
	from_value  TEXT    NOT NULL,
	to_value    TEXT    NOT NULL
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, seq);
`,
	4: `
CREATE TABLE quarantine (
	seq      INTEGER PRIMARY KEY,
	received INTEGER NOT NULL,
	source   TEXT    NOT NULL,
	line     INTEGER NOT NULL,
	reason   TEXT    NOT NULL,
	data     BLOB    NOT NULL
);
CREATE INDEX quarantine_received ON quarantine (received);
CREATE TABLE state (
	key     TEXT    PRIMARY KEY,
	value   BLOB    NOT NULL,
	updated INTEGER NOT NULL
) WITHOUT ROWID;
`,
	5: `
-- Hot fields: copies of the fields analysts filter on most, compared by
-- scans without parsing JSON. A value that is not one string or number is
-- char(1) || 'json': read it from the document.
ALTER TABLE events ADD COLUMN user_name;
ALTER TABLE events ADD COLUMN source_ip;
ALTER TABLE events ADD COLUMN event_action;
ALTER TABLE events ADD COLUMN event_outcome;
ALTER TABLE events ADD COLUMN db_name;
ALTER TABLE events ADD COLUMN db_user;
ALTER TABLE events ADD COLUMN db_operation;
ALTER TABLE events ADD COLUMN db_rows;
UPDATE events SET
	user_name = CASE WHEN json_type(doc, '$."user.name"') IS NULL THEN NULL
		WHEN json_type(doc, '$."user.name"') IN ('text', 'integer', 'real') THEN doc ->> '$."user.name"' ELSE char(1) || 'json' END,
	source_ip = CASE WHEN json_type(doc, '$."source.ip"') IS NULL THEN NULL
		WHEN json_type(doc, '$."source.ip"') IN ('text', 'integer', 'real') THEN doc ->> '$."source.ip"' ELSE char(1) || 'json' END,
	event_action = CASE WHEN json_type(doc, '$."event.action"') IS NULL THEN NULL
		WHEN json_type(doc, '$."event.action"') IN ('text', 'integer', 'real') THEN doc ->> '$."event.action"' ELSE char(1) || 'json' END,
	event_outcome = CASE WHEN json_type(doc, '$."event.outcome"') IS NULL THEN NULL
		WHEN json_type(doc, '$."event.outcome"') IN ('text', 'integer', 'real') THEN doc ->> '$."event.outcome"' ELSE char(1) || 'json' END,
	db_name = CASE WHEN json_type(doc, '$."db.name"') IS NULL THEN NULL
		WHEN json_type(doc, '$."db.name"') IN ('text', 'integer', 'real') THEN doc ->> '$."db.name"' ELSE char(1) || 'json' END,
	db_user = CASE WHEN json_type(doc, '$."db.user"') IS NULL THEN NULL
		WHEN json_type(doc, '$."db.user"') IN ('text', 'integer', 'real') THEN doc ->> '$."db.user"' ELSE char(1) || 'json' END,
	db_operation = CASE WHEN json_type(doc, '$."db.operation"') IS NULL THEN NULL
		WHEN json_type(doc, '$."db.operation"') IN ('text', 'integer', 'real') THEN doc ->> '$."db.operation"' ELSE char(1) || 'json' END,
	db_rows = CASE WHEN json_type(doc, '$."db.response.rows"') IS NULL THEN NULL
		WHEN json_type(doc, '$."db.response.rows"') IN ('text', 'integer', 'real') THEN doc ->> '$."db.response.rows"' ELSE char(1) || 'json' END;
`,
	6: `
-- Searches analysts keep under a name (internal/store/aggregate.go).
CREATE TABLE saved_searches (
	id      INTEGER PRIMARY KEY,
	name    TEXT    NOT NULL UNIQUE,
	query   TEXT    NOT NULL,
	owner   TEXT    NOT NULL,
	created INTEGER NOT NULL
);
`,
	7: `
-- The full-text index moves to a file of its own, written beside the
-- events (text.go); Open rebuilds it there from the documents.
DROP TRIGGER events_fts_delete;
DROP TABLE events_fts;
`,
	8: `
-- Events in blocks (blocks.go): up to blockSize events close in time, a
-- row each with the range of their seqs and times and the hosts they name,
-- and their documents compressed together in a row of event_block_data,
-- apart, so that the rows that choose blocks stay small; the IDs of every
-- stored event, for idempotency and lookups. The events of schema 7, one
-- row each, are moved into blocks by Open (convertRows) and their table
-- dropped.
ALTER TABLE events RENAME TO events_v7;
CREATE TABLE event_blocks (
	first_seq    INTEGER PRIMARY KEY,
	last_seq     INTEGER NOT NULL,
	count        INTEGER NOT NULL,
	min_time     INTEGER NOT NULL,
	max_time     INTEGER NOT NULL,
	-- the latest arrival, for retention: a block goes when its events are
	-- both stamped and received before the cutoff.
	max_received INTEGER NOT NULL,
	-- each host, ASCII lower-case, followed by a NUL; empty: not known
	-- (blockHosts).
	hosts        BLOB    NOT NULL
);
-- Newest-first searches read blocks by their newest event; the index holds
-- what deciding on a block needs.
CREATE INDEX event_blocks_time ON event_blocks (max_time, first_seq, min_time, last_seq);
-- Retention walks blocks by their oldest event.
CREATE INDEX event_blocks_min_time ON event_blocks (min_time, first_seq);
CREATE TABLE event_block_data (
	first_seq INTEGER PRIMARY KEY,
	data      BLOB    NOT NULL
);
CREATE TABLE event_ids (
	id  BLOB    PRIMARY KEY,
	seq INTEGER NOT NULL
) WITHOUT ROWID;
-- Stored events by second of their time and log source (rates.go).
CREATE TABLE event_rates (
	second INTEGER NOT NULL,
	source TEXT    NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (second, source)
) WITHOUT ROWID;
`,
}

// SchemaVersion is the schema version this code writes.
func SchemaVersion() int { return len(migrations) - 1 }

// migrate brings the schema of db up to version target in one transaction
// and returns the version it found.
func migrate(ctx context.Context, db *sql.DB, target int, now time.Time) (from int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		applied INTEGER NOT NULL
	)`); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&from); err != nil {
		return 0, err
	}
	if from > len(migrations)-1 {
		return from, fmt.Errorf("database schema version %d is newer than this vigil knows (%d): upgrade vigil", from, len(migrations)-1)
	}
	for v := from + 1; v <= target; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return from, fmt.Errorf("applying migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, v, nanos(now)); err != nil {
			return from, fmt.Errorf("recording migration %d: %w", v, err)
		}
	}
	return from, tx.Commit()
}
