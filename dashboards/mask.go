package dashboards

import (
	"encoding/json"
	"maps"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/privacy"
)

// maskData returns v with personal data masked (privacy.Mask), for roles
// without identity.PermSeePersonalData. Alerts and incidents are masked
// field by field (ids, times and levels are never personal); anything else
// is masked in every string of its JSON form. v itself is not modified.
func maskData(v any) any {
	switch d := v.(type) {
	case nil:
		return nil
	case event.Alert:
		return maskAlert(d)
	case *event.Alert:
		return maskAlert(*d)
	case []event.Alert:
		out := make([]event.Alert, len(d))
		for i, a := range d {
			out[i] = maskAlert(a)
		}
		return out
	case event.Incident:
		return maskIncident(d)
	case *event.Incident:
		return maskIncident(*d)
	case []event.Incident:
		out := make([]event.Incident, len(d))
		for i, inc := range d {
			out[i] = maskIncident(inc)
		}
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v // Publish reports the encoding error
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return v
	}
	return maskJSON(generic)
}

func maskJSON(v any) any {
	switch d := v.(type) {
	case string:
		return privacy.Mask(d)
	case []any:
		for i := range d {
			d[i] = maskJSON(d[i])
		}
	case map[string]any:
		for k := range d {
			d[k] = maskJSON(d[k])
		}
	}
	return v
}

func maskAlert(a event.Alert) event.Alert {
	a.RuleTitle = privacy.Mask(a.RuleTitle)
	a.Host = privacy.Mask(a.Host)
	a.User = privacy.Mask(a.User)
	a.Database = privacy.Mask(a.Database)
	a.Summary = privacy.Mask(a.Summary)
	if a.Group != nil {
		g := maps.Clone(a.Group)
		for k, v := range g {
			g[k] = privacy.Mask(v)
		}
		a.Group = g
	}
	return a
}

func maskIncident(inc event.Incident) event.Incident {
	inc.Title = privacy.Mask(inc.Title)
	inc.Key = privacy.Mask(inc.Key)
	if inc.Entities != nil {
		e := make([]event.Entity, len(inc.Entities))
		for i, en := range inc.Entities {
			e[i] = event.Entity{Kind: en.Kind, Value: privacy.Mask(en.Value)}
		}
		inc.Entities = e
	}
	return inc
}
