package sigma

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestRegexPrefilter(t *testing.T) {
	cases := []struct {
		expr   string
		lits   []string
		minLen int
	}{
		{`\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}`, []string{". ", `."`, ".'"}, 6},
		{`(?i)cmd[ /]c`, []string{"cmd c", "cmd/c"}, 5},
		{`(?i)x[a-z]yz`, []string{"yz"}, 4},
		{`ab[cC]D`, []string{"abcd"}, 4},
		{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, nil, 82},
		{`(?i)powershell.+-enc`, []string{"powershell"}, 15},
		{`nbtstat\s+-n`, []string{"nbtstat"}, 10},
		{`(abc|defg)x*`, []string{"abc", "defg"}, 3},
		{`a?`, nil, 0},
	}
	for _, tc := range cases {
		lits, _ := regexNeedles(tc.expr)
		if !slices.Equal(lits, tc.lits) {
			t.Errorf("regexNeedles(%q) = %q, want %q", tc.expr, lits, tc.lits)
		}
		if got := regexRequiredSeq(tc.expr); tc.expr == `\\[a-zA-Z0-9]{1,32}\.[a-zA-Z0-9]{1,6}\.[ "']{1}` && len(got) != 3 {
			t.Errorf("regexRequiredSeq(%q) = %q, want three literals", tc.expr, got)
		}
		if got := regexMinLen(tc.expr); got != tc.minLen {
			t.Errorf("regexMinLen(%q) = %d, want %d", tc.expr, got, tc.minLen)
		}
	}
}

// FuzzRegexPrefilter: a string the expression matches is never shorter
// than regexMinLen and always holds one of regexNeedles (lower-cased).
func FuzzRegexPrefilter(f *testing.F) {
	f.Add(`nbtstat\s+-n`, "x nbtstat  -n y")
	f.Add(`(?i)Power(Shell|Sh)`, "POWERSH")
	f.Add(`\s[a-fA-F0-9]{8}\s`, " 0123abcd ")
	f.Add(`x[0-9]{8,}y`, "x123456789y")
	f.Add(`\\[a-z]{1,3}\.[a-z]{1,6}\.[ "']{1}`, `run \a.b.' now`)
	f.Add(`(?i)cmd[ /]\x{212A}`, "CMD/k")
	f.Add(`(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&.*"`, `SET x&& set Invoke && "`)
	f.Fuzz(func(t *testing.T, expr, s string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		loc := re.FindStringIndex(s)
		if loc == nil {
			return
		}
		if n := regexMinLen(expr); loc[1]-loc[0] < n {
			t.Errorf("%q matches %q (%d bytes), shorter than regexMinLen %d", expr, s[loc[0]:loc[1]], loc[1]-loc[0], n)
		}
		if runs := regexRuns(expr); !hasRuns(s[loc[0]:loc[1]], runs) {
			t.Errorf("%q matches %q, which lacks a required class run", expr, s[loc[0]:loc[1]])
		}
		if seq := regexRequiredSeq(expr); !hasSeq(s[loc[0]:loc[1]], seq) {
			t.Errorf("%q matches %q, which lacks the sequence %q", expr, s[loc[0]:loc[1]], seq)
		}
		if lits, ok := regexNeedles(expr); ok {
			var c evalCtx
			low := c.fold(s)
			found := false
			for _, l := range lits {
				if containsStr(low, l) {
					found = true
				}
			}
			if !found {
				t.Errorf("%q matches %q but holds none of %q", expr, s, lits)
			}
		}
	})
}

func containsStr(s, sub string) bool { return len(sub) == 0 || indexStr(s, sub) >= 0 }

func indexStr(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestRegexRequiredSeq(t *testing.T) {
	for _, tc := range []struct {
		expr string
		seq  []string
	}{
		{`(?i)(?:set).*&&\s?set.*(?:environment|invoke).*&&.*"`, []string{"&&", "&&", `"`}},
		{`(?i)a\.b`, nil}, // one literal, with letters
		{`x\.Y`, []string{"x.Y"}},
		{`(?i)k`, nil}, // k folds to K and to the Kelvin sign
	} {
		if got := regexRequiredSeq(tc.expr); !slices.Equal(got, tc.seq) {
			t.Errorf("regexRequiredSeq(%q) = %q, want %q", tc.expr, got, tc.seq)
		}
	}
}

func TestRegexRuns(t *testing.T) {
	runs := regexRuns(`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`)
	if len(runs) != 2 {
		t.Fatalf("regexRuns: %d runs, want 2", len(runs))
	}
	hex64 := strings.Repeat("aB3", 21) + "f"
	if !hasRuns("jpsetup.exe "+hex64+" 0123456789abcdef", runs) {
		t.Error("a value with both runs was rejected")
	}
	if hasRuns("jpsetup.exe "+hex64[:63]+" 0123456789abcdef", runs) {
		t.Error("a value with a 63-byte run was accepted")
	}
}
