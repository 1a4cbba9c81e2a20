package correlate

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// specRule is the YAML form of a correlation rule, as far as this test
// needs it; the server converts the Sigma parser's own struct instead.
type specRule struct {
	ID          string
	Name        string
	Title       string
	Correlation struct {
		Type     string
		Rules    []string
		GroupBy  []string `yaml:"group-by"`
		Timespan string
		Aliases  map[string]map[string]string
		Generate bool
		// Condition mixes operators and the field.
		Condition map[string]yaml.Node
	}
}

func parseTimespan(s string) (time.Duration, error) {
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || unit == 0 {
		return 0, strconv.ErrSyntax
	}
	return time.Duration(n) * unit, nil
}

func (s *specRule) rule(t *testing.T) Rule {
	t.Helper()
	typ, err := ParseType(s.Correlation.Type)
	if err != nil {
		t.Fatal(err)
	}
	span, err := parseTimespan(s.Correlation.Timespan)
	if err != nil {
		t.Fatalf("timespan %q: %v", s.Correlation.Timespan, err)
	}
	r := Rule{ID: s.ID, Name: s.Name, Title: s.Title, Type: typ, Rules: s.Correlation.Rules, GroupBy: s.Correlation.GroupBy,
		Timespan: span, Aliases: s.Correlation.Aliases, Generate: s.Correlation.Generate}
	if r.ID == "" && r.Name == "" {
		r.Name = s.Title
	}
	for k, v := range s.Correlation.Condition {
		if k == "field" {
			if v.Kind == yaml.SequenceNode {
				v.Decode(&r.Condition.Field)
			} else {
				r.Condition.Field = []string{v.Value}
			}
			continue
		}
		op, err := ParseOp(k)
		if err != nil {
			t.Fatal(err)
		}
		f, err := strconv.ParseFloat(v.Value, 64)
		if err != nil {
			t.Fatal(err)
		}
		r.Condition.Ops = append(r.Condition.Ops, Comparison{op, f})
	}
	return r
}

func corpus(t *testing.T, glob string) []string {
	root := os.Getenv("VIGIL_CORPUS")
	if root == "" {
		_, file, _, _ := runtime.Caller(0)
		root = filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus")
	}
	files, _ := filepath.Glob(filepath.Join(root, glob))
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no %s under %s (set VIGIL_CORPUS)", glob, root)
		}
		t.Skipf("no %s under %s (set VIGIL_CORPUS)", glob, root)
	}
	return files
}

// Every complete correlation rule in the specification's own text (the
// examples of each type, aliases, the chained example) is accepted, each
// code block as one rule set.
func TestSpecificationTextExamplesCompile(t *testing.T) {
	files := corpus(t, "sigma-spec/specification/sigma-correlation-rules-specification.md")
	md, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	blocks, n := bytes.Split(md, []byte("```")), 0
	for i := 1; i < len(blocks); i += 2 {
		block := blocks[i]
		if nl := bytes.IndexByte(block, '\n'); nl >= 0 {
			block = block[nl+1:] // the language tag
		}
		var rules []Rule
		dec := yaml.NewDecoder(bytes.NewReader(block))
		for {
			var s specRule
			err := dec.Decode(&s)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				break // not YAML: a schema or a tree
			}
			if s.Correlation.Type == "" || s.Correlation.Timespan == "" {
				continue // a fragment, or a base rule
			}
			if s.ID == "" && s.Name == "" || s.ID == "—" {
				s.ID, s.Name = "", "example-"+strconv.Itoa(i)
			}
			rules = append(rules, s.rule(t))
		}
		if len(rules) == 0 {
			continue
		}
		n += len(rules)
		if _, err := New(Config{}, rules, nil, nil); err != nil {
			t.Errorf("block %d: New: %v\n%s", i/2, err, block)
		}
	}
	if n < 9 {
		t.Errorf("found %d complete correlation rules in the specification, want at least 9", n)
	}
}

// Every correlation example of the specification's test suite is a rule
// the Engine accepts.
func TestSpecificationExamplesCompile(t *testing.T) {
	files := corpus(t, "sigma-spec/tests/schema/correlation/*.yml")
	types := map[Type]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var s specRule
			if err := yaml.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			r := s.rule(t)
			if _, err := New(Config{}, []Rule{r}, nil, nil); err != nil {
				t.Errorf("New(%+v): %v", r, err)
			}
			types[r.Type] = true
		})
	}
	if len(types) != int(ValuePercentile) {
		t.Errorf("examples cover %d of the %d correlation types", len(types), ValuePercentile)
	}
}
