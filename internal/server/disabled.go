package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sort"

	"github.com/danang-soc/vigil/internal/identity"
)

// Rules switched off by analysts, without editing them: the set is kept in
// the store's state table and applied by the pipeline at once.
const disabledRulesKey = "rules.disabled"

func (s *Server) loadDisabledRules(ctx context.Context) error {
	b, err := s.store.State(ctx, disabledRulesKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading disabled rules: %w", err)
	}
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return fmt.Errorf("reading disabled rules: %w", err)
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	s.pipe.disabled.Store(&m)
	return nil
}

// setRuleDisabled switches one rule off (or back on) and persists the set.
func (s *Server) setRuleDisabled(ctx context.Context, id string, off bool) error {
	s.disabledMu.Lock()
	defer s.disabledMu.Unlock()
	m := map[string]bool{}
	if cur := s.pipe.disabled.Load(); cur != nil {
		for k := range *cur {
			m[k] = true
		}
	}
	if off {
		m[id] = true
	} else {
		delete(m, id)
	}
	ids := make([]string, 0, len(m))
	for k := range m {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	if err := s.store.PutState(ctx, disabledRulesKey, b); err != nil {
		return fmt.Errorf("saving disabled rules: %w", err)
	}
	s.pipe.disabled.Store(&m)
	return nil
}

func (s *Server) isRuleDisabled(id string) bool {
	d := s.pipe.disabled.Load()
	return d != nil && (*d)[id]
}

func (s *Server) ruleStateRoutes(mux *http.ServeMux, need func(identity.Permission, http.Handler) http.Handler) {
	h := func(off bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			if rs := s.pipe.rules.Load(); rs == nil || rs.Rule(id) == nil {
				apiError(w, http.StatusNotFound, "not_found", "no loaded rule has id "+id)
				return
			}
			if err := s.setRuleDisabled(r.Context(), id, off); err != nil {
				s.log.Error("changing a rule's state failed", "rule_id", id, "err", err)
				apiError(w, http.StatusInternalServerError, "internal", "could not save the rule's state")
				return
			}
			s.log.Info("rule state changed", "rule_id", id, "disabled", off, "by", actor(r))
			writeJSON(w, http.StatusOK, map[string]any{"id": id, "disabled": off})
		})
	}
	mux.Handle("PUT /api/v1/rules/{id}/disabled", need(identity.PermManageRules, h(true)))
	mux.Handle("DELETE /api/v1/rules/{id}/disabled", need(identity.PermManageRules, h(false)))
}
