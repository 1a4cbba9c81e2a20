package correlate

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Suppression silences matching alerts until a time, without editing
// rules: an analyst's answer to a known noisy source.
type Suppression struct {
	// ID is assigned by AddSuppression when empty.
	ID string `json:"id"`
	// Rule is the rule id (an alert's RuleID) to silence; empty: any rule.
	Rule string `json:"rule,omitempty"`
	// Fields must all equal the alert's: the entity kinds "host", "user",
	// "database" and "source.ip", or any group-by field of a correlation
	// alert (e.g. "User").
	Fields map[string]string `json:"fields,omitempty"`
	// Until is when the suppression ends; when it is zero, For from now.
	Until   time.Time     `json:"until"`
	For     time.Duration `json:"for,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Author  string        `json:"author,omitempty"`
	Created time.Time     `json:"created"`
	// Hits counts the alerts it has silenced.
	Hits uint64 `json:"hits"`
}

// ErrSuppression is matched (errors.Is) by AddSuppression's errors.
var ErrSuppression = errors.New("invalid suppression")

func (s *Suppression) matches(a *event.Alert) bool {
	if s.Rule != "" && s.Rule != a.RuleID {
		return false
	}
	for k, v := range s.Fields {
		var got string
		switch k {
		case KindHost:
			got = a.Host
		case KindUser:
			got = a.User
		case KindDatabase:
			got = a.Database
		case KindSourceIP:
			got = a.SourceIP
		default:
			got = a.Group[k]
		}
		if got != v {
			return false
		}
	}
	return true
}

// AddSuppression puts s in force and returns it as stored (with its ID and
// creation time). A suppression needs a rule or at least one field (no
// blanket silence) and an end in the future; an ID already in force is
// replaced. The server stores suppressions and adds them again on start:
// a given Created and Hits are kept.
func (g *Grouper) AddSuppression(s Suppression) (Suppression, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if s.Until.IsZero() && s.For > 0 {
		s.Until, s.For = now.Add(s.For), 0
	}
	switch {
	case s.Rule == "" && len(s.Fields) == 0:
		return Suppression{}, fmt.Errorf("%w: it needs a rule or a field, not everything", ErrSuppression)
	case !s.Until.After(now):
		return Suppression{}, fmt.Errorf("%w: it ends at %s, which is not in the future", ErrSuppression, s.Until.Format(time.RFC3339))
	}
	for k, v := range s.Fields {
		if k == "" || v == "" {
			return Suppression{}, fmt.Errorf("%w: field %q=%q: empty name or value", ErrSuppression, k, v)
		}
	}
	g.expireSuppressions(now)
	if s.ID == "" {
		s.ID = event.NewID(now).String()
	}
	if s.Created.IsZero() {
		s.Created = now
	}
	s.Fields = cloneMap(s.Fields)
	g.sups = slices.DeleteFunc(g.sups, func(x *suppression) bool { return x.ID == s.ID })
	if len(g.sups) >= g.cfg.MaxSuppressions {
		return Suppression{}, fmt.Errorf("%w: %d suppressions are already in force", ErrSuppression, len(g.sups))
	}
	g.sups = append(g.sups, &suppression{s})
	return s, nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// RemoveSuppression lifts a suppression; false if none had that id.
func (g *Grouper) RemoveSuppression(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.sups)
	g.sups = slices.DeleteFunc(g.sups, func(x *suppression) bool { return x.ID == id })
	return len(g.sups) < n
}

// Suppressions returns the suppressions in force, oldest first.
func (g *Grouper) Suppressions() []Suppression {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireSuppressions(g.now())
	out := make([]Suppression, len(g.sups))
	for i, s := range g.sups {
		out[i] = s.Suppression
		out[i].Fields = cloneMap(s.Fields)
	}
	return out
}

func (g *Grouper) expireSuppressions(now time.Time) {
	g.sups = slices.DeleteFunc(g.sups, func(x *suppression) bool { return !x.Until.After(now) })
}

func (g *Grouper) suppressedBy(a *event.Alert, now time.Time) *suppression {
	for _, s := range g.sups {
		if s.Until.After(now) && s.matches(a) {
			return s
		}
	}
	return nil
}
