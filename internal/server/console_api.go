package server

import (
	"encoding/csv"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/privacy"
	"github.com/danang-soc/vigil/internal/store"
)

// The routes the analyst console needs beyond the public listings:
// histograms and the dashboards' aggregations, the CSV export of a search,
// field names and values for the query bar, saved searches, rule hit
// counts, and bulk changes of incidents. Every answer is masked for roles
// that may not see personal data, as the listings are.
func (s *Server) consoleAPIRoutes(mux *http.ServeMux, need func(identity.Permission, http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/events/histogram", need(identity.PermRead, http.HandlerFunc(s.eventHistogram)))
	mux.Handle("GET /api/v1/events/export", need(identity.PermRead, http.HandlerFunc(s.exportEvents)))
	mux.Handle("GET /api/v1/events/fields", need(identity.PermRead, http.HandlerFunc(s.eventFields)))
	mux.Handle("GET /api/v1/events/values", need(identity.PermRead, http.HandlerFunc(s.fieldValues)))
	mux.Handle("GET /api/v1/overview", need(identity.PermRead, http.HandlerFunc(s.overview)))
	mux.Handle("GET /api/v1/rules/hits", need(identity.PermRead, http.HandlerFunc(s.ruleHits)))
	mux.Handle("GET /api/v1/searches", need(identity.PermRead, http.HandlerFunc(s.listSearches)))
	mux.Handle("POST /api/v1/searches", need(identity.PermWorkIncidents, http.HandlerFunc(s.saveSearch)))
	mux.Handle("DELETE /api/v1/searches/{id}", need(identity.PermWorkIncidents, http.HandlerFunc(s.deleteSearch)))
	mux.Handle("POST /api/v1/incidents/bulk", need(identity.PermWorkIncidents, http.HandlerFunc(s.bulkIncidents)))
}

// spanParams reads from, to and buckets.
func (s *Server) spanParams(r *http.Request) (store.Span, error) {
	v := r.URL.Query()
	from, err := timeParam("from", v.Get("from"))
	if err != nil {
		return store.Span{}, err
	}
	to, err := timeParam("to", v.Get("to"))
	if err != nil {
		return store.Span{}, err
	}
	n := 0
	if b := v.Get("buckets"); b != "" {
		if n, err = strconv.Atoi(b); err != nil || n < 1 || n > store.MaxBuckets {
			return store.Span{}, errors.New("buckets must be a number from 1 to " + strconv.Itoa(store.MaxBuckets))
		}
	}
	return s.store.NewSpan(from, to, n)
}

// eventHistogram answers GET /api/v1/events/histogram?q=&from=&to=&buckets=:
// how many events match q in each bucket ({"span":{...},"series":[{"counts"}]}).
func (s *Server) eventHistogram(w http.ResponseWriter, r *http.Request) {
	sp, err := s.spanParams(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	h, err := s.store.EventHistogram(r.Context(), r.URL.Query().Get("q"), sp)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// MaxExportRows bounds one CSV export; the last line says when it was cut.
const MaxExportRows = 100_000

// exportColumns are the columns of an export, before the fields asked for.
var exportColumns = []string{"@timestamp", "host.name", "event.source", "user.name", "source.ip", "event.action", "event.outcome", "message"}

// exportEvents answers GET /api/v1/events/export?q=&from=&to=&fields=a,b:
// the matching events as CSV, newest first, streamed page by page, masked
// for the caller's role. Cells that a spreadsheet would run as a formula
// are quoted with a leading apostrophe.
func (s *Server) exportEvents(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := store.Query{Q: v.Get("q"), Limit: store.MaxLimit}
	var err error
	if q.From, err = timeParam("from", v.Get("from")); err == nil {
		q.To, err = timeParam("to", v.Get("to"))
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	cols := append([]string(nil), exportColumns...)
	if f := strings.TrimSpace(v.Get("fields")); f != "" {
		extra := strings.Split(f, ",")
		if len(extra) > 50 {
			apiError(w, http.StatusBadRequest, "bad_request", "at most 50 fields")
			return
		}
		for _, name := range extra {
			if name = strings.TrimSpace(name); name != "" && !slices.Contains(cols, name) {
				cols = append(cols, name)
			}
		}
	}
	// The first page decides the status: a bad query is a 400, not a
	// broken file.
	page, err := s.store.Events(r.Context(), q)
	if err != nil {
		s.storeError(w, err)
		return
	}
	mask := !canSeePersonal(r)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="vigil-events-`+s.opts.Now().UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	cw.Write(cols)
	row := make([]string, len(cols))
	rows := 0
	for {
		for i := range page.Items {
			e := &page.Items[i]
			if mask {
				maskEvent(e)
			}
			for j, c := range cols {
				row[j] = csvSafe(exportCell(e, c))
			}
			cw.Write(row)
			rows++
		}
		cw.Flush()
		if cw.Error() != nil || page.Next == "" || r.Context().Err() != nil {
			break
		}
		if rows >= MaxExportRows {
			cw.Write([]string{"# cut at " + strconv.Itoa(MaxExportRows) + " rows: narrow the query or the time range"})
			break
		}
		q.Cursor = page.Next
		if page, err = s.store.Events(r.Context(), q); err != nil {
			s.log.Warn("event export cut short", "err", err, "rows", rows)
			cw.Write([]string{"# cut short by an error: see the server log"})
			break
		}
	}
	cw.Flush()
}

func exportCell(e *event.Event, col string) string {
	switch col {
	case event.KeyTime:
		return e.Time.UTC().Format(time.RFC3339Nano)
	case "event.source":
		parts := make([]string, 0, 3)
		for _, p := range []string{e.Source.Product, e.Source.Category, e.Source.Service} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, "/")
	case "event.original":
		return e.Raw
	}
	val, ok := e.Fields.Get(col)
	if !ok {
		return ""
	}
	return val.Text()
}

// csvSafe keeps a spreadsheet from running a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// eventFields answers GET /api/v1/events/fields: the field names of recent
// events, for the query bar's suggestions.
func (s *Server) eventFields(w http.ResponseWriter, r *http.Request) {
	names, err := s.store.FieldNames(r.Context(), 1000)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": names})
}

// fieldValues answers GET /api/v1/events/values?field=F: the most frequent
// values of a field in recent events, masked for the caller's role.
func (s *Server) fieldValues(w http.ResponseWriter, r *http.Request) {
	vals, err := s.store.FieldValues(r.Context(), r.URL.Query().Get("field"), 2000, 20)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if !canSeePersonal(r) {
		for i := range vals {
			vals[i].Key = privacy.Mask(vals[i].Key)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": vals})
}

// overview is what the dashboards page shows.
type overview struct {
	Events store.Histogram          `json:"events"`
	Alerts store.Histogram          `json:"alerts"`
	Top    map[string][]store.Count `json:"top"`
	Attack []store.TagCount         `json:"attack"`
	// Open counts the incidents that need work, by severity.
	Open  map[string]int64   `json:"open"`
	Fleet []store.SourceSeen `json:"fleet"`
	// FleetComplete is false while the fleet list is still catching up
	// with the stored events (the first calls over a large store).
	FleetComplete bool      `json:"fleet_complete"`
	Now           time.Time `json:"now"`
}

// overview answers GET /api/v1/overview?from=&to=&buckets=: events by
// source and alerts by level over time, the top rules, hosts, users,
// databases and source addresses of the alerts, ATT&CK counts, the open
// incidents by severity, and every
// log source ever seen with its freshness, stalest first.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	sp, err := s.spanParams(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	ctx := r.Context()
	now := s.opts.Now().UTC()
	out := overview{Top: map[string][]store.Count{}, Now: now}
	if out.Events, err = s.store.EventRate(ctx, sp); err != nil {
		s.storeError(w, err)
		return
	}
	if out.Alerts, err = s.store.AlertRate(ctx, sp); err != nil {
		s.storeError(w, err)
		return
	}
	mask := !canSeePersonal(r)
	for _, dim := range []store.AlertDim{store.ByRule, store.ByHost, store.ByUser, store.ByDatabase, store.BySourceIP} {
		top, err := s.store.TopAlerts(ctx, dim, sp.From, 10)
		if err != nil {
			s.storeError(w, err)
			return
		}
		if mask {
			for i := range top {
				top[i].Key = privacy.Mask(top[i].Key)
			}
		}
		out.Top[string(dim)] = top
	}
	if out.Attack, err = s.store.AttackCounts(ctx, sp.From); err != nil {
		s.storeError(w, err)
		return
	}
	if out.Open, err = s.store.OpenIncidentCounts(ctx); err != nil {
		s.storeError(w, err)
		return
	}
	if out.Fleet, out.FleetComplete, err = s.store.Fleet(ctx, time.Time{}); err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// ruleHits answers GET /api/v1/rules/hits: per rule id, the alerts it
// raised and the time of the last.
func (s *Server) ruleHits(w http.ResponseWriter, r *http.Request) {
	hits, err := s.store.RuleHits(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": hits})
}

func (s *Server) listSearches(w http.ResponseWriter, r *http.Request) {
	items, err := s.store.SavedSearches(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) saveSearch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name  string `json:"name"`
		Query string `json:"query"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	ss, err := s.store.SaveSearch(r.Context(), store.SavedSearch{Name: body.Name, Query: body.Query, Owner: actor(r)})
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, ss)
}

func (s *Server) deleteSearch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "the id must be a number")
		return
	}
	if err := s.store.DeleteSearch(r.Context(), id); err != nil {
		s.storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// MaxBulk bounds the incidents of one bulk change.
const MaxBulk = 500

// bulkIncidents answers POST /api/v1/incidents/bulk
// {"ids":[...],"status":"acknowledged","assignee":"lan"}: the change of
// PATCH /api/v1/incidents/{id} applied to each incident. It answers
// {"items":[changed incidents],"errors":[{"id","error"}]}: one incident
// that may not change (a closed one acknowledged) does not stop the others.
func (s *Server) bulkIncidents(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IDs      []string `json:"ids"`
		Status   *string  `json:"status"`
		Assignee *string  `json:"assignee"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.IDs) == 0 || len(body.IDs) > MaxBulk {
		apiError(w, http.StatusBadRequest, "bad_request", "ids must name 1 to "+strconv.Itoa(MaxBulk)+" incidents")
		return
	}
	p, err := patchBody{Status: body.Status, Assignee: body.Assignee}.patch()
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	type failure struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	out := struct {
		Items  []event.Incident `json:"items"`
		Errors []failure        `json:"errors"`
	}{Items: []event.Incident{}, Errors: []failure{}}
	ctx := r.Context()
	mask := !canSeePersonal(r)
	for _, raw := range body.IDs {
		id, err := event.ParseID(raw)
		if err != nil {
			out.Errors = append(out.Errors, failure{raw, err.Error()})
			continue
		}
		inc, err := s.changeIncident(ctx, id, p, actor(r))
		var te *transitionError
		switch {
		case errors.As(err, &te):
			out.Errors = append(out.Errors, failure{raw, err.Error()})
			continue
		case errors.Is(err, fs.ErrNotExist):
			out.Errors = append(out.Errors, failure{raw, "no such incident"})
			continue
		case err != nil:
			s.log.Error("bulk incident change failed", "incident", raw, "err", err)
			out.Errors = append(out.Errors, failure{raw, "the store could not change it"})
			continue
		}
		if mask {
			maskIncident(&inc)
		}
		out.Items = append(out.Items, inc)
	}
	writeJSON(w, http.StatusOK, out)
}
