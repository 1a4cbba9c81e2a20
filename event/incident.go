package event

import (
	"fmt"
	"time"
)

// Status is where an incident is in its lifecycle.
type Status string

const (
	StatusNew           Status = "new"
	StatusAcknowledged  Status = "acknowledged"
	StatusInvestigating Status = "investigating"
	StatusResolved      Status = "resolved"
	StatusFalsePositive Status = "false_positive"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusNew, StatusAcknowledged, StatusInvestigating, StatusResolved, StatusFalsePositive:
		return true
	}
	return false
}

// Open reports whether the incident still needs work.
func (s Status) Open() bool {
	return s == StatusNew || s == StatusAcknowledged || s == StatusInvestigating
}

// ParseStatus parses a status name.
func ParseStatus(v string) (Status, error) {
	s := Status(v)
	if !s.Valid() {
		return "", fmt.Errorf("unknown incident status %q (want new, acknowledged, investigating, resolved or false_positive)", v)
	}
	return s, nil
}

// Entity is something an incident is about.
type Entity struct {
	// Kind is "host", "user", "database" or "source.ip".
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Incident groups alerts about the same entities in time, for an analyst to
// work.
type Incident struct {
	ID       ID     `json:"id"`
	Title    string `json:"title"`
	Severity Level  `json:"severity"`
	Status   Status `json:"status"`
	Assignee string `json:"assignee,omitempty"`
	// Key is the grouping key that new alerts are matched against.
	Key       string    `json:"key"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Entities  []Entity  `json:"entities,omitempty"`
	// Tactics are the ATT&CK tactics seen, in the order they were first seen.
	Tactics    []string `json:"tactics,omitempty"`
	AlertCount int      `json:"alert_count"`
	// System is the asset id of the protected system, when known.
	System string `json:"system,omitempty"`
}
