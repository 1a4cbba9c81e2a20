package sigma

import (
	"errors"
	"fmt"
	"time"

	"github.com/danang-soc/vigil/event"
)

// Rule is one compiled Sigma detection rule. The exported fields are its
// metadata; the compiled matcher is private. A Rule is immutable.
type Rule struct {
	ID          string
	Name        string // the optional unique name correlation rules refer to
	Title       string
	Status      string
	Description string
	Author      string
	Level       event.Level
	Tags        []string
	References  []string
	LogSource   event.LogSource
	// Path and Line locate the rule's YAML document.
	Path string
	Line int
	// Filters lists the titles (or ids) of the filters applied to the rule.
	Filters []string
	// CorrelationOnly is set when a correlation rule refers to this rule
	// without `generate: true`: its matches feed the correlation but should
	// not raise alerts of their own. Match still reports it.
	CorrelationOnly bool

	index int  // position in the Ruleset
	expr  node // the compiled detection with its filters
	// needles are the prefilter alternatives: when not nil, the rule can
	// match only if one of these literals occurs in its field.
	needles []needle
	// confirm holds the needle sets of the rule's other conjuncts (see
	// planner.confirmOf), as global needle ids: a candidate is evaluated
	// only when every set has a needle in the event.
	confirm [][]int32
}

// Refs are the references by which correlation rules may name the rule:
// its id, and its name when it has one.
func (r *Rule) Refs() []string {
	if r.Name != "" && r.Name != r.ID {
		return []string{r.ID, r.Name}
	}
	return []string{r.ID}
}

// Filter is a Sigma filter (meta-rule) that was applied: it adds AND NOT
// its condition to every rule in Rules.
type Filter struct {
	ID, Title string
	Rules     []string // ids or names, as written
	LogSource event.LogSource
	Path      string
	Line      int
}

// Correlation is a parsed, validated Sigma correlation rule. Evaluating it
// over time is package correlate's job.
type Correlation struct {
	ID          string
	Name        string
	Title       string
	Status      string
	Description string
	Level       event.Level
	Tags        []string
	Path        string
	Line        int

	// Type is event_count, value_count, temporal, temporal_ordered,
	// value_sum, value_avg or value_percentile.
	Type string
	// Rules are the referred rules or correlations, by id or name, as
	// written.
	Rules []string
	// RuleIDs are Rules resolved to ids where the ruleset knows them (the
	// reference itself otherwise).
	RuleIDs []string
	GroupBy []string
	// Timespan is the window within which the correlation applies.
	Timespan time.Duration
	// Condition is the threshold (absent for temporal types without one).
	Condition Condition
	// Aliases maps alias name -> rule name -> field name.
	Aliases map[string]map[string]string
	// Generate asks for the referred rules to also raise their own alerts.
	Generate bool
}

// Condition is a correlation threshold: every comparison set must hold
// (gt 100 and lte 200 is a range). Field is the aggregated field of the
// value_* types.
type Condition struct {
	Field string
	Ops   []Comparison
}

// Comparison is one operator and threshold: gt, gte, lt, lte, eq or neq.
type Comparison struct {
	Op    string
	Value float64
}

// Holds reports whether n satisfies every comparison.
func (c Condition) Holds(n float64) bool {
	for _, o := range c.Ops {
		var ok bool
		switch o.Op {
		case "gt":
			ok = n > o.Value
		case "gte":
			ok = n >= o.Value
		case "lt":
			ok = n < o.Value
		case "lte":
			ok = n <= o.Value
		case "eq":
			ok = n == o.Value
		case "neq":
			ok = n != o.Value
		}
		if !ok {
			return false
		}
	}
	return true
}

// RuleError is why one rule (or one YAML document) was rejected.
type RuleError struct {
	Path   string
	Line   int
	RuleID string
	Err    error
}

func (e RuleError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e RuleError) Unwrap() error { return e.Err }

// ErrPlaceholder is wrapped by the error of a rule whose placeholder the
// configuration does not resolve.
var ErrPlaceholder = errors.New("unresolved placeholder")

// lineError is an error at a line of the document being parsed.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

func errAt(line int, format string, args ...any) error {
	return &lineError{line: line, err: fmt.Errorf(format, args...)}
}
