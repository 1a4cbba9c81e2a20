package server

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/privacy"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/danang-soc/vigil/internal/store"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes is the whole HTTP surface. Every route but /healthz goes through
// authentication, and each is guarded by the permission it needs.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	auth := s.ident.Middleware
	need := func(p identity.Permission, h http.Handler) http.Handler { return auth(identity.Require(p, h)) }

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", need(identity.PermRead, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: nil})))
	mux.Handle("POST /api/v1/events", need(identity.PermIngest, s.in))
	mux.Handle("GET /api/v1/events", need(identity.PermRead, http.HandlerFunc(s.listEvents)))
	mux.Handle("GET /api/v1/alerts", need(identity.PermRead, http.HandlerFunc(s.listAlerts)))
	mux.Handle("GET /api/v1/alerts/{id}", need(identity.PermRead, http.HandlerFunc(s.getAlert)))
	mux.Handle("GET /api/v1/rules", need(identity.PermRead, http.HandlerFunc(s.listRules)))
	mux.Handle("GET /api/v1/openapi.json", need(identity.PermRead, http.HandlerFunc(serveOpenAPI)))
	s.incidentRoutes(mux, need)
	s.ruleStateRoutes(mux, need)
	s.consoleAPIRoutes(mux, need)
	// The console serves its pages, assets and the /api/v1/stream websocket,
	// authenticating each itself.
	mux.Handle("/", s.console.Handler())
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	msgs, bytes, err := s.bus.Depth(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unhealthy", "error": "bus: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "bus_batches": msgs, "bus_bytes": bytes})
}

// listEvents answers GET /api/v1/events?q=...&from=...&to=...&limit=&cursor=.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := store.Query{Q: v.Get("q"), Cursor: v.Get("cursor")}
	var err error
	if q.Limit, err = limitParam(v.Get("limit")); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if q.From, err = timeParam("from", v.Get("from")); err == nil {
		q.To, err = timeParam("to", v.Get("to"))
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	page, err := s.store.Events(r.Context(), q)
	if err != nil {
		s.storeError(w, err)
		return
	}
	mask := !canSeePersonal(r)
	items := make([]json.RawMessage, len(page.Items))
	for i := range page.Items {
		if mask {
			maskEvent(&page.Items[i])
		}
		items[i] = page.Items[i].AppendJSON(nil)
	}
	writeJSON(w, http.StatusOK, store.Page[json.RawMessage]{Items: items, Next: page.Next})
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := store.AlertQuery{RuleID: v.Get("rule_id"), Host: v.Get("host"), Cursor: v.Get("cursor")}
	var err error
	if q.Limit, err = limitParam(v.Get("limit")); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if l := v.Get("level"); l != "" {
		if q.Level, err = event.ParseLevel(l); err != nil {
			apiError(w, http.StatusBadRequest, "bad_request", "level: "+err.Error())
			return
		}
	}
	if q.Since, err = timeParam("since", v.Get("since")); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	page, err := s.store.Alerts(r.Context(), q)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if !canSeePersonal(r) {
		for i := range page.Items {
			maskAlert(&page.Items[i])
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// getAlert answers one alert with its events.
func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, err := event.ParseID(r.PathValue("id"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	a, err := s.store.Alert(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	evs, err := s.store.AlertEvents(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	mask := !canSeePersonal(r)
	if mask {
		maskAlert(&a)
	}
	raw := make([]json.RawMessage, len(evs))
	for i := range evs {
		if mask {
			maskEvent(&evs[i])
		}
		raw[i] = evs[i].AppendJSON(nil)
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert": a, "events": raw})
}

// ruleInfo is one loaded rule as the API lists it.
type ruleInfo struct {
	ID        string          `json:"id"`
	Title     string          `json:"title"`
	Level     event.Level     `json:"level"`
	Status    string          `json:"status,omitempty"`
	Tags      []string        `json:"tags,omitempty"`
	LogSource event.LogSource `json:"logsource"`
	Path      string          `json:"path"`
	Disabled  bool            `json:"disabled"`
}

type ruleErrorInfo struct {
	Path  string `json:"path"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	rs := s.pipe.rules.Load()
	out := struct {
		Items  []ruleInfo      `json:"items"`
		Errors []ruleErrorInfo `json:"errors"`
	}{Items: []ruleInfo{}, Errors: []ruleErrorInfo{}}
	for _, ru := range rs.Rules() {
		out.Items = append(out.Items, ruleInfo{ru.ID, ru.Title, ru.Level, ru.Status, ru.Tags, ru.LogSource, s.rules.realPath(ru.Path), s.isRuleDisabled(ru.ID)})
	}
	s.ruleMu.Lock()
	for _, e := range s.ruleErrs {
		out.Errors = append(out.Errors, ruleErrorInfo{e.Path, e.Line, e.Err.Error()})
	}
	s.ruleMu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func canSeePersonal(r *http.Request) bool {
	p, ok := identity.FromContext(r.Context())
	return ok && p.Can(identity.PermSeePersonalData)
}

// maskEvent masks personal data (citizen ids, phone numbers, e-mail
// addresses) in every string field and the raw record.
func maskEvent(e *event.Event) {
	for i := range e.Fields {
		v := &e.Fields[i].Value
		switch v.Kind {
		case event.KindString:
			v.Str = privacy.Mask(v.Str)
		case event.KindList:
			for j := range v.List {
				if v.List[j].Kind == event.KindString {
					v.List[j].Str = privacy.Mask(v.List[j].Str)
				}
			}
		}
	}
	e.Raw = privacy.Mask(e.Raw)
}

func maskAlert(a *event.Alert) {
	a.Summary = privacy.Mask(a.Summary)
	a.User = privacy.Mask(a.User)
	for k, v := range a.Group {
		a.Group[k] = privacy.Mask(v)
	}
}

func (s *Server) storeError(w http.ResponseWriter, err error) {
	var qe *query.Error
	switch {
	case errors.As(err, &qe):
		apiError(w, http.StatusBadRequest, "bad_query", err.Error())
	case errors.Is(err, store.ErrBadCursor):
		apiError(w, http.StatusBadRequest, "bad_cursor", err.Error())
	case errors.Is(err, fs.ErrNotExist):
		apiError(w, http.StatusNotFound, "not_found", "no such item")
	default:
		s.log.Error("store request failed", "err", err)
		apiError(w, http.StatusInternalServerError, "internal", "the store could not answer; see the server log")
	}
}

func limitParam(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, errors.New("limit must be a number from 1 to 1000")
	}
	return n, nil
}

func timeParam(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, errors.New(name + " must be an RFC 3339 time such as 2026-11-29T10:00:00Z")
	}
	return t, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, kind, msg string) {
	identity.WriteError(w, code, kind, msg)
}
