package sigma

import (
	"slices"
	"strings"
	"testing"
)

// naiveFind is what the automaton must report: every (end, pattern) pair.
func naiveFind(pats []string, text string) []int32 {
	var out []int32
	low := strings.ToLower(text)
	for end := 1; end <= len(low); end++ {
		for i, p := range pats {
			if strings.HasSuffix(low[:end], p) {
				out = append(out, int32(i))
			}
		}
	}
	return out
}

func checkAC(t *testing.T, pats []string, texts []string) {
	t.Helper()
	for _, budget := range []int{0, 64, acDenseBytes} { // all sparse, mixed, all dense
		m := newACMatcherBudget(pats, budget)
		for _, text := range texts {
			got := m.scan(text, nil)
			want := naiveFind(pats, text)
			slices.Sort(got)
			slices.Sort(want)
			if !m.ascii {
				// Non-ASCII bytes share a class: a superset is expected.
				if !subset(want, got) {
					t.Errorf("budget %d, patterns %q, text %q: got %v, want at least %v", budget, pats, text, got, want)
				}
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("budget %d, patterns %q, text %q: got %v, want %v", budget, pats, text, got, want)
			}
		}
	}
}

func TestACMatcher(t *testing.T) {
	checkAC(t, []string{"he", "she", "his", "hers", "e", "\\cmd.exe", ".exe", "cmd"},
		[]string{"ushers", "", "C:\\Windows\\CMD.EXE /c whoami", "hishers", "shhe", "ëhe"})
}

func FuzzACMatcher(f *testing.F) {
	f.Add("abc,bc,c", "xabcabc")
	f.Add("\\cmd.exe,.exe, /c", "C:\\Windows\\System32\\cmd.exe /c dir")
	f.Fuzz(func(t *testing.T, pats, text string) {
		var ps []string
		for _, p := range strings.Split(strings.ToLower(pats), ",") {
			if p != "" && len(ps) < 20 {
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 || len(text) > 200 {
			return
		}
		// The automaton folds ASCII upper case only when every pattern
		// is ASCII; compare on lower-cased text otherwise.
		m := newACMatcherBudget(ps, 64)
		if !m.ascii || foldTrap(text) {
			text = strings.ToLower(text)
		}
		checkAC(t, ps, []string{text})
	})
}

func subset(a, b []int32) bool {
	for _, x := range a {
		i, ok := slices.BinarySearch(b, x)
		if !ok {
			return false
		}
		b = slices.Delete(slices.Clone(b), i, i+1)
	}
	return true
}

// TestACMatcherLarge covers automata too large for complete rows.
func TestACMatcherLarge(t *testing.T) {
	var pats []string
	x := uint32(1)
	for len(pats) < 5000 {
		var b strings.Builder
		for j := 0; j < 10; j++ {
			x = x*1664525 + 1013904223
			b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[x>>27%36])
		}
		pats = append(pats, b.String())
	}
	m := newACMatcher(pats)
	if m.ndense == len(m.fail) {
		t.Fatalf("all %d states have rows; the test wants deep ones", len(m.fail))
	}
	text := "xx" + pats[17] + "yy" + strings.ToUpper(pats[4000]) + pats[4999][:9]
	checkAC(t, pats, []string{text})
}

func TestSkipScanner(t *testing.T) {
	pats := []string{"imphash=0123456789ab", "sha256=deadbeefcafe", "\\evil\\path.exe", "0123456789abcdef"}
	s := newSkipScanner(pats, []int32{0, 1, 2, 3})
	if s == nil {
		t.Fatal("no skip scanner for long needles")
	}
	for _, text := range []string{
		"SHA1=00,MD5=11,SHA256=DEADBEEFCAFE00,IMPHASH=0123456789AB",
		"C:\\Evil\\Path.exe", "0123456789abcdeX", "short", "", "xx0123456789ABCDEFyy",
	} {
		got := s.scan(text, nil)
		want := naiveFind(pats, text)
		slices.Sort(got)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
	}
	if newSkipScanner([]string{"short", "longer needle"}, []int32{0, 1}) != nil {
		t.Error("skip scanner built with a short needle")
	}
}

func FuzzSkipScanner(f *testing.F) {
	f.Add("imphash=0123456789ab,sha256=deadbeefcafe", "x,IMPHASH=0123456789AB,SHA256=DEADBEEFCAFE")
	f.Fuzz(func(t *testing.T, pats, text string) {
		var ps []string
		var ids []int32
		for _, p := range strings.Split(strings.ToLower(pats), ",") {
			if len(ps) < 20 {
				ps = append(ps, p)
				ids = append(ids, int32(len(ids)))
			}
		}
		s := newSkipScanner(ps, ids)
		if s == nil || len(text) > 300 || !isASCII(text) {
			return
		}
		got := s.scan(text, nil)
		want := naiveFind(ps, text)
		slices.Sort(got)
		got = slices.Compact(got)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(got, want) {
			t.Errorf("patterns %q, text %q: got %v, want %v", ps, text, got, want)
		}
	})
}
