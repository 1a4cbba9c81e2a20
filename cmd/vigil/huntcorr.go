package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/danang-soc/vigil/correlate"
	"github.com/danang-soc/vigil/detections/sigma"
	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/server"
)

// huntLateness lets a hunt correlate events in any order: sample logs are
// often concatenated or out of order.
const huntLateness = 100 * 365 * 24 * time.Hour

// eventRef says where an event of the hunt came from.
type eventRef struct {
	input string
	index int
}

// startCorrelation prepares the correlation engine for the ruleset's
// correlation rules, if it has any.
func (h *hunter) startCorrelation() error {
	crules, errs := server.CorrelationRules(h.rs)
	for _, err := range errs {
		return fmt.Errorf("correlation rule: %w", err)
	}
	if len(crules) == 0 {
		return nil
	}
	eng, err := correlate.New(correlate.Config{Lateness: huntLateness}, crules, slog.New(slog.DiscardHandler), func() time.Time { return h.now })
	if err != nil {
		return err
	}
	h.corr = eng
	h.refs = map[event.ID]eventRef{}
	return nil
}

// correlate feeds a base-rule match to the correlation engine.
func (h *hunter) correlate(input string, index int, e *event.Event, r *sigma.Rule) {
	if h.corr == nil {
		return
	}
	refs := r.Refs()
	if !h.corr.References(refs...) {
		return
	}
	h.refs[e.ID] = eventRef{input, index}
	_ = h.corr.Observe(refs, e, h.writeCorrelation) // nothing is late with huntLateness
}

func (h *hunter) flushCorrelation() {
	if h.corr != nil {
		h.corr.Flush(h.writeCorrelation)
	}
}

// writeCorrelation prints a correlation alert with the events it joins:
// {"rule_id","rule_title","level","events":[{"input","event_index","event_id"}]}.
func (h *hunter) writeCorrelation(a event.Alert) {
	h.correlated++
	b := h.line[:0]
	if h.json {
		b = append(b, `{"rule_id":`...)
		b = event.AppendString(b, a.RuleID)
		b = append(b, `,"rule_title":`...)
		b = event.AppendString(b, a.RuleTitle)
		b = append(b, `,"level":`...)
		b = event.AppendString(b, levelName(a.Level))
		b = append(b, `,"events":[`...)
		for i, id := range a.EventIDs {
			if i > 0 {
				b = append(b, ',')
			}
			ref := h.refs[id]
			b = append(b, `{"input":`...)
			b = event.AppendString(b, ref.input)
			b = fmt.Appendf(b, `,"event_index":%d,"event_id":`, ref.index)
			b = event.AppendString(b, id.String())
			b = append(b, '}')
		}
		b = append(b, "]}\n"...)
	} else {
		b = fmt.Appendf(b, "%-13s %s (%s)  correlation of %d events:", levelName(a.Level), a.RuleTitle, a.RuleID, len(a.EventIDs))
		for _, id := range a.EventIDs {
			ref := h.refs[id]
			b = fmt.Appendf(b, " %s#%d", ref.input, ref.index)
		}
		b = append(b, '\n')
	}
	h.line = b
	h.out.Write(b)
}
