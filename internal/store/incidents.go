package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Who owns which part of an incident: the grouper (correlation) owns what
// it computes from alerts (title, severity, key, times, entities, tactics,
// system) and writes it with UpsertIncident; analysts own the status and
// the assignee, changed only by UpdateIncident, which records each change.

// MaxNoteBytes bounds one note's text.
const MaxNoteBytes = 64 << 10

// UpsertIncident creates an incident or refreshes what the grouper owns of
// it, and links alertIDs to it. The status and assignee of an existing
// incident are kept: only UpdateIncident changes them.
func (s *Store) UpsertIncident(ctx context.Context, inc event.Incident, alertIDs []event.ID) error {
	if err := s.write(ctx, func(tx *sql.Tx) error { return s.upsertIncident(ctx, tx, inc, alertIDs) }); err != nil {
		return fmt.Errorf("upserting incident %s: %w", inc.ID, err)
	}
	return nil
}

func (s *Store) upsertIncident(ctx context.Context, tx *sql.Tx, inc event.Incident, alertIDs []event.ID) error {
	if inc.ID.IsZero() {
		return ErrNoID
	}
	if inc.Status == "" {
		inc.Status = event.StatusNew
	}
	if !inc.Status.Valid() {
		return fmt.Errorf("unknown status %q", inc.Status)
	}
	now := s.cfg.Now()
	if inc.Created.IsZero() {
		inc.Created = now
	}
	if inc.Updated.IsZero() {
		inc.Updated = now
	}
	doc, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO incidents
		(id, status, severity, assignee, system, key, created, updated, last_seen, alert_count, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			severity = excluded.severity, system = excluded.system, key = excluded.key,
			updated = max(updated, excluded.updated), last_seen = excluded.last_seen,
			alert_count = excluded.alert_count, doc = excluded.doc`,
		inc.ID[:], string(inc.Status), int(inc.Severity), inc.Assignee, inc.System, inc.Key,
		nanos(inc.Created), nanos(inc.Updated), nanos(inc.LastSeen), inc.AlertCount, string(doc)); err != nil {
		return err
	}
	if len(alertIDs) == 0 {
		return nil
	}
	link, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO incident_alerts (incident_id, alert_id) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	defer link.Close()
	for _, a := range alertIDs {
		if _, err := link.ExecContext(ctx, inc.ID[:], a[:]); err != nil {
			return err
		}
	}
	// The count is at least the number of linked alerts, whatever the
	// grouper counted.
	_, err = tx.ExecContext(ctx, `UPDATE incidents SET alert_count =
		max(alert_count, (SELECT count(*) FROM incident_alerts WHERE incident_id = ?1)) WHERE id = ?1`, inc.ID[:])
	return err
}

const incidentColumns = `status, severity, assignee, updated, alert_count, doc`

// scanIncident reads incidentColumns; the columns that analysts and links
// change override the document.
func scanIncident(row interface{ Scan(...any) error }, extra ...any) (event.Incident, error) {
	var inc event.Incident
	var status, assignee string
	var severity, count int
	var updated int64
	var doc []byte
	if err := row.Scan(append([]any{&status, &severity, &assignee, &updated, &count, &doc}, extra...)...); err != nil {
		return inc, err
	}
	if err := json.Unmarshal(doc, &inc); err != nil {
		return inc, fmt.Errorf("decoding stored incident: %w", err)
	}
	inc.Status, inc.Severity, inc.Assignee = event.Status(status), event.Level(severity), assignee
	inc.Updated, inc.AlertCount = fromNanos(updated), count
	return inc, nil
}

// Incident returns one incident; the error wraps fs.ErrNotExist when there
// is none with that ID.
func (s *Store) Incident(ctx context.Context, id event.ID) (event.Incident, error) {
	inc, err := scanIncident(s.r.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, fmt.Errorf("incident %s: %w", id, fs.ErrNotExist)
	}
	if err != nil {
		return inc, fmt.Errorf("reading incident %s: %w", id, err)
	}
	return inc, nil
}

// IncidentSort orders an incident listing, always newest or most severe
// first.
type IncidentSort string

const (
	SortUpdated  IncidentSort = "updated" // the default
	SortCreated  IncidentSort = "created"
	SortLastSeen IncidentSort = "last_seen"
	SortSeverity IncidentSort = "severity" // then by updated
)

// sortKeys are the keyset columns of each sort, before the id, and the
// cursor kind.
var sortKeys = map[IncidentSort]struct {
	cols []string
	kind byte
}{
	SortUpdated:  {[]string{"updated"}, 'u'},
	SortCreated:  {[]string{"created"}, 'c'},
	SortLastSeen: {[]string{"last_seen"}, 'l'},
	SortSeverity: {[]string{"severity", "updated"}, 's'},
}

// IncidentQuery selects incidents. Zero fields do not filter.
type IncidentQuery struct {
	// Status keeps incidents in any of these statuses.
	Status []event.Status
	// Severity keeps incidents of at least this severity.
	Severity event.Level
	Assignee string
	System   string
	// Since keeps incidents updated at or after it.
	Since  time.Time
	Sort   IncidentSort
	Limit  int
	Cursor string
}

// Incidents lists incidents.
func (s *Store) Incidents(ctx context.Context, q IncidentQuery) (Page[event.Incident], error) {
	var page Page[event.Incident]
	if q.Sort == "" {
		q.Sort = SortUpdated
	}
	sk, ok := sortKeys[q.Sort]
	if !ok {
		return page, fmt.Errorf("listing incidents: unknown sort %q (want updated, created, last_seen or severity)", q.Sort)
	}
	for _, st := range q.Status {
		if !st.Valid() {
			return page, fmt.Errorf("listing incidents: unknown status %q", st)
		}
	}
	var where []string
	var args []any
	if q.Severity > 0 {
		where = append(where, "severity >= ?")
		args = append(args, int(q.Severity))
	}
	if q.Assignee != "" {
		where = append(where, "assignee = ?")
		args = append(args, q.Assignee)
	}
	if q.System != "" {
		where = append(where, "system = ?")
		args = append(args, q.System)
	}
	if !q.Since.IsZero() {
		where = append(where, "updated >= ?")
		args = append(args, nanos(q.Since))
	}
	keyCols := strings.Join(append(append([]string(nil), sk.cols...), "id"), ", ")
	if q.Cursor != "" {
		key, id, err := decodeCursor(q.Cursor, sk.kind, len(sk.cols), len(event.ID{}))
		if err != nil {
			return page, err
		}
		marks := strings.Repeat("?, ", len(key)) + "?"
		where = append(where, "("+keyCols+") < ("+marks+")")
		for _, k := range key {
			args = append(args, k)
		}
		args = append(args, id)
	}
	order := ` ORDER BY ` + strings.ReplaceAll(keyCols, ",", " DESC,") + ` DESC LIMIT ?`
	n := limit(q.Limit)
	selectWhere := func(conds []string) string {
		stmt := `SELECT ` + incidentColumns + `, ` + keyCols + ` FROM incidents`
		if len(conds) > 0 {
			stmt += ` WHERE ` + strings.Join(conds, " AND ")
		}
		return stmt + order
	}
	var stmt string
	var all []any
	if len(q.Status) <= 1 {
		if len(q.Status) == 1 {
			all = append(all, string(q.Status[0]))
			where = append([]string{"status = ?"}, where...)
		}
		stmt, all = selectWhere(where), append(append(all, args...), n+1)
	} else {
		// Several statuses: one ordered, limited scan of the (status, key)
		// index per status, merged. A single query with status IN (...)
		// would sort every matching incident.
		subs := make([]string, len(q.Status))
		for i, st := range q.Status {
			subs[i] = `SELECT * FROM (` + selectWhere(append([]string{"status = ?"}, where...)) + `)`
			all = append(append(append(all, string(st)), args...), n+1)
		}
		stmt = `SELECT * FROM (` + strings.Join(subs, " UNION ALL ") + `)` + order
		all = append(all, n+1)
	}
	args = all
	rows, err := s.r.QueryContext(ctx, stmt, args...)
	if err != nil {
		return page, fmt.Errorf("listing incidents: %w", err)
	}
	defer rows.Close()
	key := make([]int64, len(sk.cols))
	var id []byte
	extra := make([]any, 0, len(key)+1)
	for i := range key {
		extra = append(extra, &key[i])
	}
	extra = append(extra, &id)
	for rows.Next() {
		if len(page.Items) == n {
			page.Next = encodeCursor(sk.kind, key, id)
			break
		}
		inc, err := scanIncident(rows, extra...)
		if err != nil {
			return page, fmt.Errorf("listing incidents: %w", err)
		}
		page.Items = append(page.Items, inc)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("listing incidents: %w", err)
	}
	return page, nil
}

// OpenIncidents returns every incident that still needs work, for the
// grouper to resume after a restart.
func (s *Store) OpenIncidents(ctx context.Context) ([]event.Incident, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents
		WHERE status IN (?, ?, ?) ORDER BY updated DESC, id DESC`,
		string(event.StatusNew), string(event.StatusAcknowledged), string(event.StatusInvestigating))
	if err != nil {
		return nil, fmt.Errorf("listing open incidents: %w", err)
	}
	defer rows.Close()
	var out []event.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("listing open incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing open incidents: %w", err)
	}
	return out, nil
}

// Patch is an analyst's change to an incident; nil fields are unchanged.
type Patch struct {
	Status   *event.Status
	Assignee *string
}

// Change is one recorded change of an incident field.
type Change struct {
	Incident event.ID  `json:"incident"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Field    string    `json:"field"`
	From     string    `json:"from"`
	To       string    `json:"to"`
}

// UpdateIncident applies an analyst's patch, records one history row per
// field that changed, and returns the incident as it now is. The error
// wraps fs.ErrNotExist for an unknown incident.
func (s *Store) UpdateIncident(ctx context.Context, id event.ID, p Patch, actor string) (event.Incident, error) {
	var inc event.Incident
	if p.Status != nil && !p.Status.Valid() {
		return inc, fmt.Errorf("updating incident %s: unknown status %q", id, *p.Status)
	}
	if actor == "" {
		return inc, fmt.Errorf("updating incident %s: the actor is required", id)
	}
	now := s.cfg.Now()
	err := s.write(ctx, func(tx *sql.Tx) error {
		var status, assignee string
		err := tx.QueryRowContext(ctx, `SELECT status, assignee FROM incidents WHERE id = ?`, id[:]).Scan(&status, &assignee)
		if errors.Is(err, sql.ErrNoRows) {
			return fs.ErrNotExist
		}
		if err != nil {
			return err
		}
		var changes []Change
		if p.Status != nil && string(*p.Status) != status {
			changes = append(changes, Change{Field: "status", From: status, To: string(*p.Status)})
		}
		if p.Assignee != nil && *p.Assignee != assignee {
			changes = append(changes, Change{Field: "assignee", From: assignee, To: *p.Assignee})
		}
		for _, c := range changes {
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET `+c.Field+` = ?, updated = ? WHERE id = ?`, c.To, nanos(now), id[:]); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_history (incident_id, time, actor, field, from_value, to_value)
				VALUES (?, ?, ?, ?, ?, ?)`, id[:], nanos(now), actor, c.Field, c.From, c.To); err != nil {
				return err
			}
		}
		inc, err = scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id[:]))
		return err
	})
	if err != nil {
		return inc, fmt.Errorf("updating incident %s: %w", id, err)
	}
	return inc, nil
}

// History returns the recorded changes of an incident, oldest first.
func (s *Store) History(ctx context.Context, id event.ID) ([]Change, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT time, actor, field, from_value, to_value FROM incident_history
		WHERE incident_id = ? ORDER BY seq LIMIT ?`, id[:], MaxLimit*10)
	if err != nil {
		return nil, fmt.Errorf("reading history of incident %s: %w", id, err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		c := Change{Incident: id}
		var at int64
		if err := rows.Scan(&at, &c.Actor, &c.Field, &c.From, &c.To); err != nil {
			return nil, fmt.Errorf("reading history of incident %s: %w", id, err)
		}
		c.Time = fromNanos(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading history of incident %s: %w", id, err)
	}
	return out, nil
}

// Note is an analyst's note on an incident.
type Note struct {
	ID       int64     `json:"id"`
	Incident event.ID  `json:"incident"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Text     string    `json:"text"`
}

// AddNote adds a note to an incident and returns it. The error wraps
// fs.ErrNotExist for an unknown incident.
func (s *Store) AddNote(ctx context.Context, id event.ID, actor, text string) (Note, error) {
	n := Note{Incident: id, Time: s.cfg.Now().UTC(), Actor: actor, Text: text}
	switch {
	case actor == "":
		return n, fmt.Errorf("adding a note to incident %s: the actor is required", id)
	case strings.TrimSpace(text) == "":
		return n, fmt.Errorf("adding a note to incident %s: the note is empty", id)
	case len(text) > MaxNoteBytes:
		return n, fmt.Errorf("adding a note to incident %s: the note is longer than %d bytes", id, MaxNoteBytes)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE incidents SET updated = max(updated, ?) WHERE id = ?`, nanos(n.Time), id[:])
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fs.ErrNotExist
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO incident_notes (incident_id, time, actor, text) VALUES (?, ?, ?, ?)`,
			id[:], nanos(n.Time), actor, text)
		if err != nil {
			return err
		}
		n.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return n, fmt.Errorf("adding a note to incident %s: %w", id, err)
	}
	return n, nil
}

// Notes returns the notes of an incident, oldest first.
func (s *Store) Notes(ctx context.Context, id event.ID) ([]Note, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, time, actor, text FROM incident_notes
		WHERE incident_id = ? ORDER BY seq LIMIT ?`, id[:], MaxLimit*10)
	if err != nil {
		return nil, fmt.Errorf("reading notes of incident %s: %w", id, err)
	}
	defer rows.Close()
	var out []Note
	for rows.Next() {
		n := Note{Incident: id}
		var at int64
		if err := rows.Scan(&n.ID, &at, &n.Actor, &n.Text); err != nil {
			return nil, fmt.Errorf("reading notes of incident %s: %w", id, err)
		}
		n.Time = fromNanos(at)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading notes of incident %s: %w", id, err)
	}
	return out, nil
}

// IncidentAlerts returns the alerts linked to an incident, oldest first, at
// most MaxAlertEvents.
func (s *Store) IncidentAlerts(ctx context.Context, id event.ID) ([]event.Alert, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT a.doc FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id
		WHERE ia.incident_id = ? ORDER BY a.time, a.id LIMIT ?`, id[:], MaxAlertEvents)
	if err != nil {
		return nil, fmt.Errorf("reading alerts of incident %s: %w", id, err)
	}
	defer rows.Close()
	var out []event.Alert
	var doc []byte
	for rows.Next() {
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("reading alerts of incident %s: %w", id, err)
		}
		var a event.Alert
		if err := json.Unmarshal(doc, &a); err != nil {
			return nil, fmt.Errorf("decoding alert of incident %s: %w", id, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alerts of incident %s: %w", id, err)
	}
	return out, nil
}
