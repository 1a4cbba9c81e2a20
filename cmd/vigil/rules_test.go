package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goodRule = `title: Whoami
id: 0e95725d-7320-415d-80f7-004da920fc11
level: high
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
`

const badRule = `title: Broken
id: 1e95725d-7320-415d-80f7-004da920fc11
logsource:
    product: windows
detection:
    selection:
        Image|endwith: '\whoami.exe'
    condition: selection
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRulesCheck(t *testing.T) {
	dir := writeFiles(t, map[string]string{"good.yml": goodRule, "sub/bad.yaml": badRule, "notes.txt": "not a rule"})

	code, out, _ := runCLI(t, "", "rules", "check", dir, "--json")
	if code != 1 {
		t.Errorf("exit %d, want 1 (a rule failed)", code)
	}
	var got checkSummary
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	want := checkSummary{Rules: 2, OK: 1, Failed: 1, Errors: []checkError{{
		Path: filepath.Join(dir, "sub", "bad.yaml"), Line: 7, Error: `search identifier selection: unknown modifier "endwith"`,
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	code, out, _ = runCLI(t, "", "rules", "check", filepath.Join(dir, "good.yml"))
	if code != 0 || !strings.Contains(out, "1 rules: 1 ok, 0 failed") {
		t.Errorf("good rule: exit %d, output %q", code, out)
	}
	code, out, _ = runCLI(t, "", "rules", "check", dir)
	if code != 1 || !strings.Contains(out, filepath.Join(dir, "sub", "bad.yaml")+`:7: search identifier selection: unknown modifier "endwith"`) {
		t.Errorf("text output: exit %d, %q; want path:line: reason", code, out)
	}
	if code, _, _ := runCLI(t, "", "rules", "check"); code != 2 {
		t.Errorf("no path: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "", "rules", "lint", dir); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
	code, out, _ = runCLI(t, "", "rules", "check", filepath.Join(dir, "missing.yml"), "--json")
	if code != 1 || !strings.Contains(out, `"failed":1`) {
		t.Errorf("missing path: exit %d, %s", code, out)
	}
}

func TestRulesCheckPlaceholder(t *testing.T) {
	rule := strings.Replace(goodRule, `Image|endswith: '\whoami.exe'`, `User|expand: '%Admins%'`, 1)
	dir := writeFiles(t, map[string]string{"r.yml": rule})
	if code, out, _ := runCLI(t, "", "rules", "check", dir); code != 1 || !strings.Contains(out, "unresolved placeholder %Admins%") {
		t.Errorf("without the placeholder: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI(t, "", "rules", "check", dir, "--placeholder", "Admins=root,adm_*"); code != 0 {
		t.Errorf("with the placeholder: exit %d, %q", code, out)
	}
}
