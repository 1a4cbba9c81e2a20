package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

type huntMatch struct {
	RuleID     string `json:"rule_id"`
	RuleTitle  string `json:"rule_title"`
	Level      string `json:"level"`
	EventIndex int    `json:"event_index"`
	EventID    string `json:"event_id"`
}

func TestHunt(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rules/whoami.yml": goodRule,
		"a.jsonl": `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\whoami.exe"}
{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"C:\\Windows\\System32\\cmd.exe"}

{"event.id":"01JDQ3Z5J8YV7M9K2X4W6N8P0R","Image":"C:\\tools\\WHOAMI.EXE"}
{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Image":"C:\\Windows\\System32\\whoami.exe"}
`,
		"b.jsonl": `{"logsource.product":"windows","Image":"x\\whoami.exe"}` + "\n",
	})
	code, out, errOut := runCLI(t, "", "hunt", "--rules", filepath.Join(dir, "rules"), "--events", filepath.Join(dir, "a.jsonl"), "--events", filepath.Join(dir, "b.jsonl"), "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var got []huntMatch
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m huntMatch
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if m.EventID == "" {
			t.Errorf("line %q has no event_id", l)
		}
		got = append(got, m)
	}
	if len(got) == 3 && got[1].EventID != "01JDQ3Z5J8YV7M9K2X4W6N8P0R" {
		t.Errorf("the event's own id %q was not kept", got[1].EventID)
	}
	for i := range got {
		got[i].EventID = ""
	}
	m := func(index int) huntMatch {
		return huntMatch{RuleID: "0e95725d-7320-415d-80f7-004da920fc11", RuleTitle: "Whoami", Level: "high", EventIndex: index}
	}
	// Sysmon 1 matches; the nested event without a log source is matched
	// against every rule; Sysmon 3 is not process_creation; b.jsonl's
	// event carries its own log source (index restarts per input).
	if diff := cmp.Diff([]huntMatch{m(0), m(2), m(0)}, got); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}

	code, out, _ = runCLI(t, "", "hunt", "--rules", filepath.Join(dir, "rules"), "--events", "-")
	if code != 0 || out != "" {
		t.Errorf("empty standard input: exit %d, %q", code, out)
	}
	code, _, errOut = runCLI(t, "not json\n", "hunt", "--rules", filepath.Join(dir, "rules"), "--events", "-")
	if code != 1 || !strings.Contains(errOut, "-:1:") {
		t.Errorf("bad input: exit %d, stderr %q; want file:line", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "hunt", "--rules", filepath.Join(dir, "rules")); code != 2 {
		t.Errorf("no --events: exit %d, want 2", code)
	}
}

// TestHuntBundled runs the bundled rules (rules/sigma) on their own
// positive samples.
func TestHuntBundled(t *testing.T) {
	samples, _ := filepath.Glob(filepath.Join("..", "..", "rules", "testdata", "db_drop_table.pos.jsonl"))
	if len(samples) == 0 {
		t.Skip("no bundled samples")
	}
	code, out, errOut := runCLI(t, "", "hunt", "--events", samples[0], "--json",
		"--placeholder", "SensitiveTables=secrets", "--placeholder", "BackupHosts=10.0.0.250", "--placeholder", "OffHoursAccounts=backup")
	if code != 0 || !strings.Contains(out, `"rule_title":"Database Table or Database Dropped"`) {
		t.Errorf("exit %d, out %q, stderr %q", code, out, errOut)
	}
}

// TestHuntCorrelation runs the bundled brute-force correlation rule over
// its own samples: one correlation alert listing the five failed logins.
func TestHuntCorrelation(t *testing.T) {
	pos := filepath.Join("..", "..", "rules", "testdata", "db_bruteforce_login.pos.jsonl")
	code, out, errOut := runCLI(t, "", "hunt", "--json", "--events", pos)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type correlationAlert struct {
		RuleTitle string `json:"rule_title"`
		Events    []struct {
			Input      string `json:"input"`
			EventIndex int    `json:"event_index"`
			EventID    string `json:"event_id"`
		} `json:"events"`
	}
	var alerts []correlationAlert
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(l, `"events":`) {
			continue
		}
		var a correlationAlert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		alerts = append(alerts, a)
	}
	if len(alerts) != 1 || alerts[0].RuleTitle != "Database Brute-Force Login" {
		t.Fatalf("correlation alerts = %+v, want one brute-force alert", alerts)
	}
	var idx []int
	for _, e := range alerts[0].Events {
		idx = append(idx, e.EventIndex)
		if e.Input != pos || e.EventID == "" {
			t.Errorf("event reference %+v lacks its input or id", e)
		}
	}
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4}, idx); diff != "" {
		t.Errorf("correlated events (-want +got):\n%s", diff)
	}
	neg := filepath.Join("..", "..", "rules", "testdata", "db_bruteforce_login.neg.jsonl")
	_, out, _ = runCLI(t, "", "hunt", "--json", "--events", neg)
	if strings.Contains(out, "Brute-Force") {
		t.Errorf("the negative samples raised a brute force:\n%s", out)
	}
}

// TestHuntLog reads raw database logs and a capture with the collectors'
// own parsers.
func TestHuntLog(t *testing.T) {
	stderrLog := testenv.Corpus(t, "dblogs", "postgres-stderr.log")
	audit := testenv.Corpus(t, "dblogs", "mariadb-server_audit.log")
	capture := testenv.Corpus(t, "pcaps", "postgres.pcap")
	for _, c := range []struct {
		spec string
		want []string // rule titles that must match
	}{
		{"postgres-stderr:" + stderrLog, []string{"Database Superuser Granted", "SQL Injection Tautology", "PostgreSQL COPY to a Server File"}},
		{"mariadb-audit:" + audit, []string{"SQL Injection Tautology"}},
		{"pcap:" + capture, []string{"Database Superuser Granted", "SQL Injection Tautology"}},
	} {
		code, out, errOut := runCLI(t, "", "hunt", "--json", "--log", c.spec)
		if code != 0 {
			t.Errorf("--log %s: exit %d: %s", c.spec, code, errOut)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, `"rule_title":"`+w+`"`) {
				t.Errorf("--log %s: no match of %q", c.spec, w)
			}
		}
	}
	code, _, errOut := runCLI(t, "", "hunt", "--log", "nosuch:"+stderrLog)
	if code != 2 || !strings.Contains(errOut, "unknown format") || !strings.Contains(errOut, "postgres-jsonlog") {
		t.Errorf("unknown format: exit %d, stderr %q; want 2 and the known formats", code, errOut)
	}
	code, out, _ := runCLI(t, "", "hunt", "--formats")
	if code != 0 || !strings.Contains(out, "pcap") || !strings.Contains(out, "mariadb-audit") {
		t.Errorf("--formats: exit %d\n%s", code, out)
	}
}
