package correlate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// The table behaves as a map under random adds and removes of short and
// long keys, through growth and reuse of removed states.
func TestKeyTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newKeyTable()
	ref := map[string]int64{}
	key := func() string {
		k := fmt.Sprint(rng.IntN(3000))
		if rng.IntN(4) == 0 {
			k = strings.Repeat("long-", 5) + k // beyond the inline size
		}
		return k
	}
	for i := range 200_000 {
		k := key()
		st := tab.get([]byte(k))
		want, ok := ref[k]
		if (st != nil) != ok {
			t.Fatalf("op %d: get(%q) found %v, want %v", i, k, st != nil, ok)
		}
		switch {
		case st == nil:
			st = tab.add([]byte(k))
			st.es = append(st.es, entry{t: int64(i)})
			ref[k] = int64(i)
		case st.es[0].t != want || st.key() != k:
			t.Fatalf("op %d: state of %q holds %d and key %q, want %d", i, k, st.es[0].t, st.key(), want)
		case rng.IntN(2) == 0:
			tab.remove(st)
			delete(ref, k)
		}
		if tab.len() != len(ref) {
			t.Fatalf("op %d: len %d, want %d", i, tab.len(), len(ref))
		}
	}
	n := 0
	tab.all(func(st *keyState) bool {
		if ref[st.key()] != st.es[0].t {
			t.Errorf("all: %q holds %d, want %d", st.key(), st.es[0].t, ref[st.key()])
		}
		n++
		return true
	})
	if n != len(ref) {
		t.Errorf("all yielded %d states, want %d", n, len(ref))
	}
	// Removing everything while iterating leaves an empty table.
	tab.all(func(st *keyState) bool { tab.remove(st); return true })
	if tab.len() != 0 || tab.get([]byte("1")) != nil {
		t.Errorf("after removing all: len %d", tab.len())
	}
}
