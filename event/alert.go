package event

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// Level is the severity of a rule, an alert or an incident, in Sigma's
// terms. Higher is more severe.
type Level uint8

const (
	LevelInformational Level = iota + 1
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

var levelNames = [...]string{"", "informational", "low", "medium", "high", "critical"}

func (l Level) String() string {
	if int(l) < len(levelNames) && l > 0 {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// ParseLevel parses a Sigma level name (case-insensitive).
func ParseLevel(s string) (Level, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, n := range levelNames {
		if i > 0 && n == s {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown level %q (want informational, low, medium, high or critical)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Alert is raised when a rule matches: one event for a detection rule, a
// set of events for a correlation rule.
type Alert struct {
	// ID is derived from the rule and the events (see AlertID) so that
	// reprocessing the same events never makes a second alert.
	ID        ID     `json:"id"`
	RuleID    string `json:"rule_id"`
	RuleTitle string `json:"rule_title"`
	Level     Level  `json:"level"`
	// Engine names what raised it: "sigma", "correlation", "yara".
	Engine string `json:"engine"`
	// Time is the time of the (last) matching event; Created when raised.
	Time    time.Time `json:"time"`
	Created time.Time `json:"created"`
	// Tags are the rule's tags, e.g. "attack.t1110", "attack.credential-access".
	Tags []string `json:"tags,omitempty"`
	// EventIDs are the matching events, oldest first.
	EventIDs []ID `json:"event_ids"`
	// Host, User, Database and SourceIP are the entities of the alert,
	// taken from the event fields, for grouping into incidents.
	Host     string `json:"host,omitempty"`
	User     string `json:"user,omitempty"`
	Database string `json:"database,omitempty"`
	SourceIP string `json:"source_ip,omitempty"`
	// Group holds correlation group-by values.
	Group map[string]string `json:"group,omitempty"`
	// Summary is a one-line human description.
	Summary string `json:"summary,omitempty"`
}

// DeriveID returns a deterministic ID for the alert of rule over events:
// the time part is the last event's, the rest a hash of the rule and the
// events, so that reprocessing the same events yields the same alert ID.
func DeriveID(ruleID string, events []ID) ID {
	h := sha256.New()
	h.Write([]byte(ruleID))
	var last ID
	for _, id := range events {
		h.Write(id[:])
		if string(id[:6]) > string(last[:6]) {
			last = id
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	var id ID
	copy(id[:6], last[:6])
	copy(id[6:], sum[:10])
	return id
}

// AlertSink accepts alerts.
type AlertSink interface {
	WriteAlerts(ctx context.Context, alerts []Alert) error
}
