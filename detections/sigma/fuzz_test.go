package sigma

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/danang-soc/vigil/event"
)

// FuzzParseCondition: any condition text parses or fails with an error,
// never a panic; what parses prints back to something that parses again.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"selection", "selection and not filter", "1 of selection_* and not 1 of filter_*",
		"all of them", "(a or b) and not (c and d)", "not not a", "a | count() > 5",
		"1 of them and all of sel*", "2 of x*", "((((a))))", "a and", "(a", "a)", "of them",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseCondition(s)
		if err != nil {
			return
		}
		if _, err := parseCondition(x.String()); err != nil {
			t.Errorf("%q parsed to %s, which does not parse: %v", s, x, err)
		}
	})
}

// FuzzLoad: any document is loaded or rejected with a RuleError, never a
// panic, and a loaded rule can be matched. Seeded with SigmaHQ rules.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(ruleRar))
	f.Add([]byte(correlationSpec))
	f.Add([]byte(filterAdmin))
	f.Add([]byte("title: t\nlogsource: {product: x}\ndetection:\n  k:\n    '|all': [a, b]\n  s:\n    F|base64offset|contains: x\n  condition: k or s\n"))
	root := os.Getenv("VIGIL_CORPUS")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	seeds, _ := filepath.Glob(filepath.Join(root, "sigma", "rules", "windows", "process_creation", "proc_creation_win_a*.yml"))
	for i, p := range seeds {
		if i >= 30 {
			break
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	e := &event.Event{Fields: event.Fields{
		{Key: "Image", Value: event.String(`C:\Windows\System32\cmd.exe`)},
		{Key: "CommandLine", Value: event.String(`cmd /c whoami`)},
		{Key: "EventID", Value: event.Int(1)},
		{Key: "Tags", Value: event.Strings("a", "B")},
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, errs := Load(Config{Placeholders: map[string][]string{"x": {"y"}}}, fstest.MapFS{"f.yml": {Data: data}}, ".")
		for _, err := range errs {
			if err.Error() == "" {
				t.Error("empty error message")
			}
		}
		rs.Match(e, func(*Rule) {})
	})
}

// FuzzParseLogSources: a mapping decodes or fails with an error, and what
// decodes validates. Seeded with the built-in mapping.
func FuzzParseLogSources(f *testing.F) {
	f.Add(defaultLogSourcesYAML)
	f.Add([]byte("sources:\n  - name: x\n    when: {Channel: [a, b]}\n    product: windows\n    fields: {Image: NewProcessName}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseLogSources(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Errorf("ParseLogSources accepted a mapping that does not validate: %v", err)
		}
		newSourceIndex(m)
	})
}
