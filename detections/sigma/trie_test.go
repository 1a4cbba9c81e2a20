package sigma

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestTrie compares the trie walks with a plain search over every pattern,
// on tries with nodes of few edges and of complete rows.
func TestTrie(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(alphabet string, n int) string { return randomWord(rng, alphabet, n) }
	for _, alphabet := range []string{"ab", `abcdefghijklmnopqrstuvwxyz.\`, "\x00\x7f\x80\xff"} {
		var pats []string
		var ids []int32
		for i := range 300 {
			pats = append(pats, word(alphabet, 1+rng.IntN(5)))
			ids = append(ids, int32(i))
		}
		tr := newTrie(pats, ids, false)
		trFold := newTrie(pats, ids, true)
		for range 2000 {
			v := word(alphabet, rng.IntN(9))
			var wantPre, wantSuf []int32
			for i, p := range pats {
				if strings.HasPrefix(v, p) {
					wantPre = append(wantPre, ids[i])
				}
				if strings.HasPrefix(reverse(v), p) {
					wantSuf = append(wantSuf, ids[i])
				}
			}
			gotPre, gotSuf := tr.walkPrefix(v, nil), tr.walkSuffix(v, nil)
			slices.Sort(gotPre)
			slices.Sort(gotSuf)
			if !slices.Equal(gotPre, wantPre) || !slices.Equal(gotSuf, wantSuf) {
				t.Fatalf("%q: walkPrefix %v, walkSuffix %v; want %v, %v", v, gotPre, gotSuf, wantPre, wantSuf)
			}
			// A folding trie walks upper-case ASCII as lower case.
			up := strings.ToUpper(v)
			foldPre, foldSuf := trFold.walkPrefix(up, nil), trFold.walkSuffix(up, nil)
			slices.Sort(foldPre)
			slices.Sort(foldSuf)
			if isASCII(v) && (!slices.Equal(foldPre, wantPre) || !slices.Equal(foldSuf, wantSuf)) {
				t.Fatalf("%q folded: walkPrefix %v, walkSuffix %v; want %v, %v", up, foldPre, foldSuf, wantPre, wantSuf)
			}
			// One that does not fold compares bytes as they are.
			var wantUp []int32
			for i, p := range pats {
				if strings.HasPrefix(up, p) {
					wantUp = append(wantUp, ids[i])
				}
			}
			gotUp := tr.walkPrefix(up, nil)
			slices.Sort(gotUp)
			if !slices.Equal(gotUp, wantUp) {
				t.Fatalf("%q: walkPrefix %v, want %v", up, gotUp, wantUp)
			}
			if tr.startsOne(v) != (len(wantPre) > 0) || tr.endsOne(v) != (len(wantSuf) > 0) {
				t.Fatalf("%q: startsOne %v, endsOne %v; want %v, %v", v, tr.startsOne(v), tr.endsOne(v), len(wantPre) > 0, len(wantSuf) > 0)
			}
		}
	}
}

// randomWord is n bytes drawn from alphabet.
func randomWord(rng *rand.Rand, alphabet string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}
