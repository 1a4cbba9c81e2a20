package sigma

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naiveContains is what a gram scanner must report: each pattern that
// occurs in text, once.
func naiveContains(pats []string, text string) []int32 {
	var out []int32
	for i, p := range pats {
		if strings.Contains(text, p) {
			out = append(out, int32(i))
		}
	}
	return out
}

func checkGrams(t *testing.T, pats, texts []string) {
	t.Helper()
	ids := make([]int32, len(pats))
	for i := range ids {
		ids[i] = int32(i)
	}
	s := newGramScanner(pats, ids)
	for _, text := range texts {
		got := slices.Compact(slices.Sorted(slices.Values(s.scan(text, nil))))
		if want := naiveContains(pats, text); !slices.Equal(got, want) {
			t.Errorf("patterns %q, text %q: got %v, want %v", pats, text, got, want)
		}
	}
}

func TestGramScanner(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pats  []string
		texts []string
	}{
		{"lengths", []string{"%", "he", "she", "his", "hers", "\\cmd.exe", ".exe", "cmd", "c:\\windows\\"},
			[]string{"ushers", "", "c:\\windows\\cmd.exe /c whoami", "hishers", "shhe", "%", "a%", "h", "he", "cmd"}},
		{"at the ends", []string{"abcd", "bcde", "xy", "xyz", "abcdefghijkl"},
			[]string{"abcd", "bcde", "abcde", "xy", "xyz", "axy", "zabcdefghijkl", "abcdefghijk", "bcd"}},
		{"long", []string{"wevtutil cl application & fsutil usn deletejournal /d c:", "abcdefghijklmnopq", strings.Repeat("ab", 200) + "c"},
			[]string{"wevtutil cl application & fsutil usn deletejournal /d c:", "wevtutil cl application & fsutil usn deletejournal /d d:",
				"xabcdefghijklmnopqx", "abcdefghijklmnop", "abcdefghXjklmnopq", strings.Repeat("ab", 201) + "c", strings.Repeat("ab", 201)}},
		{"shared grams", []string{"-enc ", "-encodedcommand", "-ec ", " -e ", "-en", "enc"},
			[]string{"powershell -enc aaa", "powershell.exe -encodedcommand x", "-e", " -ec ", "-en"}},
		{"non-ascii", []string{"ë", "ëhe", "ü.exe", "\xe2\x80\x8b"},
			[]string{"ëhe", "xü.exe", "\xe2\x80\x8b", "e\xcc\x88he"}},
		{"duplicates and empty", []string{"abc", "abc", "", "abcd", "abcd"},
			[]string{"", "ab", "abcd"}},
		{"none", nil, []string{"", "abc"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGrams(t, tc.pats, tc.texts) })
	}
}

// TestGramScannerRandom compares with a plain search on random patterns over
// small alphabets (many shared grams, hash collisions in the filter and the
// buckets) and a larger one.
func TestGramScannerRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func(alphabet string, n int) string { return randomWord(rng, alphabet, n) }
	for _, alphabet := range []string{"ab", `abcdefghijklmnopqrstuvwxyz.\ -`, "\x00\x7f\x80\xff"} {
		for _, n := range []int{5, 300, 5000} {
			var pats []string
			for range n {
				pats = append(pats, word(alphabet, 1+rng.IntN(20)))
			}
			var texts []string
			for range 300 {
				texts = append(texts, word(alphabet, rng.IntN(80)))
			}
			checkGrams(t, pats, texts)
		}
	}
}

func FuzzGramScanner(f *testing.F) {
	f.Add("abc,bc,c", "xabcabc")
	f.Add("\\cmd.exe,.exe, /c,c:\\windows\\system32\\", "c:\\windows\\system32\\cmd.exe /c dir")
	f.Fuzz(func(t *testing.T, pats, text string) {
		ps := strings.Split(pats, ",")
		if len(ps) > 50 || len(text) > 300 {
			return
		}
		checkGrams(t, ps, []string{text})
	})
}
