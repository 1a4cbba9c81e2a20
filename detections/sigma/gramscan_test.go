package sigma

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naiveFinds is what a gram scanner must report: each pattern that occurs
// in text where its kind says, once.
func naiveFinds(pats []string, kinds []strKind, text string) []int32 {
	var out []int32
	for i, p := range pats {
		m := strMatcher{kind: kinds[i], s: p}
		if m.match(text) {
			out = append(out, int32(i))
		}
	}
	return out
}

func checkGrams(t *testing.T, pats []string, kinds []strKind, texts []string) {
	t.Helper()
	if kinds == nil {
		kinds = make([]strKind, len(pats))
		for i := range kinds {
			kinds[i] = strContains
		}
	}
	ids := make([]int32, len(pats))
	for i := range ids {
		ids[i] = int32(i)
	}
	s := newGramScanner(pats, kinds, ids)
	for _, text := range texts {
		got := slices.Compact(slices.Sorted(slices.Values(s.scan(text, nil))))
		if want := naiveFinds(pats, kinds, text); !slices.Equal(got, want) {
			t.Errorf("patterns %q (kinds %v), text %q: got %v, want %v", pats, kinds, text, got, want)
		}
	}
}

func TestGramScanner(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pats  []string
		kinds []strKind // nil: all strContains
		texts []string
	}{
		{"lengths", []string{"%", "he", "she", "his", "hers", "\\cmd.exe", ".exe", "cmd", "c:\\windows\\"}, nil,
			[]string{"ushers", "", "c:\\windows\\cmd.exe /c whoami", "hishers", "shhe", "%", "a%", "h", "he", "cmd"}},
		{"at the ends", []string{"abcd", "bcde", "xy", "xyz", "abcdefghijkl"}, nil,
			[]string{"abcd", "bcde", "abcde", "xy", "xyz", "axy", "zabcdefghijkl", "abcdefghijk", "bcd"}},
		{"long", []string{"wevtutil cl application & fsutil usn deletejournal /d c:", "abcdefghijklmnopq", strings.Repeat("ab", 200) + "c"}, nil,
			[]string{"wevtutil cl application & fsutil usn deletejournal /d c:", "wevtutil cl application & fsutil usn deletejournal /d d:",
				"xabcdefghijklmnopqx", "abcdefghijklmnop", "abcdefghXjklmnopq", strings.Repeat("ab", 201) + "c", strings.Repeat("ab", 201)}},
		{"shared grams", []string{"-enc ", "-encodedcommand", "-ec ", " -e ", "-en", "enc"}, nil,
			[]string{"powershell -enc aaa", "powershell.exe -encodedcommand x", "-e", " -ec ", "-en"}},
		{"non-ascii", []string{"ë", "ëhe", "ü.exe", "\xe2\x80\x8b"}, nil,
			[]string{"ëhe", "xü.exe", "\xe2\x80\x8b", "e\xcc\x88he"}},
		{"duplicates and empty", []string{"abc", "abc", "", "abcd", "abcd"}, nil,
			[]string{"", "ab", "abcd"}},
		{"many pairs", []string{"ab", "bc", "cde", "de", "ef", "xyz", "xyzw"}, []strKind{strContains, strPrefix, strSuffix, strExact, strContains, strContains, strContains},
			[]string{"", "a", "ab", "bcde", "de", "xabcdef", "cde", "xyz", "wxyzw"}},
		{"none", nil, nil, []string{"", "abc"}},
		{"anchored", []string{"\\cmd.exe", "c:\\windows\\", "cmd.exe", "cmd", "c", "", "ab", "abcd", "abcd"},
			[]strKind{strSuffix, strPrefix, strExact, strPrefix, strSuffix, strExact, strExact, strPrefix, strSuffix},
			[]string{"c:\\windows\\cmd.exe", "cmd.exe", "cmd.exe /c", "c:\\windows\\", "", "ab", "abc", "abcd", "abcdabcd", "xc:\\windows\\cmd.exe "}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGrams(t, tc.pats, tc.kinds, tc.texts) })
	}
}

// TestGramScannerRandom compares with a plain search on random patterns over
// small alphabets (many shared grams, hash collisions in the filter and the
// buckets) and a larger one.
func TestGramScannerRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func(alphabet string, n int) string { return randomWord(rng, alphabet, n) }
	kindsOf := []strKind{strContains, strPrefix, strSuffix, strExact}
	for _, alphabet := range []string{"ab", `abcdefghijklmnopqrstuvwxyz.\ -`, "\x00\x7f\x80\xff"} {
		for _, n := range []int{5, 300, 5000} {
			var pats []string
			var kinds []strKind
			for range n {
				pats = append(pats, word(alphabet, 1+rng.IntN(20)))
				kinds = append(kinds, kindsOf[rng.IntN(len(kindsOf))])
			}
			var texts []string
			for range 300 {
				texts = append(texts, word(alphabet, rng.IntN(80)))
			}
			for range 30 { // whole patterns, and with a byte before or after
				p := pats[rng.IntN(len(pats))]
				texts = append(texts, p, word(alphabet, 1)+p, p+word(alphabet, 1))
			}
			checkGrams(t, pats, kinds, texts)
		}
	}
}

// FuzzGramScanner: pats is split at commas; kinds gives each pattern's kind
// by its bytes (0 to 3: exact, prefix, suffix, contains).
func FuzzGramScanner(f *testing.F) {
	f.Add("abc,bc,c", "\x03\x03\x03", "xabcabc")
	f.Add("\\cmd.exe,.exe, /c,c:\\windows\\system32\\", "\x02\x03\x03\x01", "c:\\windows\\system32\\cmd.exe /c dir")
	f.Add("cmd.exe,cmd,", "\x00\x01\x00", "cmd.exe")
	f.Fuzz(func(t *testing.T, pats, kinds, text string) {
		ps := strings.Split(pats, ",")
		if len(ps) > 50 || len(text) > 300 {
			return
		}
		ks := make([]strKind, len(ps))
		for i := range ks {
			ks[i] = strContains
			if i < len(kinds) {
				ks[i] = strKind(kinds[i] % 4)
			}
		}
		checkGrams(t, ps, ks, []string{text})
	})
}
