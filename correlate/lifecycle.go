package correlate

import (
	"errors"
	"fmt"
	"time"

	"github.com/danang-soc/vigil/event"
)

// ErrTransition is matched (errors.Is) by Transition's errors.
var ErrTransition = errors.New("incident status change not allowed")

// transitions is the incident lifecycle: work moves forward from new to a
// verdict; a verdict (resolved, false positive) is reopened by going back
// to investigating, so that the history shows who reopened it.
var transitions = map[event.Status][]event.Status{
	event.StatusNew:           {event.StatusAcknowledged, event.StatusInvestigating, event.StatusResolved, event.StatusFalsePositive},
	event.StatusAcknowledged:  {event.StatusInvestigating, event.StatusResolved, event.StatusFalsePositive},
	event.StatusInvestigating: {event.StatusResolved, event.StatusFalsePositive},
	event.StatusResolved:      {event.StatusInvestigating},
	event.StatusFalsePositive: {event.StatusInvestigating},
}

// Transition reports whether an incident may go from status from to
// status to: nil, or an error matching ErrTransition that says which moves
// are allowed.
func Transition(from, to event.Status) error {
	if !from.Valid() || !to.Valid() {
		return fmt.Errorf("%w: from %q to %q: unknown status", ErrTransition, from, to)
	}
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("%w: from %s to %s (from %s: %v)", ErrTransition, from, to, from, transitions[from])
}

// Change is one entry of an incident's history: who changed which field
// from what to what, and when. The store keeps them; notes are changes of
// the field "note" with the text in To.
type Change struct {
	Incident event.ID  `json:"incident"`
	Who      string    `json:"who"`
	When     time.Time `json:"when"`
	Field    string    `json:"field"`
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
}

// Update is an analyst's change to an incident; nil fields are left as
// they are.
type Update struct {
	Status   *event.Status `json:"status,omitempty"`
	Assignee *string       `json:"assignee,omitempty"`
	Severity *event.Level  `json:"severity,omitempty"`
	Title    *string       `json:"title,omitempty"`
}

// Apply applies u to inc on behalf of who at when, checking the status
// transition, and returns the changes to record. On error inc is unchanged.
func Apply(inc *event.Incident, u Update, who string, when time.Time) ([]Change, error) {
	next := *inc
	var changes []Change
	add := func(field, from, to string) {
		if from != to {
			changes = append(changes, Change{Incident: inc.ID, Who: who, When: when, Field: field, From: from, To: to})
		}
	}
	if u.Status != nil && *u.Status != inc.Status {
		if err := Transition(inc.Status, *u.Status); err != nil {
			return nil, err
		}
		next.Status = *u.Status
		add("status", string(inc.Status), string(next.Status))
	}
	if u.Assignee != nil {
		next.Assignee = *u.Assignee
		add("assignee", inc.Assignee, next.Assignee)
	}
	if u.Severity != nil {
		if *u.Severity < event.LevelInformational || *u.Severity > event.LevelCritical {
			return nil, fmt.Errorf("updating incident %s: unknown severity %v", inc.ID, *u.Severity)
		}
		next.Severity = *u.Severity
		add("severity", inc.Severity.String(), next.Severity.String())
	}
	if u.Title != nil {
		if *u.Title == "" {
			return nil, fmt.Errorf("updating incident %s: empty title", inc.ID)
		}
		next.Title = *u.Title
		add("title", inc.Title, next.Title)
	}
	if len(changes) > 0 {
		next.Updated = when
	}
	*inc = next
	return changes, nil
}
