package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/danang-soc/vigil/correlate"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/privacy"
	"github.com/danang-soc/vigil/internal/store"
)

func (s *Server) incidentRoutes(mux *http.ServeMux, need func(identity.Permission, http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/incidents", need(identity.PermRead, http.HandlerFunc(s.listIncidents)))
	mux.Handle("GET /api/v1/incidents/{id}", need(identity.PermRead, http.HandlerFunc(s.getIncident)))
	mux.Handle("PATCH /api/v1/incidents/{id}", need(identity.PermWorkIncidents, http.HandlerFunc(s.patchIncident)))
	mux.Handle("POST /api/v1/incidents/{id}/notes", need(identity.PermWorkIncidents, http.HandlerFunc(s.addNote)))
	mux.Handle("GET /api/v1/suppressions", need(identity.PermRead, http.HandlerFunc(s.listSuppressions)))
	mux.Handle("POST /api/v1/suppressions", need(identity.PermWorkIncidents, http.HandlerFunc(s.addSuppression)))
	mux.Handle("DELETE /api/v1/suppressions/{id}", need(identity.PermWorkIncidents, http.HandlerFunc(s.removeSuppression)))
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := store.IncidentQuery{Assignee: v.Get("assignee"), System: v.Get("system"), Sort: store.IncidentSort(v.Get("sort")), Cursor: v.Get("cursor")}
	var err error
	if q.Limit, err = limitParam(v.Get("limit")); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if st := v.Get("status"); st != "" {
		for _, part := range strings.Split(st, ",") {
			status, err := event.ParseStatus(part)
			if err != nil {
				apiError(w, http.StatusBadRequest, "bad_request", err.Error())
				return
			}
			q.Status = append(q.Status, status)
		}
	}
	if l := v.Get("severity"); l != "" {
		if q.Severity, err = event.ParseLevel(l); err != nil {
			apiError(w, http.StatusBadRequest, "bad_request", "severity: "+err.Error())
			return
		}
	}
	if q.Since, err = timeParam("since", v.Get("since")); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	page, err := s.store.Incidents(r.Context(), q)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if !canSeePersonal(r) {
		for i := range page.Items {
			maskIncident(&page.Items[i])
		}
	}
	writeJSON(w, http.StatusOK, page)
}

func maskIncident(inc *event.Incident) {
	for i := range inc.Entities {
		if inc.Entities[i].Kind == "user" {
			inc.Entities[i].Value = privacy.Mask(inc.Entities[i].Value)
		}
	}
	inc.Title = privacy.Mask(inc.Title)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	inc, err := s.store.Incident(ctx, id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	alerts, err := s.store.IncidentAlerts(ctx, id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	notes, err := s.store.Notes(ctx, id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	hist, err := s.store.History(ctx, id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if !canSeePersonal(r) {
		maskIncident(&inc)
		for i := range alerts {
			maskAlert(&alerts[i])
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incident": inc, "alerts": alerts, "notes": nonNil(notes), "history": nonNil(hist)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// patchBody is an analyst's change: any of status and assignee.
type patchBody struct {
	Status   *string `json:"status"`
	Assignee *string `json:"assignee"`
}

func (s *Server) patchIncident(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var body patchBody
	if !decodeBody(w, r, &body) {
		return
	}
	p, err := body.patch()
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	inc, err := s.changeIncident(r.Context(), id, p, actor(r))
	var te *transitionError
	switch {
	case errors.As(err, &te):
		apiError(w, http.StatusConflict, "bad_transition", err.Error())
		return
	case err != nil:
		s.storeError(w, err)
		return
	}
	if !canSeePersonal(r) {
		maskIncident(&inc)
	}
	writeJSON(w, http.StatusOK, inc)
}

// patch checks an analyst's change and turns it into the store's form.
func (b patchBody) patch() (store.Patch, error) {
	var p store.Patch
	if b.Status != nil {
		st, err := event.ParseStatus(*b.Status)
		if err != nil {
			return p, err
		}
		p.Status = &st
	}
	if b.Assignee != nil {
		a := strings.TrimSpace(*b.Assignee)
		if len(a) > 128 {
			return p, errors.New("assignee is longer than 128 characters")
		}
		p.Assignee = &a
	}
	if p.Status == nil && p.Assignee == nil {
		return p, errors.New("nothing to change: give status or assignee")
	}
	return p, nil
}

// transitionError is a status change the lifecycle does not allow.
type transitionError struct{ err error }

func (e *transitionError) Error() string { return e.err.Error() }
func (e *transitionError) Unwrap() error { return e.err }

// changeIncident applies an analyst's change: the lifecycle is checked,
// the store records the history, the grouper and the console learn of it.
func (s *Server) changeIncident(ctx context.Context, id event.ID, p store.Patch, who string) (event.Incident, error) {
	cur, err := s.store.Incident(ctx, id)
	if err != nil {
		return cur, err
	}
	if p.Status != nil && *p.Status != cur.Status {
		if err := correlate.Transition(cur.Status, *p.Status); err != nil {
			return cur, &transitionError{err}
		}
	}
	inc, err := s.store.UpdateIncident(ctx, id, p, who)
	if err != nil {
		return inc, err
	}
	s.group.Sync(inc)
	s.publish("incident", inc)
	return inc, nil
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var body struct {
		Text string `json:"text"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	text := strings.TrimSpace(body.Text)
	if text == "" || len(text) > 16<<10 {
		apiError(w, http.StatusBadRequest, "bad_request", "text must be 1 to 16384 bytes")
		return
	}
	n, err := s.store.AddNote(r.Context(), id, actor(r), text)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(s.group.Suppressions())})
}

func (s *Server) addSuppression(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Rule     string            `json:"rule"`
		Fields   map[string]string `json:"fields"`
		Duration string            `json:"duration"`
		Reason   string            `json:"reason"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	d, err := time.ParseDuration(body.Duration)
	if err != nil || d <= 0 || d > 90*24*time.Hour {
		apiError(w, http.StatusBadRequest, "bad_request", "duration must be a Go duration from 1s to 2160h, such as 24h")
		return
	}
	now := s.opts.Now()
	sup, err := s.group.AddSuppression(correlate.Suppression{
		Rule: body.Rule, Fields: body.Fields, Until: now.Add(d), Reason: body.Reason, Author: actor(r), Created: now,
	})
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err := s.saveSuppressions(r.Context()); err != nil {
		s.log.Error("saving suppressions failed", "err", err)
	}
	writeJSON(w, http.StatusCreated, sup)
}

func (s *Server) removeSuppression(w http.ResponseWriter, r *http.Request) {
	if !s.group.RemoveSuppression(r.PathValue("id")) {
		apiError(w, http.StatusNotFound, "not_found", "no such suppression")
		return
	}
	if err := s.saveSuppressions(r.Context()); err != nil {
		s.log.Error("saving suppressions failed", "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

const suppressionsKey = "correlate.suppressions"

func (s *Server) saveSuppressions(ctx context.Context) error {
	b, err := json.Marshal(s.group.Suppressions())
	if err != nil {
		return err
	}
	return s.store.PutState(ctx, suppressionsKey, b)
}

// loadGrouper seeds the incident grouper with the open incidents and the
// suppressions in force, so that a restart continues the same incidents.
func (s *Server) loadGrouper(ctx context.Context) error {
	open, err := s.store.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("reading open incidents: %w", err)
	}
	s.group.Seed(open)
	b, err := s.store.State(ctx, suppressionsKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading suppressions: %w", err)
	}
	var sups []correlate.Suppression
	if err := json.Unmarshal(b, &sups); err != nil {
		return fmt.Errorf("reading suppressions: %w", err)
	}
	now := s.opts.Now()
	for _, sp := range sups {
		if sp.Until.After(now) {
			if _, err := s.group.AddSuppression(sp); err != nil {
				s.log.Warn("suppression not restored", "id", sp.ID, "err", err)
			}
		}
	}
	return nil
}

func actor(r *http.Request) string {
	p, ok := identity.FromContext(r.Context())
	if !ok {
		return "unknown"
	}
	if p.Kind == identity.KindToken {
		return "token:" + p.Name
	}
	return p.Name
}

func pathID(w http.ResponseWriter, r *http.Request) (event.ID, bool) {
	id, err := event.ParseID(r.PathValue("id"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", err.Error())
		return id, false
	}
	return id, true
}

// decodeBody reads a JSON body strictly (unknown fields are errors).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "bad_request", "reading JSON body: "+err.Error())
		return false
	}
	return true
}
