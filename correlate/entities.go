package correlate

import (
	"fmt"
	"strings"

	"github.com/danang-soc/vigil/event"
)

// Fields that name the entities of an alert, in order of preference (ECS,
// OpenTelemetry database conventions, then common log field names).
var (
	hostFields     = []string{"host.name", "ComputerName", "Computer", "hostname"}
	userFields     = []string{"user.name", "db.user", "TargetUserName", "User", "user", "SubjectUserName"}
	databaseFields = []string{"db.name", "db.namespace", "database"}
	sourceIPFields = []string{"source.ip", "client.ip", "IpAddress", "src_ip", "SourceIP"}
)

func firstOf(get func(string) (string, bool), names []string) string {
	for _, n := range names {
		if v, ok := get(n); ok && v != "" && v != "-" {
			return v
		}
	}
	return ""
}

// fillEntities sets the alert's entities from the event or alert that
// completed it, the chained alerts in it, and its group-by values.
func fillEntities(a *event.Alert, o *obs, sub []*event.Alert) {
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	if o != nil && o.ev != nil {
		set(&a.Host, firstOf(o.get, hostFields))
		set(&a.User, firstOf(o.get, userFields))
		set(&a.Database, firstOf(o.get, databaseFields))
		set(&a.SourceIP, firstOf(o.get, sourceIPFields))
	}
	if o != nil && o.alert != nil {
		sub = append([]*event.Alert{o.alert}, sub...)
	}
	for _, s := range sub {
		set(&a.Host, s.Host)
		set(&a.User, s.User)
		set(&a.Database, s.Database)
		set(&a.SourceIP, s.SourceIP)
	}
	get := func(k string) (string, bool) { v, ok := a.Group[k]; return v, ok }
	set(&a.Host, firstOf(get, hostFields))
	set(&a.User, firstOf(get, userFields))
	set(&a.Database, firstOf(get, databaseFields))
	set(&a.SourceIP, firstOf(get, sourceIPFields))
}

func countText(r *compiled, win []entry) string {
	switch r.Type {
	case EventCount:
		return fmt.Sprintf("%d events", len(win))
	case ValueCount:
		return fmt.Sprintf("%d distinct %s", distinct(win), strings.Join(r.Condition.Field, ","))
	case Temporal, TemporalOrdered:
		return fmt.Sprintf("%d of %d rules", int(r.measure(win)), len(r.Rules))
	case ValueSum, ValueAvg:
		return fmt.Sprintf("%s of %s %g over %d events", strings.TrimPrefix(r.Type.String(), "value_"), r.Condition.Field[0], r.measure(win), len(win))
	case ValuePercentile:
		if r.Condition.Percentile > 0 {
			return fmt.Sprintf("p%g of %s %g over %d events", r.Condition.Percentile, r.Condition.Field[0], r.measure(win), len(win))
		}
		return fmt.Sprintf("%d events with a rare %s", len(win), r.Condition.Field[0])
	}
	return ""
}

func groupText(groupBy []string, g map[string]string) string {
	if len(g) == 0 {
		return ""
	}
	parts := make([]string, 0, len(g))
	for _, k := range groupBy {
		parts = append(parts, k+"="+g[k])
	}
	return " for " + strings.Join(parts, " ")
}

// due is the time at which a key's window closes.
type due struct {
	at  int64
	key string
}

// dueHeap is a min-heap of window closings (container/heap).
type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
