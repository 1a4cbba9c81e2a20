package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/danang-soc/vigil"

type pkg struct {
	ImportPath string
	Doc        string
	Name       string
	Imports    []string
	Deps       []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// stage returns the pipeline stage of a package path inside the module.
func stage(path string) string {
	rel := strings.TrimPrefix(path, module+"/")
	if rel == path {
		return ""
	}
	return strings.SplitN(rel, "/", 2)[0]
}

// forbidden lists, per stage, the stages it must not depend on.
var forbidden = map[string][]string{
	"event":      {"collectors", "detections", "correlate", "response", "dashboards", "rules", "internal", "cmd"},
	"collectors": {"detections", "correlate", "response", "dashboards", "internal", "cmd"},
	"detections": {"collectors", "correlate", "response", "dashboards", "rules", "internal", "cmd"},
	"correlate":  {"collectors", "detections", "response", "dashboards", "rules", "internal", "cmd"},
	"response":   {"collectors", "detections", "correlate", "dashboards", "rules", "cmd"},
	"dashboards": {"collectors", "detections", "correlate", "response", "cmd"},
	"rules":      {"collectors", "detections", "correlate", "response", "dashboards", "internal", "cmd"},
	"internal":   {"cmd"},
}

func TestDependencyDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		from := stage(p.ImportPath)
		for _, dep := range p.Deps {
			to := stage(dep)
			if to == "" || to == from {
				continue
			}
			for _, bad := range forbidden[from] {
				if to == bad {
					t.Errorf("%s depends on %s: stage %q must not depend on %q (DESIGN.md, Layout)", p.ImportPath, dep, from, to)
				}
			}
		}
	}
}

func TestKernelUsesStandardLibraryOnly(t *testing.T) {
	std := map[string]bool{}
	cmd := exec.Command("go", "list", "std")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Fields(string(out)) {
		std[l] = true
	}
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/event" {
			continue
		}
		for _, dep := range p.Deps {
			if !std[dep] && !strings.HasPrefix(dep, "internal/") && !strings.HasPrefix(dep, "vendor/") {
				t.Errorf("event depends on %s: the kernel imports only the standard library", dep)
			}
		}
	}
}

func TestEveryPackageIsDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package doc comment saying what it owns and its concurrency contract", p.ImportPath)
		}
	}
}
