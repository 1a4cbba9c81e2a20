package sigma

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/danang-soc/vigil/event"
)

// compileOne compiles one rule with the given detection section.
func compileOne(t *testing.T, cfg Config, detection string) (*Ruleset, []RuleError) {
	t.Helper()
	src := "title: test\nid: r1\nlogsource:\n    product: test\ndetection:\n" + indent(detection)
	return Load(cfg, fstest.MapFS{"r.yml": {Data: []byte(src)}}, ".")
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func mustCompile(t *testing.T, detection string) *Ruleset {
	t.Helper()
	rs, errs := compileOne(t, Config{}, detection)
	if len(errs) > 0 {
		t.Fatalf("compiling %q: %v", detection, errs)
	}
	return rs
}

func matches(rs *Ruleset, e *event.Event) bool {
	hit := false
	rs.Match(e, func(*Rule) { hit = true })
	return hit
}

// ev builds an event from key/value pairs; a []string value is a
// multi-valued field, nil a null.
func ev(kv ...any) *event.Event {
	e := &event.Event{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			e.Fields.Set(k, event.String(v))
		case int:
			e.Fields.Set(k, event.Int(int64(v)))
		case []string:
			e.Fields.Set(k, event.Strings(v...))
		case nil:
			e.Fields.Set(k, event.Null())
		}
	}
	return e
}

type matchCase struct {
	name      string
	detection string
	match     []*event.Event
	noMatch   []*event.Event
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustCompile(t, tc.detection)
			for _, e := range tc.match {
				if !matches(rs, e) {
					t.Errorf("%v: no match, want a match", e.Fields)
				}
			}
			for _, e := range tc.noMatch {
				if matches(rs, e) {
					t.Errorf("%v: matched, want no match", e.Fields)
				}
			}
		})
	}
}

// TestEscapes follows the rules spec's "Escape Character" and "String
// Wildcard" sections.
func TestEscapes(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"plain backslash single", `
sel:
    Path: 'C:\Windows\System32\cmd.exe'
condition: sel`, []*event.Event{ev("Path", `C:\Windows\System32\cmd.exe`), ev("Path", `c:\windows\system32\CMD.EXE`)},
			[]*event.Event{ev("Path", `C:\Windows\System32\cmd.ex`), ev("Path", `C:\\Windows\System32\cmd.exe`)}},
		{"plain backslash double", `
sel:
    Path: 'C:\\Windows\\cmd.exe'
condition: sel`, []*event.Event{ev("Path", `C:\Windows\cmd.exe`)}, []*event.Event{ev("Path", `C:\\Windows\\cmd.exe`)}},
		{"escaped star is literal", `
sel:
    F: 'a\*b'
condition: sel`, []*event.Event{ev("F", `a*b`)}, []*event.Event{ev("F", `axb`), ev("F", `a\xb`), ev("F", `ab`)}},
		{"escaped question mark is literal", `
sel:
    F: 'what\?'
condition: sel`, []*event.Event{ev("F", `what?`)}, []*event.Event{ev("F", `whatx`)}},
		{"escaped backslash then wildcard", `
sel:
    F: 'dir\\*'
condition: sel`, []*event.Event{ev("F", `dir\`), ev("F", `dir\sub\file`)}, []*event.Event{ev("F", `dirx`), ev("F", `dir*`)}},
		{"three backslashes and star", `
sel:
    F: 'dir\\\*'
condition: sel`, []*event.Event{ev("F", `dir\*`)}, []*event.Event{ev("F", `dir\x`), ev("F", `dir\\*`)}},
		{"four backslashes are two", `
sel:
    F: 'a\\\\b'
condition: sel`, []*event.Event{ev("F", `a\\b`)}, []*event.Event{ev("F", `a\b`)}},
		{"three backslashes without wildcard are two", `
sel:
    F: 'a\\\b'
condition: sel`, []*event.Event{ev("F", `a\\b`)}, []*event.Event{ev("F", `a\b`)}},
		{"question mark is one character", `
sel:
    F: 'prog?.exe'
condition: sel`, []*event.Event{ev("F", `progA.exe`), ev("F", `progé.exe`)}, []*event.Event{ev("F", `prog.exe`), ev("F", `progAB.exe`)}},
		{"star is any run", `
sel:
    F: 'antivirus_V*.exe'
condition: sel`, []*event.Event{ev("F", `antivirus_V1.exe`), ev("F", `antivirus_V21.2.1.exe`), ev("F", `antivirus_V.exe`)},
			[]*event.Event{ev("F", `antivirus_V1.exe.bak`), ev("F", `xantivirus_V1.exe`)}},
		{"glob with several stars", `
sel:
    F: '*a*b?c*'
condition: sel`, []*event.Event{ev("F", `xxaxxbXcxx`), ev("F", `abbc`), ev("F", `aab-c`)}, []*event.Event{ev("F", `abc`), ev("F", `ba-c`)}},
	})
}

// TestValues covers the matching defaults: case-insensitive whole values,
// numbers, lists, null versus empty, multi-valued fields.
func TestValues(t *testing.T) {
	runMatchCases(t, []matchCase{
		{"case-insensitive whole value", `
sel:
    EventLog: Security
condition: sel`, []*event.Event{ev("EventLog", "security"), ev("EventLog", "SECURITY")}, []*event.Event{ev("EventLog", "Security2"), ev("Other", "Security")}},
		{"map is AND, list is OR", `
sel:
    EventLog: Security
    EventID:
        - 517
        - 1102
condition: sel`, []*event.Event{ev("EventLog", "Security", "EventID", 517), ev("EventLog", "Security", "EventID", "1102")},
			[]*event.Event{ev("EventLog", "Security", "EventID", 4624), ev("EventID", 517)}},
		{"list of maps is OR", `
sel:
    - Image|endswith: '\example.exe'
    - Description|contains: 'Test executable'
condition: sel`, []*event.Event{ev("Image", `C:\example.exe`), ev("Description", "a test executable here")},
			[]*event.Event{ev("Image", `C:\other.exe`)}},
		{"null is absent or null", `
sel:
    EventID: 4738
filter:
    PasswordLastSet: null
condition: sel and not filter`, []*event.Event{ev("EventID", 4738, "PasswordLastSet", "2024"), ev("EventID", 4738, "PasswordLastSet", "")},
			[]*event.Event{ev("EventID", 4738), ev("EventID", 4738, "PasswordLastSet", nil)}},
		{"empty string is only empty", `
sel:
    FieldB: ''
condition: sel`, []*event.Event{ev("FieldB", "")}, []*event.Event{ev("FieldB", "x"), ev("Other", ""), ev("FieldB", nil)}},
		{"multi-valued field matches on any element", `
sel:
    Tags: admin
condition: sel`, []*event.Event{ev("Tags", []string{"user", "Admin"})}, []*event.Event{ev("Tags", []string{"user", "administrator"})}},
		{"keywords are OR and search every field", `
keywords:
    - 'EVILSERVICE'
    - 'svchost.exe -n evil'
condition: keywords`, []*event.Event{ev("Message", "started evilservice now"), ev("A", "x", "B", "run svchost.exe -n evil")},
			[]*event.Event{ev("Message", "svchost.exe -n good")}},
		{"keywords fold runes that lower-case to ASCII", `
keywords:
    - '\desk.dat'
condition: keywords`, []*event.Event{ev("Path", "C:\\DESK.DAT"), ev("Path", "C:\\DE\u017FK.dat"), ev("Path", "C:\\des\u212A.dat")},
			[]*event.Event{ev("Path", "C:\\desk.da")}},
		{"keywords with all are AND", `
keywords_cmdlet:
    '|all':
        - 'OabVirtualDirectory'
        - ' -ExternalUrl '
condition: keywords_cmdlet`, []*event.Event{ev("Payload", "Set-OabVirtualDirectory -ExternalUrl http://x"), ev("A", "OabVirtualDirectory", "B", " -externalurl ")},
			[]*event.Event{ev("Payload", "Set-OabVirtualDirectory")}},
		{"keywords skip only values too short to match", `
keywords:
    - 'ⱥⱥⱥ*x?'
condition: keywords`, []*event.Event{
			// Three two-byte runes lower-case to three three-byte ones:
			// 8 raw bytes hold the 11 bytes of the folded keyword.
			ev("Short", "1", "Path", "\u023A\u023A\u023Axy"),
			ev("List", []string{"a", "ⱥⱥⱥxy"}),
		}, []*event.Event{ev("Path", "\u023A\u023A\u023Ax"), ev("Path", "ⱥⱥ")}},
		{"cased keywords skip short values", `
keywords:
    '|cased':
        - 'Evil'
condition: keywords`, []*event.Event{ev("A", "Evil", "B", "x")}, []*event.Event{ev("A", "Evi", "B", "evil")}},
	})
}

// TestModifiers covers every modifier of the modifiers appendix.
func TestModifiers(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	wide := func(s string) string { return utf16Encode(s, false, false) }
	runMatchCases(t, []matchCase{
		{"contains", `
sel:
    CommandLine|contains: 'whoami'
condition: sel`, []*event.Event{ev("CommandLine", "cmd /c WHOAMI /all")}, []*event.Event{ev("CommandLine", "who ami")}},
		{"startswith", `
sel:
    User|startswith: 'adm_'
condition: sel`, []*event.Event{ev("User", "ADM_joe")}, []*event.Event{ev("User", "x_adm_joe")}},
		{"endswith", `
sel:
    Image|endswith: '\cmd.exe'
condition: sel`, []*event.Event{ev("Image", `C:\Windows\System32\cmd.exe`)}, []*event.Event{ev("Image", `C:\cmd.exe.bak`), ev("Image", `xcmd.exe`)}},
		{"contains all", `
sel:
    CommandLine|contains|all:
        - ' -enc '
        - 'bypass'
condition: sel`, []*event.Event{ev("CommandLine", "powershell -ep Bypass -enc AAA")}, []*event.Event{ev("CommandLine", "powershell -enc AAA")}},
		{"re is case-sensitive", `
sel:
    F|re: 'Foo[0-9]+'
condition: sel`, []*event.Event{ev("F", "xFoo12y")}, []*event.Event{ev("F", "foo12"), ev("F", "Foo")}},
		{"re i", `
sel:
    F|re|i: '^foo$'
condition: sel`, []*event.Event{ev("F", "FOO")}, []*event.Event{ev("F", "FOOD")}},
		{"re m", `
sel:
    F|re|m: '^second$'
condition: sel`, []*event.Event{ev("F", "first\nsecond\nthird")}, []*event.Event{ev("F", "first second")}},
		{"re s", `
sel:
    F|re|s: 'a.b'
condition: sel`, []*event.Event{ev("F", "a\nb"), ev("F", "axb")}, []*event.Event{ev("F", "ab")}},
		{"re without s", `
sel:
    F|re: 'a.b'
condition: sel`, []*event.Event{ev("F", "axb")}, []*event.Event{ev("F", "a\nb")}},
		{"base64", `
sel:
    F|base64: 'cmd'
condition: sel`, []*event.Event{ev("F", b64("cmd"))}, []*event.Event{ev("F", "cmd")}},
		{"base64 contains", `
sel:
    F|base64|contains: 'http://'
condition: sel`, []*event.Event{ev("F", "xx"+b64("http://")+"yy")}, []*event.Event{ev("F", b64("https://"))}},
		{"base64offset contains", `
sel:
    F|base64offset|contains: 'http://evil'
condition: sel`, []*event.Event{ev("F", b64("http://evil.com")), ev("F", b64("xhttp://evil.com")), ev("F", b64("xyhttp://evil.com")), ev("F", b64("a longer prefix http://evil"))},
			[]*event.Event{ev("F", b64("http://good.com")), ev("F", "http://evil")}},
		{"wide base64offset contains", `
sel:
    F|wide|base64offset|contains: 'ping'
condition: sel`, []*event.Event{ev("F", b64(wide("cmd /c ping x"))), ev("F", b64(wide("ping"))), ev("F", b64(wide("a ping")))},
			[]*event.Event{ev("F", b64("cmd /c ping x")), ev("F", b64(wide("pong")))}},
		{"utf16le", `
sel:
    F|utf16le|base64: 'cmd'
condition: sel`, []*event.Event{ev("F", b64("c\x00m\x00d\x00"))}, []*event.Event{ev("F", b64("\x00c\x00m\x00d"))}},
		{"utf16be", `
sel:
    F|utf16be|base64: 'cmd'
condition: sel`, []*event.Event{ev("F", b64("\x00c\x00m\x00d"))}, []*event.Event{ev("F", b64("c\x00m\x00d\x00"))}},
		{"utf16 with byte order mark", `
sel:
    F|utf16|base64: 'cmd'
condition: sel`, []*event.Event{ev("F", b64("\xff\xfec\x00m\x00d\x00"))}, []*event.Event{ev("F", b64("c\x00m\x00d\x00"))}},
		{"windash", `
sel:
    CommandLine|windash|contains: ' -exec '
condition: sel`, []*event.Event{ev("CommandLine", "x -exec y"), ev("CommandLine", "x /exec y"), ev("CommandLine", "x –exec y"), ev("CommandLine", "x —exec y"), ev("CommandLine", "x ―exec y")},
			[]*event.Event{ev("CommandLine", "x +exec y"), ev("CommandLine", "x exec y")}},
		{"cidr", `
sel:
    DestinationIp|cidr:
        - 10.0.0.0/8
        - '2001:db8::/32'
condition: sel`, []*event.Event{ev("DestinationIp", "10.1.2.3"), ev("DestinationIp", "2001:db8::1"), ev("DestinationIp", "::ffff:10.0.0.1")},
			[]*event.Event{ev("DestinationIp", "11.0.0.1"), ev("DestinationIp", "2001:db9::1"), ev("DestinationIp", "not an ip")}},
		{"exists true", `
sel:
    EventID: 4738
    PasswordLastSet|exists: true
condition: sel`, []*event.Event{ev("EventID", 4738, "PasswordLastSet", ""), ev("EventID", 4738, "PasswordLastSet", nil)}, []*event.Event{ev("EventID", 4738)}},
		{"exists false", `
sel:
    F|exists: false
condition: sel`, []*event.Event{ev("G", "x")}, []*event.Event{ev("F", "")}},
		{"cased", `
sel:
    F|cased: 'CamelCase'
condition: sel`, []*event.Event{ev("F", "CamelCase")}, []*event.Event{ev("F", "camelcase")}},
		{"cased contains", `
sel:
    F|contains|cased: 'Evil'
condition: sel`, []*event.Event{ev("F", "xxEvilxx")}, []*event.Event{ev("F", "xxevilxx")}},
		{"fieldref", `
sel:
    Image|fieldref: ParentImage
condition: sel`, []*event.Event{ev("Image", `C:\a.exe`, "ParentImage", `c:\A.EXE`)}, []*event.Event{ev("Image", `C:\a.exe`, "ParentImage", `C:\b.exe`), ev("Image", `C:\a.exe`)}},
		{"fieldref neq", `
sel:
    TargetUserName|fieldref|neq: SubjectUserName
condition: sel`, []*event.Event{ev("TargetUserName", "bob", "SubjectUserName", "alice")}, []*event.Event{ev("TargetUserName", "bob", "SubjectUserName", "BOB")}},
		{"fieldref endswith", `
sel:
    CommandLine|fieldref|endswith: Image
condition: sel`, []*event.Event{ev("CommandLine", `run C:\a.exe`, "Image", `C:\a.exe`)}, []*event.Event{ev("CommandLine", `C:\a.exe run`, "Image", `C:\a.exe`)}},
		{"lt", `
sel:
    N|lt: 10
condition: sel`, []*event.Event{ev("N", 9), ev("N", "-3.5")}, []*event.Event{ev("N", 10), ev("N", "x")}},
		{"lte", `
sel:
    N|lte: 10
condition: sel`, []*event.Event{ev("N", 10)}, []*event.Event{ev("N", 11)}},
		{"gt", `
sel:
    N|gt: 10
condition: sel`, []*event.Event{ev("N", 11), ev("N", "10.5")}, []*event.Event{ev("N", 10)}},
		{"gte", `
sel:
    N|gte: 10
condition: sel`, []*event.Event{ev("N", 10)}, []*event.Event{ev("N", 9)}},
		{"neq", `
sel:
    Status|neq: success
condition: sel`, []*event.Event{ev("Status", "failure")}, []*event.Event{ev("Status", "SUCCESS"), ev("Other", "x")}},
		{"neq list is none of", `
sel:
    Status|neq:
        - a
        - b
condition: sel`, []*event.Event{ev("Status", "c")}, []*event.Event{ev("Status", "a"), ev("Status", "b")}},
		{"long lists match as sets", `
sel_end:
    Image|endswith: ['\a.exe', '\bb.exe', '\ccc.exe', '\d.exe', '\e.exe', '\f.exe', '.scr']
sel_start:
    Dir|startswith: ['c:\x\', 'c:\yy\', 'd:\', 'e:\', 'f:\', 'g:\', 'h*\j']
sel_exact:
    Name: ['one', 'two', 'three', 'four', 'five', 'six', 'se?en', '*ight']
condition: 1 of sel_*`, []*event.Event{ev("Image", `C:\X\BB.EXE`), ev("Image", `x.scr`), ev("Dir", `C:\YY\z`), ev("Dir", `hXXX\j`), ev("Name", "Three"), ev("Name", "seven"), ev("Name", "eight")},
			[]*event.Event{ev("Image", `C:\X\xbb.exe`), ev("Image", `C:\bb.exe\x`), ev("Dir", `x:\`), ev("Dir", `C:\x`), ev("Name", "thre"), ev("Name", "sevenn"), ev("Name", "eighty")}},
		{"hour", `
sel:
    Time|hour: 3
condition: sel`, []*event.Event{ev("Time", "2024-05-06T03:04:05Z")}, []*event.Event{ev("Time", "2024-05-06T04:04:05Z"), ev("Time", "not a time")}},
		{"minute day month year week", `
sel:
    T|minute: 4
    T|day: 6
    T|month: 5
    T|year: 2024
    T|week: 19
condition: sel`, []*event.Event{ev("T", "2024-05-06T03:04:05Z")}, []*event.Event{ev("T", "2024-05-07T03:04:05Z")}},
		{"hour with comparison", `
sel:
    T|hour|gte: 22
condition: sel`, []*event.Event{ev("T", "2024-05-06 23:00:00")}, []*event.Event{ev("T", "2024-05-06 21:59:59")}},
	})
}

func TestExpand(t *testing.T) {
	cfg := Config{Placeholders: map[string][]string{"Admins": {"adm_*", "root"}, "nets": {"10.0.0.0/8"}}}
	rs, errs := compileOne(t, cfg, `
sel:
    User|expand: '%Admins%'
    Src|expand|cidr: '%nets%'
    Literal|expand: '\%plain%'
condition: sel`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !matches(rs, ev("User", "ADM_joe", "Src", "10.1.1.1", "Literal", "%plain%")) {
		t.Error("no match, want one")
	}
	if !matches(rs, ev("User", "root", "Src", "10.1.1.1", "Literal", "%plain%")) {
		t.Error("no match for root, want one")
	}
	if matches(rs, ev("User", "bob", "Src", "10.1.1.1", "Literal", "%plain%")) {
		t.Error("bob matched")
	}
	// Without |expand a placeholder is literal text.
	rs = mustCompile(t, "sel:\n    User: '%Admins%'\ncondition: sel")
	if !matches(rs, ev("User", "%admins%")) {
		t.Error("literal %Admins% did not match")
	}
	// An unresolvable placeholder rejects the rule with that reason.
	_, errs = compileOne(t, Config{}, "sel:\n    User|expand: '%Admins%'\ncondition: sel")
	if len(errs) != 1 || !errors.Is(errs[0], ErrPlaceholder) || !strings.Contains(errs[0].Error(), "%Admins%") {
		t.Errorf("errors %v, want one unresolved placeholder %%Admins%%", errs)
	}
}

// TestConditions covers the condition grammar and its precedence.
func TestConditions(t *testing.T) {
	const sels = `
a:
    A: 'x'
b:
    B: 'x'
c:
    C: 'x'
sel_one:
    D: 'x'
sel_two:
    E: 'x'
_private:
    P: 'x'
`
	A, B, C := ev("A", "x"), ev("B", "x"), ev("C", "x")
	AB, BC, AC := ev("A", "x", "B", "x"), ev("B", "x", "C", "x"), ev("A", "x", "C", "x")
	D, E, DE := ev("D", "x"), ev("E", "x"), ev("D", "x", "E", "x")
	P := ev("P", "x")
	cases := []struct {
		cond    string
		match   []*event.Event
		noMatch []*event.Event
	}{
		{"a or b and c", []*event.Event{A, BC}, []*event.Event{B, C}},
		{"(a or b) and c", []*event.Event{AC, BC}, []*event.Event{A, B}},
		{"not a and b", []*event.Event{B}, []*event.Event{AB, A}},
		{"not (a and b)", []*event.Event{A, B}, []*event.Event{AB}},
		{"a and not b or c", []*event.Event{A, C, BC}, []*event.Event{AB, B}},
		{"1 of sel_*", []*event.Event{D, E}, []*event.Event{A}},
		{"all of sel_*", []*event.Event{DE}, []*event.Event{D, E}},
		{"1 of them", []*event.Event{A, D}, []*event.Event{P}},
		{"all of them", nil, []*event.Event{DE, AB}},
		{"1 of sel* and not a", []*event.Event{D}, []*event.Event{ev("A", "x", "D", "x")}},
		{"not 1 of sel*", []*event.Event{A}, []*event.Event{D}},
		{"_private", []*event.Event{P}, []*event.Event{A}},
		{"a AND b", []*event.Event{AB}, []*event.Event{A}},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			rs := mustCompile(t, sels+"condition: "+tc.cond)
			for _, e := range tc.match {
				if !matches(rs, e) {
					t.Errorf("%v: no match", e.Fields)
				}
			}
			for _, e := range tc.noMatch {
				if e == nil {
					continue
				}
				if matches(rs, e) {
					t.Errorf("%v: matched", e.Fields)
				}
			}
		})
	}
	// all of them ignores _-prefixed identifiers.
	all := ev("A", "x", "B", "x", "C", "x", "D", "x", "E", "x")
	if !matches(mustCompile(t, sels+"condition: all of them"), all) {
		t.Error("all of them: no match without the _private identifier")
	}
	// A list of conditions is OR.
	rs := mustCompile(t, sels+"condition:\n    - a\n    - b")
	if !matches(rs, A) || !matches(rs, B) || matches(rs, C) {
		t.Error("condition list is not OR")
	}
}

// TestRuleErrors: bad rules report file, line and reason, and never stop
// the others from loading.
func TestRuleErrors(t *testing.T) {
	good := "title: good\nid: g\nlogsource:\n    product: test\ndetection:\n    sel:\n        A: x\n    condition: sel\n"
	cases := []struct {
		name, src string
		line      int
		reason    string
	}{
		{"undefined identifier", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A: x\n    condition: sel and other\n", 7, `undefined search identifier "other"`},
		{"unknown modifier", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A|startwith: x\n    condition: sel\n", 6, `unknown modifier "startwith"`},
		{"missing condition", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A: x\n", 5, "condition is missing"},
		{"missing title", "logsource:\n    product: x\ndetection:\n    sel:\n        A: x\n    condition: sel\n", 1, "title is missing"},
		{"bad regex", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A|re: '(x'\n    condition: sel\n", 6, "missing closing )"},
		{"unbalanced parenthesis", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A: x\n    condition: (sel\n", 7, "missing )"},
		{"aggregation", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A: x\n    condition: sel | count() > 5\n", 7, "use a correlation rule"},
		{"null in list", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A:\n            - ''\n            - null\n    condition: sel\n", 7, "null cannot be part of a list"},
		{"bad level", "title: t\nlevel: severe\nlogsource:\n    product: x\ndetection:\n    sel:\n        A: x\n    condition: sel\n", 2, `level "severe"`},
		{"yaml syntax", "title: t\nlogsource: [\n", 2, "parsing YAML"},
		{"re sub-modifier without re", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A|i: x\n    condition: sel\n", 6, "needs |re"},
		{"base64 with wildcard", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A|base64: 'x*'\n    condition: sel\n", 6, "cannot encode a value with wildcards"},
		{"1 of nothing", "title: t\nlogsource:\n    product: x\ndetection:\n    sel:\n        A: x\n    condition: 1 of filter*\n", 7, `"filter*" matches no search identifier`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, errs := Load(Config{}, fstest.MapFS{"bad.yml": {Data: []byte(tc.src)}, "good.yml": {Data: []byte(good)}}, ".")
			if rs.Len() != 1 || rs.Rules()[0].ID != "g" {
				t.Errorf("loaded %d rules, want the good one", rs.Len())
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one", errs)
			}
			e := errs[0]
			if e.Path != "bad.yml" || e.Line != tc.line || !strings.Contains(e.Error(), tc.reason) {
				t.Errorf("error %q (line %d), want bad.yml:%d: ...%s...", e.Error(), e.Line, tc.line, tc.reason)
			}
			if !strings.HasPrefix(e.Error(), "bad.yml:") {
				t.Errorf("error %q does not start with path:line", e.Error())
			}
		})
	}
}

// TestScannedLiterals: rules whose contains values are looked up in the
// field's gram scanner (many rules on one field) match exactly as a search
// would, for long and short values, |all, |cased and multi-valued fields.
func TestScannedLiterals(t *testing.T) {
	rules := map[string]string{
		"many": "CommandLine|contains: ['aaa1', 'bbb2', 'ccc3', 'ddd4', 'eee5', 'a much longer value here']",
		"all":  "CommandLine|contains|all: ['alpha-one', 'beta-two-and-more']",
		"both": "CommandLine|contains: 'gamma-three'\n        Image|endswith: '\\x.exe'",
		"case": "CommandLine|contains|cased: 'CasedValue'",
		"nots": "CommandLine|contains: 'zzz9'\n    filter:\n        CommandLine|contains: 'but-not-this'",
	}
	fs := fstest.MapFS{}
	for id, sel := range rules {
		cond := "sel"
		if id == "nots" {
			cond = "sel and not filter"
		}
		fs[id+".yml"] = &fstest.MapFile{Data: []byte("title: " + id + "\nid: " + id + "\nlogsource:\n    product: test\ndetection:\n    sel:\n        " + sel + "\n    condition: " + cond + "\n")}
	}
	rs, errs := Load(Config{}, fs, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		e    *event.Event
		want []string
	}{
		{ev("CommandLine", "x AAA1 y"), []string{"many"}},
		{ev("CommandLine", "A MUCH LONGER VALUE HERE!"), []string{"many"}},
		{ev("CommandLine", "a much longer valu here"), nil},
		{ev("CommandLine", "Beta-Two-And-More alpha-one"), []string{"all"}},
		{ev("CommandLine", "beta-two-and-mor alpha-one"), nil},
		{ev("CommandLine", "gamma-three", "Image", `c:\X.EXE`), []string{"both"}},
		{ev("CommandLine", "gamma-thre", "Image", `c:\x.exe`), nil},
		{ev("CommandLine", "a CasedValue b"), []string{"case"}},
		{ev("CommandLine", "a casedvalue b"), nil},
		{ev("CommandLine", "zzz9"), []string{"nots"}},
		{ev("CommandLine", "zzz9 but-not-this"), nil},
		{ev("CommandLine", []string{"first", "second bbb2"}), []string{"many"}},
		{ev("CommandLine", []string{"alpha-one", "beta-two-and-more"}), []string{"all"}},
	}
	for _, tc := range cases {
		var got []string
		rs.Match(tc.e, func(r *Rule) { got = append(got, r.ID) })
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%v: matched %v, want %v", tc.e.Fields, got, tc.want)
		}
	}
	if sc := rs.pre.scans[rs.Rule("many").expr.(*fieldNode).slot]; sc == nil || sc.grams == nil || rs.pre.nLits == 0 {
		t.Error("the test meant CommandLine to have a gram scanner with looked-up literals")
	}
}

func TestFoldAnchor(t *testing.T) {
	for _, tc := range []struct {
		lit  string
		want int
	}{
		{`\perfc.dat`, 6}, {`abc`, -1}, {`a\b`, 1}, {`x%y\z`, 1}, {`ä.b`, -1}, {`run 7z`, 4},
	} {
		if got := foldAnchor(tc.lit); got != tc.want {
			t.Errorf("foldAnchor(%q) = %d, want %d", tc.lit, got, tc.want)
		}
	}
	for _, tc := range []struct {
		vals []string
		lit  string
		hit  bool
	}{
		{[]string{`C:\Windows\PERFC.DAT`}, `\perfc.dat`, true},
		{[]string{`C:\Windows\perfc.da`, `x`}, `\perfc.dat`, false},
		{[]string{`short`, `...\perfc.dat...`}, `\perfc.dat`, true},
		{[]string{`.dat`}, `\perfc.dat`, false},
	} {
		hit, ok := containsFoldAnchored(tc.vals, tc.lit, foldAnchor(tc.lit), true)
		if !ok || hit != tc.hit {
			t.Errorf("containsFoldAnchored(%q, %q) = %v, %v; want %v", tc.vals, tc.lit, hit, ok, tc.hit)
		}
	}
}

// foldRef is fold written rune by rune, as the reference for the
// word-at-a-time version.
func foldRef(s string) string {
	var b []byte
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[i])
		} else {
			lr, _ := foldsSpecially(r)
			b = utf8.AppendRune(b, lr)
		}
		i += size
	}
	return string(b)
}

func TestFold(t *testing.T) {
	for _, s := range []string{
		"", "a", "A", "C:\\Windows\\System32\\CMD.EXE", "already lower case, long enough to take words",
		"@[`{ZAza", "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\x7f\x00",
		"MIXED Case Then \u0130 Dotted I, Kelvin \u212A, long s \u017F, \xff invalid, then ASCII AGAIN",
		"ÄÖÜ", "12345678ABCDEFGH\u023A",
	} {
		var c evalCtx
		if got, want := c.fold(s), foldRef(s); got != want {
			t.Errorf("fold(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzFold(f *testing.F) {
	f.Add("C:\\Windows\\System32\\CMD.EXE /c ECHO")
	f.Add("Ünïcode AND ASCII \u212A")
	f.Fuzz(func(t *testing.T, s string) {
		var c evalCtx
		c.fold("SOME EARLIER VALUE") // the scratch buffer holds more than one
		if got, want := c.fold(s), foldRef(s); got != want {
			t.Errorf("fold(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestAnchoredNeedles: exact, prefix and suffix needles are found in raw
// ASCII values folded as the tries walk them, and in lower-cased text
// otherwise; an exact needle is looked up only for values of its length.
func TestAnchoredNeedles(t *testing.T) {
	rules := map[string]string{
		"suffix": `Image|endswith: ['\cmd.exe', '\powershell.exe']`,
		"prefix": `Image|startswith: 'C:\Temp\'`,
		"exact":  `OriginalFileName: ['Cmd.Exe', 'pwsh.dll']`,
		"path":   `Image|endswith: '\system32\whoami.exe'`,
		// Six values or more make a set with tries of its own.
		"cased": `Image|cased|endswith: ['\A.exe', '\B.exe', '\C.exe', '\D.exe', '\E.exe', '\Ünï.exe']`,
		"wdash": `CommandLine|windash|startswith: '-enc '`,
	}
	fs := fstest.MapFS{}
	for id, sel := range rules {
		fs[id+".yml"] = &fstest.MapFile{Data: []byte("title: " + id + "\nid: " + id + "\nlogsource:\n    product: test\ndetection:\n    sel:\n        " + sel + "\n    condition: sel\n")}
	}
	rs, errs := Load(Config{}, fs, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		e    *event.Event
		want []string
	}{
		{ev("Image", `C:\WINDOWS\System32\CMD.EXE`), []string{"suffix"}},
		{ev("Image", `C:\Windows\System32\cmd.exe.bak`), nil},
		{ev("Image", `cmd.exe`), nil}, // endswith '\cmd.exe' wants the separator
		{ev("Image", `C:\Ünïcode\PowerShell.EXE`), []string{"suffix"}},
		{ev("Image", `C:\temp\x.exe`), []string{"prefix"}},
		{ev("Image", `D:\temp\cmd.exe`), []string{"suffix"}},
		{ev("Image", `C:\Windows\SYSTEM32\WhoAmI.exe`), []string{"path"}},
		{ev("Image", `C:\Windows\SysWOW64\whoami.exe`), nil},
		{ev("Image", []string{`x`, `C:\TEMP\a`}), []string{"prefix"}},
		{ev("OriginalFileName", "CMD.EXE"), []string{"exact"}},
		{ev("OriginalFileName", "PWSH.DLL"), []string{"exact"}},
		{ev("OriginalFileName", "cmd.exe "), nil},
		{ev("OriginalFileName", "cmd.ex"), nil},
		{ev("OriginalFileName", "\u0130cmd.exe"), nil},
		{ev("Image", `C:\x\B.exe`), []string{"cased"}},
		{ev("Image", `C:\x\b.exe`), nil},
		{ev("Image", `C:\x\Ünï.exe`), []string{"cased"}},
		{ev("Image", `C:\x\ünï.exe`), nil},
		{ev("CommandLine", "/ENC abc"), []string{"wdash"}},
		{ev("CommandLine", "\u2013enc abc"), []string{"wdash"}},
		{ev("CommandLine", "enc abc"), nil},
	}
	for _, tc := range cases {
		var got []string
		rs.Match(tc.e, func(r *Rule) { got = append(got, r.ID) })
		slices.Sort(got)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%v: matched %v, want %v", tc.e.Fields, got, tc.want)
		}
	}
}
