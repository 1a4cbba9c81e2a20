package correlate

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Type is a Sigma correlation type.
type Type uint8

const (
	EventCount Type = iota + 1
	ValueCount
	Temporal
	TemporalOrdered
	ValueSum
	ValueAvg
	ValuePercentile
)

var typeNames = [...]string{"", "event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg", "value_percentile"}

func (t Type) String() string {
	if int(t) < len(typeNames) && t > 0 {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType parses a Sigma correlation type name.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("unknown correlation type %q", s)
}

// Op is a comparison operator of a correlation condition.
type Op uint8

const (
	GT Op = iota + 1
	GTE
	LT
	LTE
	EQ
	NEQ
)

var opNames = [...]string{"", "gt", "gte", "lt", "lte", "eq", "neq"}

func (o Op) String() string {
	if int(o) < len(opNames) && o > 0 {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// ParseOp parses a condition operator name (gt, gte, lt, lte, eq, neq).
func ParseOp(s string) (Op, error) {
	for i, n := range opNames {
		if i > 0 && n == s {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("unknown condition operator %q (want gt, gte, lt, lte, eq or neq)", s)
}

// Comparison is one criterion of a condition, e.g. {GTE, 100}.
type Comparison struct {
	Op    Op
	Value float64
}

func (c Comparison) holds(x float64) bool {
	switch c.Op {
	case GT:
		return x > c.Value
	case GTE:
		return x >= c.Value
	case LT:
		return x < c.Value
	case LTE:
		return x <= c.Value
	case EQ:
		return x == c.Value
	case NEQ:
		return x != c.Value
	}
	return false
}

// Condition says when a correlation matches: every comparison must hold
// (one alone, or several as a range such as gt 100 and lte 200).
type Condition struct {
	Ops []Comparison
	// Field names the field (or alias) a value_* correlation aggregates.
	// value_count accepts several: their combined values are counted.
	Field []string
	// Percentile, for value_percentile, is the percentile (0 < p <= 100)
	// of Field's numeric values that the comparisons apply to. When it is
	// zero, value_percentile has the meaning of the specification's
	// example: an event matches when its Field value makes up a share of
	// the group's events in the window (in percent) that satisfies the
	// comparisons, i.e. "lte: 1" finds values seen in at most 1% of events.
	Percentile float64
}

// Holds reports whether x satisfies every comparison.
func (c Condition) Holds(x float64) bool {
	for _, cmp := range c.Ops {
		if !cmp.holds(x) {
			return false
		}
	}
	return true
}

// upperBounded reports whether the condition can turn false as the count
// grows, so that it can only be judged once the window has closed.
func (c Condition) upperBounded() bool {
	for _, cmp := range c.Ops {
		switch cmp.Op {
		case LT, LTE, EQ, NEQ:
			return true
		}
	}
	return false
}

// lowerBound returns the smallest integer count that satisfies the lower
// bounds (gt n → n+1, gte n → n), or 1 when there is none.
func (c Condition) lowerBound() int {
	n := 1
	for _, cmp := range c.Ops {
		var m int
		switch cmp.Op {
		case GT:
			m = int(math.Floor(cmp.Value)) + 1
		case GTE:
			m = int(math.Ceil(cmp.Value))
		default:
			continue
		}
		n = max(n, m)
	}
	return n
}

func (c Condition) String() string {
	var b strings.Builder
	for i, cmp := range c.Ops {
		if i > 0 {
			b.WriteString(" and ")
		}
		b.WriteString(cmp.Op.String())
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(cmp.Value, 'g', -1, 64))
	}
	return b.String()
}

// Rule is the evaluated form of a Sigma correlation rule.
type Rule struct {
	// ID and Name identify the rule; alerts carry ID (Name when ID is
	// empty), and other correlations may reference either (chains).
	ID    string
	Name  string
	Title string
	Level event.Level
	Tags  []string
	Type  Type
	// Rules are the referenced rules' ids or names, in order for
	// temporal_ordered. A reference may name another correlation.
	Rules []string
	// GroupBy are the fields (or aliases) whose values must be equal for
	// events to be correlated. Empty means one group for all events.
	GroupBy  []string
	Timespan time.Duration
	// Condition is required for event_count, value_count and the value_*
	// metrics; for temporal types it applies to the number of distinct
	// referenced rules seen and defaults to all of them.
	Condition Condition
	// Aliases maps an alias to, per referenced rule (as written in Rules),
	// the field that holds its value in that rule's events.
	Aliases map[string]map[string]string
	// Generate keeps the referenced rules' own alerts (see
	// Engine.Generates); by default only the correlation's alert is raised.
	Generate bool
}

// Ref returns the identifier that alerts of the rule carry: ID, or Name.
func (r *Rule) Ref() string {
	if r.ID != "" {
		return r.ID
	}
	return r.Name
}

// Validate checks that the rule can be evaluated.
func (r *Rule) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.ID == "" && r.Name == "" {
		bad("rule has neither id nor name")
	}
	if r.Type < EventCount || r.Type > ValuePercentile {
		bad("unknown correlation type %v", r.Type)
	}
	if len(r.Rules) == 0 {
		bad("rules: none referenced")
	}
	if len(r.Rules) > 64 {
		bad("rules: %d referenced, at most 64 are supported", len(r.Rules))
	}
	seen := map[string]bool{}
	for _, ref := range r.Rules {
		if ref == "" {
			bad("rules: empty reference")
		}
		if seen[ref] {
			bad("rules: %q referenced twice", ref)
		}
		seen[ref] = true
		if ref == r.ID || ref == r.Name {
			bad("rules: %q references the rule itself", ref)
		}
	}
	if r.Timespan <= 0 {
		bad("timespan must be positive, got %v", r.Timespan)
	}
	for _, cmp := range r.Condition.Ops {
		if cmp.Op < GT || cmp.Op > NEQ {
			bad("condition: unknown operator %v", cmp.Op)
		}
		if math.IsNaN(cmp.Value) || math.IsInf(cmp.Value, 0) {
			bad("condition: %v needs a finite number", cmp.Op)
		}
	}
	switch r.Type {
	case EventCount, ValueCount, ValueSum, ValueAvg, ValuePercentile:
		if len(r.Condition.Ops) == 0 {
			bad("condition: %v needs a comparison", r.Type)
		}
	}
	switch r.Type {
	case ValueCount, ValueSum, ValueAvg, ValuePercentile:
		if len(r.Condition.Field) == 0 {
			bad("condition: %v needs a field", r.Type)
		}
		if r.Type != ValueCount && len(r.Condition.Field) > 1 {
			bad("condition: %v takes one field, got %d", r.Type, len(r.Condition.Field))
		}
	default:
		if len(r.Condition.Field) > 0 {
			bad("condition: %v takes no field", r.Type)
		}
	}
	if p := r.Condition.Percentile; p != 0 && (r.Type != ValuePercentile || p < 0 || p > 100 || math.IsNaN(p)) {
		bad("condition: percentile %v is only for value_percentile, in (0, 100]", p)
	}
	for alias, per := range r.Aliases {
		if alias == "" {
			bad("aliases: empty alias name")
		}
		for ref, field := range per {
			if !seen[ref] {
				bad("aliases: %s: %q is not one of the referenced rules", alias, ref)
			}
			if field == "" {
				bad("aliases: %s: empty field for %q", alias, ref)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("correlation rule %s: %w", r.Ref(), err)
	}
	return nil
}

// fieldFor resolves a group-by or condition field for the referenced rule
// at index i: its alias mapping when there is one, else the name itself.
func (r *Rule) fieldFor(name string, i int) string {
	if per, ok := r.Aliases[name]; ok {
		if f, ok := per[r.Rules[i]]; ok {
			return f
		}
	}
	return name
}
