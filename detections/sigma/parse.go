package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/danang-soc/vigil/event"
)

// compiler holds what the rules of one Ruleset share: the field slots and
// the compiled regular expressions.
type compiler struct {
	cfg   *Config
	slots map[string]int32
	names []string
	res   map[string]*regexp.Regexp
}

func newCompiler(cfg *Config) *compiler {
	return &compiler{cfg: cfg, slots: map[string]int32{}, res: map[string]*regexp.Regexp{}}
}

func (cp *compiler) slot(name string) int32 {
	if s, ok := cp.slots[name]; ok {
		return s
	}
	s := int32(len(cp.names))
	cp.slots[name] = s
	cp.names = append(cp.names, name)
	return s
}

// filterDoc is a parsed Sigma filter (meta-rule adding AND NOT to rules).
type filterDoc struct {
	id, title string
	path      string
	line      int
	logsource event.LogSource
	rules     []string
	expr      node
}

// document is what one YAML document of a rule file holds: exactly one of
// the three.
type document struct {
	rule   *Rule
	filter *filterDoc
	corr   *Correlation
}

// parseFile parses every YAML document of a file. A bad document is
// reported and skipped; the others still load.
func (cp *compiler) parseFile(path string, data []byte) ([]document, []RuleError) {
	var docs []document
	var errs []RuleError
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, RuleError{Path: path, Line: yamlErrLine(err), Err: fmt.Errorf("parsing YAML: %w", err)})
			break // the decoder cannot resynchronise
		}
		if len(root.Content) == 0 {
			continue
		}
		m := root.Content[0]
		if m.Kind == yaml.ScalarNode && m.ShortTag() == "!!null" {
			continue // an empty document
		}
		d, err := cp.parseDocument(path, m)
		if err != nil {
			line := m.Line
			var le *lineError
			if errors.As(err, &le) {
				line = le.line
			}
			errs = append(errs, RuleError{Path: path, Line: line, RuleID: scalarOf(m, "id"), Err: err})
			continue
		}
		docs = append(docs, d)
	}
	return docs, errs
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// scalarOf returns the text of a top-level scalar key, or "".
func scalarOf(m *yaml.Node, key string) string {
	if v := lookup(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

func (cp *compiler) parseDocument(path string, m *yaml.Node) (document, error) {
	if m.Kind != yaml.MappingNode {
		return document{}, errAt(m.Line, "a rule must be a YAML map, not a %s", kindName(m.Kind))
	}
	if dup := duplicateKey(m); dup != nil {
		return document{}, errAt(dup.Line, "duplicate key %q", dup.Value)
	}
	switch {
	case lookup(m, "correlation") != nil:
		c, err := parseCorrelation(path, m)
		return document{corr: c}, err
	case lookup(m, "filter") != nil:
		f, err := cp.parseFilter(path, m)
		return document{filter: f}, err
	}
	r, err := cp.parseRule(path, m)
	return document{rule: r}, err
}

func duplicateKey(m *yaml.Node) *yaml.Node {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i].Value
		if seen[k] {
			return m.Content[i]
		}
		seen[k] = true
	}
	return nil
}

// meta holds the attributes every kind of rule shares.
type meta struct {
	id, name, title, status, description, author string
	level                                        event.Level
	tags, references                             []string
}

var statuses = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}

func parseMeta(m *yaml.Node) (meta, error) {
	var md meta
	var err error
	str := func(key string, dst *string) {
		if err != nil {
			return
		}
		v := lookup(m, key)
		if v == nil {
			return
		}
		if v.Kind != yaml.ScalarNode {
			err = errAt(v.Line, "%s must be a string", key)
			return
		}
		*dst = v.Value
	}
	list := func(key string, dst *[]string) {
		if err != nil {
			return
		}
		v := lookup(m, key)
		if v == nil {
			return
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
			*dst = []string{v.Value}
			return
		}
		if v.Kind != yaml.SequenceNode && v.ShortTag() != "!!null" {
			err = errAt(v.Line, "%s must be a list", key)
			return
		}
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode {
				err = errAt(c.Line, "%s: every item must be a string", key)
				return
			}
			*dst = append(*dst, c.Value)
		}
	}
	str("id", &md.id)
	str("name", &md.name)
	str("title", &md.title)
	str("status", &md.status)
	str("description", &md.description)
	str("author", &md.author)
	list("tags", &md.tags)
	list("references", &md.references)
	if err != nil {
		return md, err
	}
	if strings.TrimSpace(md.title) == "" {
		return md, errAt(m.Line, "title is missing")
	}
	if md.status != "" && !statuses[md.status] {
		return md, errAt(lookup(m, "status").Line, "status %q: want stable, test, experimental, deprecated or unsupported", md.status)
	}
	if v := lookup(m, "level"); v != nil {
		l, lerr := event.ParseLevel(v.Value)
		if v.Kind != yaml.ScalarNode || lerr != nil {
			return md, errAt(v.Line, "level %q: want informational, low, medium, high or critical", v.Value)
		}
		md.level = l
	}
	return md, nil
}

func parseLogSource(m *yaml.Node) (event.LogSource, error) {
	v := lookup(m, "logsource")
	if v == nil {
		return event.LogSource{}, errAt(m.Line, "logsource is missing")
	}
	if v.Kind != yaml.MappingNode {
		return event.LogSource{}, errAt(v.Line, "logsource must be a map")
	}
	var ls event.LogSource
	for _, k := range []string{"product", "category", "service"} {
		x := lookup(v, k)
		if x == nil {
			continue
		}
		if x.Kind != yaml.ScalarNode {
			return ls, errAt(x.Line, "logsource %s must be a string", k)
		}
		s := strings.ToLower(x.Value)
		switch k {
		case "product":
			ls.Product = s
		case "category":
			ls.Category = s
		case "service":
			ls.Service = s
		}
	}
	return ls, nil
}

func (cp *compiler) parseRule(path string, m *yaml.Node) (*Rule, error) {
	md, err := parseMeta(m)
	if err != nil {
		return nil, err
	}
	ls, err := parseLogSource(m)
	if err != nil {
		return nil, err
	}
	det := lookup(m, "detection")
	if det == nil {
		return nil, errAt(m.Line, "detection is missing")
	}
	expr, err := cp.compileDetection(det, "detection")
	if err != nil {
		return nil, err
	}
	return &Rule{
		ID: md.id, Name: md.name, Title: md.title, Status: md.status, Description: md.description,
		Author: md.author, Level: md.level, Tags: md.tags, References: md.references,
		LogSource: ls, Path: path, Line: m.Line, expr: expr,
	}, nil
}

// compileDetection compiles a detection (or filter) map: its search
// identifiers and its condition. skip names keys that are not identifiers.
func (cp *compiler) compileDetection(det *yaml.Node, what string, skip ...string) (node, error) {
	if det.Kind != yaml.MappingNode {
		return nil, errAt(det.Line, "%s must be a map", what)
	}
	searches := map[string]node{}
	var order []string
	var cond *yaml.Node
	for i := 0; i+1 < len(det.Content); i += 2 {
		k, v := det.Content[i], det.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		switch {
		case k.Value == "condition":
			cond = v
			continue
		case k.Value == "timeframe":
			continue // Sigma 1 aggregation window: meaningless without aggregation
		case contains(skip, k.Value):
			continue
		}
		if _, dup := searches[k.Value]; dup {
			return nil, errAt(k.Line, "duplicate search identifier %q", k.Value)
		}
		n, err := cp.compileSearch(v)
		if err != nil {
			return nil, fmt.Errorf("search identifier %s: %w", k.Value, err)
		}
		searches[k.Value] = n
		order = append(order, k.Value)
	}
	if cond == nil {
		return nil, errAt(det.Line, "%s: condition is missing", what)
	}
	var conds []*yaml.Node
	switch cond.Kind {
	case yaml.ScalarNode:
		conds = []*yaml.Node{cond}
	case yaml.SequenceNode:
		conds = cond.Content
	default:
		return nil, errAt(cond.Line, "condition must be a string or a list of strings")
	}
	if len(conds) == 0 {
		return nil, errAt(cond.Line, "condition is empty")
	}
	var alts orNode
	for _, c := range conds {
		if c.Kind != yaml.ScalarNode {
			return nil, errAt(c.Line, "condition must be a string")
		}
		x, err := parseCondition(c.Value)
		if err != nil {
			return nil, errAt(c.Line, "condition: %w", err)
		}
		n, err := resolveCondition(x, searches, order)
		if err != nil {
			return nil, errAt(c.Line, "condition: %w", err)
		}
		alts = append(alts, n)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alts, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// compileSearch compiles one search identifier: a map (AND of its keys), a
// list of maps (OR), or keywords (a list of values, OR).
func (cp *compiler) compileSearch(v *yaml.Node) (node, error) {
	switch v.Kind {
	case yaml.MappingNode:
		return cp.compileMap(v)
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, errAt(v.Line, "empty list")
		}
		var or orNode
		var kw []*yaml.Node
		for _, it := range v.Content {
			if it.Kind == yaml.AliasNode {
				it = it.Alias
			}
			switch it.Kind {
			case yaml.MappingNode:
				n, err := cp.compileMap(it)
				if err != nil {
					return nil, err
				}
				or = append(or, n)
			case yaml.ScalarNode:
				kw = append(kw, it)
			default:
				return nil, errAt(it.Line, "a list item must be a map or a keyword")
			}
		}
		if len(kw) > 0 {
			seq := &yaml.Node{Kind: yaml.SequenceNode, Line: kw[0].Line, Content: kw}
			n, err := cp.compileField("", v.Line, seq)
			if err != nil {
				return nil, err
			}
			or = append(or, n)
		}
		if len(or) == 1 {
			return or[0], nil
		}
		return or, nil
	case yaml.ScalarNode:
		if v.ShortTag() == "!!null" {
			return nil, errAt(v.Line, "empty search identifier")
		}
		return cp.compileField("", v.Line, v)
	}
	return nil, errAt(v.Line, "a search identifier must be a map, a list or a keyword")
}

func (cp *compiler) compileMap(m *yaml.Node) (node, error) {
	if len(m.Content) == 0 {
		return nil, errAt(m.Line, "empty map")
	}
	if dup := duplicateKey(m); dup != nil {
		return nil, errAt(dup.Line, "duplicate key %q", dup.Value)
	}
	var and andNode
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if v.Kind == yaml.MappingNode {
			return nil, errAt(v.Line, "%s: a value cannot be a map", k.Value)
		}
		n, err := cp.compileField(k.Value, k.Line, v)
		if err != nil {
			return nil, err
		}
		and = append(and, n)
	}
	if len(and) == 1 {
		return and[0], nil
	}
	return and, nil
}

func (cp *compiler) parseFilter(path string, m *yaml.Node) (*filterDoc, error) {
	md, err := parseMeta(m)
	if err != nil {
		return nil, err
	}
	ls, err := parseLogSource(m)
	if err != nil {
		return nil, err
	}
	f := lookup(m, "filter")
	if f.Kind != yaml.MappingNode {
		return nil, errAt(f.Line, "filter must be a map")
	}
	refs, err := stringsOf(lookup(f, "rules"), "filter rules")
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, errAt(f.Line, "filter: rules is missing")
	}
	expr, err := cp.compileDetection(f, "filter", "rules")
	if err != nil {
		return nil, err
	}
	return &filterDoc{id: md.id, title: md.title, path: path, line: m.Line, logsource: ls, rules: refs, expr: expr}, nil
}

func stringsOf(v *yaml.Node, what string) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	switch v.Kind {
	case yaml.ScalarNode:
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode || c.Value == "" {
				return nil, errAt(c.Line, "%s: every item must be a non-empty string", what)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, errAt(v.Line, "%s must be a string or a list of strings", what)
}

var correlationTypes = map[string]bool{
	"event_count": true, "value_count": true, "temporal": true, "temporal_ordered": true,
	"value_sum": true, "value_avg": true, "value_percentile": true,
}

var timespanRE = regexp.MustCompile(`^([0-9]+)([smhdwMy])$`)

func parseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want a number and one of s m h d (e.g. 90m)", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q: want a positive number", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "M": 30 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

func parseBool(v *yaml.Node, what string) (bool, error) {
	if v == nil {
		return false, nil
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
		return false, errAt(v.Line, "%s must be true or false", what)
	}
	b, _ := strconv.ParseBool(strings.ToLower(v.Value))
	return b, nil
}

func parseCorrelation(path string, m *yaml.Node) (*Correlation, error) {
	md, err := parseMeta(m)
	if err != nil {
		return nil, err
	}
	c := &Correlation{ID: md.id, Name: md.name, Title: md.title, Status: md.status, Description: md.description,
		Level: md.level, Tags: md.tags, Path: path, Line: m.Line}
	cn := lookup(m, "correlation")
	if cn.Kind != yaml.MappingNode {
		return nil, errAt(cn.Line, "correlation must be a map")
	}
	known := map[string]bool{"type": true, "rules": true, "group-by": true, "timespan": true, "timeframe": true,
		"condition": true, "aliases": true, "generate": true, "field": true}
	for i := 0; i+1 < len(cn.Content); i += 2 {
		if k := cn.Content[i]; !known[k.Value] {
			return nil, errAt(k.Line, "correlation: unknown attribute %q", k.Value)
		}
	}
	t := lookup(cn, "type")
	if t == nil || t.Kind != yaml.ScalarNode {
		return nil, errAt(cn.Line, "correlation: type is missing")
	}
	if !correlationTypes[t.Value] {
		return nil, errAt(t.Line, "correlation: type %q: want event_count, value_count, temporal, temporal_ordered, value_sum, value_avg or value_percentile", t.Value)
	}
	c.Type = t.Value
	if c.Rules, err = stringsOf(lookup(cn, "rules"), "correlation rules"); err != nil {
		return nil, err
	}
	if len(c.Rules) == 0 {
		return nil, errAt(cn.Line, "correlation: rules is missing")
	}
	if c.GroupBy, err = stringsOf(lookup(cn, "group-by"), "correlation group-by"); err != nil {
		return nil, err
	}
	ts := lookup(cn, "timespan")
	if ts == nil {
		ts = lookup(cn, "timeframe") // the name used before Sigma 2.0
	}
	if ts == nil || ts.Kind != yaml.ScalarNode {
		return nil, errAt(cn.Line, "correlation: timespan is missing")
	}
	if c.Timespan, err = parseTimespan(ts.Value); err != nil {
		return nil, errAt(ts.Line, "correlation: %w", err)
	}
	if cond := lookup(cn, "condition"); cond != nil {
		if c.Condition, err = parseCorrCondition(cond); err != nil {
			return nil, err
		}
	}
	if f := lookup(cn, "field"); f != nil && c.Condition.Field == "" && f.Kind == yaml.ScalarNode {
		c.Condition.Field = f.Value
	}
	switch c.Type {
	case "event_count", "value_count", "value_sum", "value_avg", "value_percentile":
		if len(c.Condition.Ops) == 0 {
			return nil, errAt(cn.Line, "correlation: %s needs a condition", c.Type)
		}
	}
	switch c.Type {
	case "value_count", "value_sum", "value_avg", "value_percentile":
		if c.Condition.Field == "" {
			return nil, errAt(cn.Line, "correlation: %s needs condition.field", c.Type)
		}
	case "event_count":
		if c.Condition.Field != "" {
			return nil, errAt(cn.Line, "correlation: event_count takes no condition.field")
		}
	}
	if a := lookup(cn, "aliases"); a != nil {
		if c.Aliases, err = parseAliases(a, c.Rules); err != nil {
			return nil, err
		}
	}
	g1, err := parseBool(lookup(m, "generate"), "generate")
	if err != nil {
		return nil, err
	}
	g2, err := parseBool(lookup(cn, "generate"), "correlation generate")
	if err != nil {
		return nil, err
	}
	c.Generate = g1 || g2
	return c, nil
}

func parseCorrCondition(v *yaml.Node) (Condition, error) {
	var c Condition
	if v.Kind != yaml.MappingNode {
		return c, errAt(v.Line, "correlation condition must be a map such as {gte: 10}")
	}
	if dup := duplicateKey(v); dup != nil {
		return c, errAt(dup.Line, "correlation condition: duplicate %q", dup.Value)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, x := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "field":
			if x.Kind != yaml.ScalarNode || x.Value == "" {
				return c, errAt(x.Line, "correlation condition field must be a field name")
			}
			c.Field = x.Value
		case "gt", "gte", "lt", "lte", "eq", "neq":
			f, err := strconv.ParseFloat(x.Value, 64)
			if x.Kind != yaml.ScalarNode || err != nil {
				return c, errAt(x.Line, "correlation condition %s: %q is not a number", k.Value, x.Value)
			}
			c.Ops = append(c.Ops, Comparison{Op: k.Value, Value: f})
		default:
			return c, errAt(k.Line, "correlation condition: unknown operator %q (want gt, gte, lt, lte, eq, neq)", k.Value)
		}
	}
	if len(c.Ops) == 0 {
		return c, errAt(v.Line, "correlation condition: no comparison")
	}
	if len(c.Ops) > 1 {
		// Only a range is meaningful: one lower and one upper bound.
		var lower, upper int
		for _, o := range c.Ops {
			switch o.Op {
			case "gt", "gte":
				lower++
			case "lt", "lte":
				upper++
			default:
				return c, errAt(v.Line, "correlation condition: %s cannot be combined with another comparison", o.Op)
			}
		}
		if lower != 1 || upper != 1 {
			return c, errAt(v.Line, "correlation condition: a range needs one of gt/gte and one of lt/lte")
		}
	}
	return c, nil
}

func parseAliases(a *yaml.Node, rules []string) (map[string]map[string]string, error) {
	if a.Kind != yaml.MappingNode {
		return nil, errAt(a.Line, "correlation aliases must be a map")
	}
	out := map[string]map[string]string{}
	for i := 0; i+1 < len(a.Content); i += 2 {
		k, v := a.Content[i], a.Content[i+1]
		if v.Kind != yaml.MappingNode {
			return nil, errAt(v.Line, "correlation alias %s must map rule names to fields", k.Value)
		}
		m := map[string]string{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			rk, rv := v.Content[j], v.Content[j+1]
			if rv.Kind != yaml.ScalarNode || rv.Value == "" {
				return nil, errAt(rv.Line, "correlation alias %s: %s must name a field", k.Value, rk.Value)
			}
			if !contains(rules, rk.Value) {
				return nil, errAt(rk.Line, "correlation alias %s: %q is not one of the correlation's rules", k.Value, rk.Value)
			}
			m[rk.Value] = rv.Value
		}
		out[k.Value] = m
	}
	return out, nil
}
