package sigma

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/danang-soc/vigil/event"
)

// confirmRules are rules of several conjuncts over fields that get gram
// scanners (many contains values, some short) and tries, so that the
// conjuncts that do not nominate a rule confirm it.
var confirmRules = map[string]string{
	"img_cli": "sel_img:\n    Image|endswith: ['\\curl.exe', '\\wget.exe']\nsel_cli:\n    CommandLine|contains: [' --upload-file ', ' --form-string', 'post-data']\ncondition: all of sel_*",
	"cli_all": "sel:\n    CommandLine|contains|all: ['invoke-webrequest', 'downloadstring']\n    ParentImage|endswith: '\\powershell.exe'\ncondition: sel",
	"nested":  "a:\n    Image|endswith: '\\curl.exe'\nb:\n    CommandLine|contains: ['--data-binary', 'abcdef']\nc:\n    ParentImage|contains: ['\\explorer.exe', '\\winword.exe']\ncondition: a and (b and c)",
	"or_and":  "a:\n    Image|endswith: '\\wget.exe'\nb:\n    CommandLine|contains: 'post-data'\nc:\n    CommandLine|contains: 'downloadstring'\ncondition: a and (b or c)",
	"filter":  "a:\n    Image|endswith: '\\curl.exe'\nb:\n    CommandLine|contains: ' --upload-file '\nf:\n    CommandLine|contains: 'localhost-only'\ncondition: a and b and not f",
	"many":    "sel:\n    CommandLine|contains: ['aaa1', 'bbb2', 'ccc3', 'ddd4', 'eee5', 'a much longer value']\ncondition: sel",
}

func loadConfirmRules(t testing.TB) *Ruleset {
	t.Helper()
	fs := fstest.MapFS{}
	for id, det := range confirmRules {
		fs[id+".yml"] = &fstest.MapFile{Data: []byte("title: " + id + "\nid: " + id + "\nlogsource:\n    product: test\ndetection:\n" + indent(det))}
	}
	rs, errs := Load(Config{}, fs, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return rs
}

// naiveMatch evaluates every rule on e, without the prefilter.
func naiveMatch(rs *Ruleset, e *event.Event) []string {
	c := newEvalCtx(len(rs.dirNames), len(rs.pre.needleRules), rs.pre.nLits, len(rs.slotNames))
	c.reset(e, rs.dir)
	c.keys = rs.slotID
	var ids []string
	for _, r := range rs.rules {
		if r.expr.eval(c) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func matchIDs(rs *Ruleset, e *event.Event) []string {
	var ids []string
	rs.Match(e, func(r *Rule) { ids = append(ids, r.ID) })
	return ids
}

// TestConfirmSets: the conjuncts that do not nominate a rule confirm it
// before it is evaluated, and a rule matches exactly when its expression
// does.
func TestConfirmSets(t *testing.T) {
	rs := loadConfirmRules(t)
	for _, id := range []string{"img_cli", "cli_all", "nested", "filter"} {
		if r := rs.Rule(id); len(r.confirm) == 0 {
			t.Errorf("%s: no confirming needle sets (needles %s)", id, describeNeedles(r.needles, rs.slotNames))
		}
	}
	cases := []struct {
		name string
		e    *event.Event
		want []string
	}{
		{"both conjuncts", ev("Image", `C:\curl.exe`, "CommandLine", "curl --upload-file x"), []string{"filter", "img_cli"}},
		{"image alone", ev("Image", `C:\curl.exe`, "CommandLine", "curl --upload x"), nil},
		{"upper case", ev("Image", `C:\CURL.EXE`, "CommandLine", "CURL --FORM-STRING A"), []string{"img_cli"}},
		{"list value", ev("Image", `C:\wget.exe`, "CommandLine", []string{"x", "--post-data=1"}), []string{"img_cli", "or_and"}},
		{"all literals", ev("CommandLine", "Invoke-WebRequest; DownloadString", "ParentImage", `C:\PowerShell.exe`), []string{"cli_all"}},
		{"one literal", ev("CommandLine", "Invoke-WebRequest", "ParentImage", `C:\PowerShell.exe`), nil},
		{"nested and", ev("Image", `x\curl.exe`, "CommandLine", "--data-binary", "ParentImage", `C:\Explorer.exe`), []string{"nested"}},
		{"nested and, parent missing", ev("Image", `x\curl.exe`, "CommandLine", "--data-binary"), nil},
		{"or inside and", ev("Image", `x\wget.exe`, "CommandLine", "downloadstring"), []string{"or_and"}},
		{"filtered", ev("Image", `x\curl.exe`, "CommandLine", " --upload-file localhost-only"), []string{"img_cli"}},
		{"unfiltered", ev("Image", `x\curl.exe`, "CommandLine", " --upload-file z"), []string{"filter", "img_cli"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := matchIDs(rs, tc.e)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
			if want := naiveMatch(rs, tc.e); !slices.Equal(matchIDs(rs, tc.e), want) {
				t.Errorf("Match differs from evaluating every rule (%v)", want)
			}
		})
	}
}

// confirmTokens are the pieces random events are made of: the rules'
// literals in both cases, and filler.
var confirmTokens = []string{
	`\curl.exe`, `\WGET.EXE`, ` --upload-file `, ` --form-string`, `post-data`, `Invoke-WebRequest`,
	`downloadstring`, `\powershell.exe`, `--data-binary`, `abcdef`, `\explorer.exe`, `\WinWord.exe`,
	`localhost-only`, `aaa1`, `eee5`, `a much longer value`, `x`, ` `, `C:`, `İ`, `K`,
}

// eventFrom builds an event whose fields are concatenations of tokens
// chosen by data.
func eventFrom(data []byte) *event.Event {
	fields := []string{"Image", "CommandLine", "ParentImage"}
	vals := make([]strings.Builder, len(fields))
	for i, b := range data {
		vals[i%len(fields)].WriteString(confirmTokens[int(b)%len(confirmTokens)])
	}
	var kv []any
	for i, f := range fields {
		if vals[i].Len() > 0 {
			kv = append(kv, f, vals[i].String())
		}
	}
	return ev(kv...)
}

// TestConfirmRandom: on random events, Match agrees with evaluating every
// rule.
func TestConfirmRandom(t *testing.T) {
	rs := loadConfirmRules(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		data := make([]byte, rng.IntN(12))
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		e := eventFrom(data)
		if got, want := matchIDs(rs, e), naiveMatch(rs, e); !slices.Equal(got, want) {
			t.Fatalf("%v: Match %v, every rule evaluated %v", e.Fields, got, want)
		}
	}
}

func FuzzConfirm(f *testing.F) {
	rs := loadConfirmRules(f)
	f.Add([]byte{0, 2, 0})
	f.Add([]byte{1, 4, 10, 6, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := eventFrom(data)
		if got, want := matchIDs(rs, e), naiveMatch(rs, e); !slices.Equal(got, want) {
			t.Errorf("%v: Match %v, every rule evaluated %v", e.Fields, got, want)
		}
	})
}
