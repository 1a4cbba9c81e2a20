package sigma

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/danang-soc/vigil/event"
)

// Config configures rule compilation and event routing. The zero value is
// usable: no placeholders, and the built-in log-source mapping.
type Config struct {
	// Placeholders gives the values of %name% placeholders used with the
	// |expand modifier. A rule whose placeholder is not here is rejected.
	Placeholders map[string][]string `yaml:"placeholders"`
	// LogSources maps events that carry no log source to Sigma log
	// sources and renames fields per log source. Nil means
	// DefaultLogSources; an empty, non-nil mapping disables mapping.
	LogSources *LogSourceMapping `yaml:"logsources"`
}

// LogSourceMapping says, for events without a log source, which Sigma log
// source(s) they belong to, from conditions on their fields (like SigmaHQ's
// tests/thor.yml). An event belongs to every entry whose conditions hold;
// a rule then applies when its log source names nothing that differs from
// one of those entries. An event that fits no entry is matched against
// every rule.
type LogSourceMapping struct {
	Sources []SourceMapping `yaml:"sources"`
}

// SourceMapping is one entry of a LogSourceMapping.
type SourceMapping struct {
	Name string `yaml:"name"`
	// When holds conditions on event fields: each key's text must equal one
	// of the listed values (all keys must hold).
	When     map[string]stringList `yaml:"when"`
	Product  string                `yaml:"product"`
	Category string                `yaml:"category"`
	Service  string                `yaml:"service"`
	// Fields renames rule fields for events of this source: rule field ->
	// event field (Image -> NewProcessName for Security 4688).
	Fields map[string]string `yaml:"fields"`
}

// Source returns the entry's log source.
func (s SourceMapping) Source() event.LogSource {
	return event.LogSource{Product: s.Product, Category: s.Category, Service: s.Service}
}

// stringList is a YAML scalar or list of scalars.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = stringList{n.Value}
		return nil
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a scalar", c.Line)
			}
			*l = append(*l, c.Value)
		}
		return nil
	}
	return fmt.Errorf("line %d: want a scalar or a list of scalars", n.Line)
}

//go:embed logsources.yml
var defaultLogSourcesYAML []byte

// defaultIndex is the built-in mapping, parsed and indexed once.
var defaultIndex = sync.OnceValue(func() *sourceIndex { return newSourceIndex(DefaultLogSources()) })

// DefaultLogSources returns the built-in mapping: Windows channels and
// event ids (Sysmon, Security 4688 for process_creation, PowerShell, ...),
// Linux auditd and syslog programs, and vigil's database sources.
func DefaultLogSources() *LogSourceMapping {
	m, err := ParseLogSources(bytes.NewReader(defaultLogSourcesYAML))
	if err != nil {
		panic("sigma: built-in logsources.yml: " + err.Error())
	}
	return m
}

// ParseLogSources decodes a mapping strictly: unknown keys are errors.
func ParseLogSources(r io.Reader) (*LogSourceMapping, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var m LogSourceMapping
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding log-source mapping: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate reports the first invalid entry.
func (m *LogSourceMapping) Validate() error {
	names := map[string]bool{}
	for i, s := range m.Sources {
		where := fmt.Sprintf("log source %d", i)
		if s.Name != "" {
			where = fmt.Sprintf("log source %q", s.Name)
			if names[s.Name] {
				return fmt.Errorf("%s: duplicate name", where)
			}
			names[s.Name] = true
		}
		if len(s.When) == 0 {
			return fmt.Errorf("%s: when: at least one condition is needed", where)
		}
		for k, v := range s.When {
			if k == "" || len(v) == 0 {
				return fmt.Errorf("%s: when: %q needs a field name and at least one value", where, k)
			}
		}
		if s.Source().IsZero() {
			return fmt.Errorf("%s: product, category or service is needed", where)
		}
		for _, part := range []string{s.Product, s.Category, s.Service} {
			if part != strings.ToLower(part) || strings.ContainsAny(part, " \t") {
				return fmt.Errorf("%s: log source names are lower case without spaces (%q)", where, part)
			}
		}
		for k, v := range s.Fields {
			if k == "" || v == "" {
				return fmt.Errorf("%s: fields: empty field name", where)
			}
		}
	}
	return nil
}

// Validate checks the configuration.
func (c Config) Validate() error {
	for k := range c.Placeholders {
		if k == "" || strings.ContainsAny(k, "% ") {
			return fmt.Errorf("placeholder name %q: want a name without %% or spaces", k)
		}
	}
	if c.LogSources != nil {
		if err := c.LogSources.Validate(); err != nil {
			return fmt.Errorf("logsources: %w", err)
		}
	}
	return nil
}
