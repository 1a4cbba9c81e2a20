package sigma

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus_rejects.txt from the corpus")

// corpusDirs are the SigmaHQ rule folders that must load.
var corpusDirs = []string{"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"}

// testPlaceholders resolves every placeholder of rules-placeholder, as an
// analyst's configuration would.
func testPlaceholders() map[string][]string {
	ph := map[string][]string{}
	for _, n := range []string{"Administrators", "Admins_Workstations", "ApprovedUserUpn", "Approved_Inviters",
		"DomainControllers", "HomeTenantID", "Important_AppIds", "KNOWN_LOCATION", "Known_Location",
		"Legitimate_Countries", "ServerSystems", "UnApprovedDevice", "UnLegitCountries",
		"Workstations", "dc_machine_accounts", "domain_controller_hostnames", "internal_domains",
		"legtimate_identifiers", "userdomain", "DC-MACHINE-NAME", "JumpServers", "Servers"} {
		ph[n] = []string{"example-" + strings.ToLower(n), "*.example.org"}
	}
	for _, n := range []string{"Legitimate_IP_Ranges", "UnApprovedIp", "dc_ip_addresses", "legit_ips"} {
		ph[n] = []string{"10.0.0.1", "192.168.0.0/16"}
	}
	return ph
}

var (
	corpusOnce sync.Once
	corpusRS   *Ruleset
	corpusErrs []RuleError
)

func loadCorpus(t testing.TB) (*Ruleset, []RuleError) {
	t.Helper()
	root := testenv.Corpus(t, "sigma")
	corpusOnce.Do(func() {
		var paths []string
		for _, d := range corpusDirs {
			paths = append(paths, filepath.Join(root, d))
		}
		corpusRS, corpusErrs = LoadPaths(Config{Placeholders: testPlaceholders()}, paths...)
		for i := range corpusErrs {
			if rel, err := filepath.Rel(root, corpusErrs[i].Path); err == nil {
				corpusErrs[i].Path = rel
			}
		}
	})
	return corpusRS, corpusErrs
}

// TestCorpusRules: every SigmaHQ rule loads, except those listed one by one
// with their reason in testdata/corpus_rejects.txt.
func TestCorpusRules(t *testing.T) {
	rs, errs := loadCorpus(t)
	var got []string
	for _, e := range errs {
		got = append(got, strings.ReplaceAll(e.Error(), "\n", " "))
	}
	sort.Strings(got)
	const file = "testdata/corpus_rejects.txt"
	if *update {
		if err := os.WriteFile(file, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejected rules differ from %s (-want +got):\n%s", file, diff)
	}
	if rs.Len() < 3500 {
		t.Errorf("loaded %d rules, want at least 3500", rs.Len())
	}
	t.Logf("%d rules, %d correlations, %d rejected", rs.Len(), len(rs.Correlations()), len(errs))
}

type regressionCase struct {
	RuleID     string `json:"rule_id"`
	RulePath   string `json:"rule_path"`
	EventsFile string `json:"events_file"`
	MatchCount int    `json:"match_count"`
}

func readRegression(t testing.TB) (dir string, cases []regressionCase) {
	t.Helper()
	dir = testenv.Corpus(t, "sigma", "regression")
	f, err := os.Open(filepath.Join(dir, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c regressionCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if c.MatchCount == 0 {
			c.MatchCount = 1
		}
		cases = append(cases, c)
	}
	return dir, cases
}

func readEvents(t testing.TB, path string) []event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for i, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		e, err := event.DecodeJSON([]byte(l))
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// TestRegression: every SigmaHQ regression case matches at least
// match_count of its events, with the whole corpus loaded and the built-in
// log-source mapping (thor.yml's semantics).
func TestRegression(t *testing.T) {
	rs, _ := loadCorpus(t)
	dir, cases := readRegression(t)
	passed := 0
	for _, c := range cases {
		evs := readEvents(t, filepath.Join(dir, c.EventsFile))
		n := 0
		for i := range evs {
			rs.Match(&evs[i], func(r *Rule) {
				if r.ID == c.RuleID {
					n++
				}
			})
		}
		if n < c.MatchCount {
			t.Errorf("%s (%s): %d matches, want at least %d", c.RuleID, c.RulePath, n, c.MatchCount)
			continue
		}
		passed++
	}
	t.Logf("%d of %d regression cases pass", passed, len(cases))
}
