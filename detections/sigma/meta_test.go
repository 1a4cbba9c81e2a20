package sigma

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/danang-soc/vigil/event"
)

const ruleRar = `title: Data Compressed - rar.exe
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
name: rar_use
level: low
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\rar.exe'
    condition: selection
`

// The filters spec's example.
const filterAdmin = `title: Filter Administrator account
description: The valid administrator account start with adm_
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe
    selection:
        User|startswith: 'adm_'
    condition: selection
`

func TestFilter(t *testing.T) {
	rs, errs := Load(Config{}, fstest.MapFS{
		"rules/rar.yml":          {Data: []byte(ruleRar)},
		"filters/mf_admin.yml":   {Data: []byte(filterAdmin)},
		"filters/mf_unknown.yml": {Data: []byte(strings.Replace(filterAdmin, "6f3e2987-db24-4c78-a860-b4f4095a7095", "no-such-rule", 1))},
	}, ".")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "unknown rules no-such-rule") {
		t.Errorf("errors %v, want the unknown reference reported", errs)
	}
	src := event.LogSource{Product: "windows", Category: "process_creation"}
	user := &event.Event{Source: src, Fields: event.Fields{{Key: "Image", Value: event.String(`C:\rar.exe`)}, {Key: "User", Value: event.String("joe")}}}
	admin := &event.Event{Source: src, Fields: event.Fields{{Key: "Image", Value: event.String(`C:\rar.exe`)}, {Key: "User", Value: event.String("adm_joe")}}}
	if !matches(rs, user) {
		t.Error("joe's rar.exe: no match, want one")
	}
	if matches(rs, admin) {
		t.Error("adm_joe's rar.exe matched despite the filter")
	}
	if got := rs.Rules()[0].Filters; len(got) != 1 {
		t.Errorf("Filters = %v, want one", got)
	}
}

const correlationSpec = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
level: high
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
`

func TestCorrelation(t *testing.T) {
	rs, errs := Load(Config{}, fstest.MapFS{"mr_brute.yml": {Data: []byte(correlationSpec)}}, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if rs.Len() != 2 {
		t.Errorf("%d rules, want 2", rs.Len())
	}
	want := []*Correlation{{
		ID: "b180ead8-d58f-40b2-ae54-c8940995b9b6", Title: "Correlation - Multiple Failed Logins Followed by Successful Login",
		Status: "experimental", Level: event.LevelHigh, Path: "mr_brute.yml", Line: 1,
		Type: "temporal_ordered", Rules: []string{"multiple_failed_login", "successful_login"},
		RuleIDs: []string{"a8418a5a-5fc4-46b5-b23b-6c73beb19d41", "4d0a2c83-c62c-4ed4-b475-c7e23a9269b8"},
		GroupBy: []string{"User"}, Timespan: 10 * time.Minute,
	}, {
		ID: "a8418a5a-5fc4-46b5-b23b-6c73beb19d41", Name: "multiple_failed_login", Title: "Multiple failed logons",
		Path: "mr_brute.yml", Line: 14, Type: "event_count", Rules: []string{"failed_login"},
		RuleIDs: []string{"53ba33fd-3a50-4468-a5ef-c583635cfa92"}, GroupBy: []string{"User"}, Timespan: 10 * time.Minute,
		Condition: Condition{Ops: []Comparison{{Op: "gte", Value: 10}}},
	}}
	if diff := cmp.Diff(want, rs.Correlations(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("correlations (-want +got):\n%s", diff)
	}
	for _, r := range rs.Rules() {
		if !r.CorrelationOnly {
			t.Errorf("rule %s: CorrelationOnly false, want true (no generate)", r.Name)
		}
	}
	// generate: true keeps the referred rules' own alerts.
	gen := strings.Replace(correlationSpec, "    timespan: 10m\n    condition:", "    timespan: 10m\n    generate: true\n    condition:", 1)
	rs, _ = Load(Config{}, fstest.MapFS{"mr_brute.yml": {Data: []byte(gen)}}, ".")
	if r := rs.Rule("failed_login"); r == nil || r.CorrelationOnly {
		t.Errorf("failed_login with generate: true: %+v", r)
	}
}

func TestCorrelationErrors(t *testing.T) {
	rule := "title: r\nid: r1\nlogsource:\n    product: x\ndetection:\n    s:\n        A: x\n    condition: s\n"
	cases := []struct {
		name, typ, span, extra, reason string
	}{
		{"ok range", "event_count", "1h", "    condition:\n        gt: 100\n        lte: 200\n", ""},
		{"ok value_count", "value_count", "1d", "    condition:\n        field: User\n        gte: 100\n", ""},
		{"ok value_percentile", "value_percentile", "24h", "    condition:\n        field: image\n        lte: 1\n", ""},
		{"ok temporal without condition", "temporal", "5m", "", ""},
		{"bad type", "event_sum", "1h", "    condition:\n        gt: 1\n", `type "event_sum"`},
		{"bad timespan", "event_count", "1 hour", "    condition:\n        gt: 1\n", "timespan"},
		{"no condition", "event_count", "1h", "", "needs a condition"},
		{"no field", "value_count", "1h", "    condition:\n        gt: 1\n", "needs condition.field"},
		{"bad operator", "event_count", "1h", "    condition:\n        greater: 1\n", `unknown operator "greater"`},
		{"bad range", "event_count", "1h", "    condition:\n        gt: 1\n        eq: 3\n", "cannot be combined"},
		{"bad alias", "temporal", "1h", "    aliases:\n        ip:\n            other: source.ip\n", "not one of the correlation's rules"},
		{"unknown reference", "event_count", "1h", "    condition:\n        gt: 1\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "title: c\ncorrelation:\n    type: " + tc.typ + "\n    rules: [r1]\n    group-by: [User]\n    timespan: " + tc.span + "\n" + tc.extra
			_, errs := Load(Config{}, fstest.MapFS{"c.yml": {Data: []byte(src)}, "r.yml": {Data: []byte(rule)}}, ".")
			if tc.reason == "" {
				if len(errs) > 0 {
					t.Errorf("errors %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.reason) || errs[0].Path != "c.yml" {
				t.Errorf("errors %v, want one in c.yml with %q", errs, tc.reason)
			}
		})
	}
	_, errs := Load(Config{}, fstest.MapFS{"c.yml": {Data: []byte("title: c\ncorrelation:\n    type: temporal\n    rules: [nope]\n    timespan: 1m\n")}}, ".")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "unknown rules nope") {
		t.Errorf("errors %v, want the unknown reference", errs)
	}
}

// TestLogSources: routing by the event's own log source (lenient) and by
// the built-in mapping (thor.yml semantics, with field renames).
func TestLogSources(t *testing.T) {
	procRule := `title: whoami
id: proc
logsource:
    product: windows
    category: process_creation
detection:
    sel:
        Image|endswith: '\whoami.exe'
    condition: sel
`
	secRule := `title: any security event with whoami
id: sec
logsource:
    product: windows
    service: security
detection:
    sel:
        - '\whoami.exe'
    condition: sel
`
	linuxRule := `title: linux whoami
id: lin
logsource:
    product: linux
detection:
    sel:
        - 'whoami'
    condition: sel
`
	rs, errs := Load(Config{}, fstest.MapFS{"p.yml": {Data: []byte(procRule)}, "s.yml": {Data: []byte(secRule)}, "l.yml": {Data: []byte(linuxRule)}}, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ids := func(e *event.Event) []string {
		var out []string
		rs.Match(e, func(r *Rule) { out = append(out, r.ID) })
		return out
	}
	sysmon := ev("Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", 1, "Image", `C:\Windows\System32\whoami.exe`)
	security := ev("Channel", "Security", "EventID", 4688, "NewProcessName", `C:\Windows\System32\whoami.exe`)
	security4624 := ev("Channel", "Security", "EventID", 4624, "NewProcessName", `C:\Windows\System32\whoami.exe`)
	sysmon3 := ev("Channel", "Microsoft-Windows-Sysmon/Operational", "EventID", 3, "Image", `C:\Windows\System32\whoami.exe`)
	unknown := ev("Image", `C:\Windows\System32\whoami.exe`)
	withSource := ev("Image", `C:\Windows\System32\whoami.exe`)
	withSource.Source = event.LogSource{Product: "windows"}
	linux := ev("Image", `/usr/bin/whoami`)
	linux.Source = event.LogSource{Product: "linux", Service: "auditd"}
	cases := []struct {
		name string
		e    *event.Event
		want []string
	}{
		{"sysmon 1 is process_creation", sysmon, []string{"proc"}},
		{"security 4688 is process_creation with Image renamed", security, []string{"proc", "sec"}},
		{"security 4624 is not process_creation", security4624, []string{"sec"}},
		{"sysmon 3 is network_connection", sysmon3, nil},
		{"no source, no mapping: every rule", unknown, []string{"lin", "proc", "sec"}},
		{"own source windows: windows rules", withSource, []string{"proc", "sec"}},
		{"own source linux", linux, []string{"lin"}},
	}
	// Forward, then backward with each event twice: Match keeps the
	// bucket of the last event without a source, which must follow a
	// change of source and survive a repeat.
	var order []int
	for i := range cases {
		order = append(order, i)
	}
	for i := len(cases) - 1; i >= 0; i-- {
		order = append(order, i, i)
	}
	for _, i := range order {
		tc := cases[i]
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ids(tc.e), cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("matching rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLogSources(t *testing.T) {
	if err := DefaultLogSources().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []struct{ src, reason string }{
		{"sources:\n  - name: x\n    when: {A: b}\n    product: x\n    colour: red\n", "field colour not found"},
		{"sources:\n  - name: x\n    product: x\n", "at least one condition"},
		{"sources:\n  - name: x\n    when: {A: b}\n", "product, category or service"},
		{"sources:\n  - name: x\n    when: {A: b}\n    product: Windows\n", "lower case"},
		{"sources:\n  - name: x\n    when: {A: b}\n    product: x\n  - name: x\n    when: {A: c}\n    product: y\n", "duplicate name"},
	}
	for _, tc := range bad {
		_, err := ParseLogSources(strings.NewReader(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("ParseLogSources(%q) = %v, want an error with %q", tc.src, err, tc.reason)
		}
	}
}
