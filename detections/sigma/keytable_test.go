package sigma

import "testing"

func TestKeyTable(t *testing.T) {
	// "abcde" and "abcXe" differ only in a byte the hash does not read.
	names := map[string]int32{"abcde": 0, "abcXe": 1, "Image": 2, "": 3, "CommandLine": 4}
	for i := range 40 {
		names[string(rune('A'+i))+"_field"] = int32(10 + i)
	}
	kt := newKeyTable(names)
	for name, id := range names {
		if got := kt.id(name); got != id {
			t.Errorf("id(%q) = %d, want %d", name, got, id)
		}
	}
	for _, name := range []string{"abcYe", "image", "Image ", "CommandLin", "x"} {
		if got := kt.id(name); got != -1 {
			t.Errorf("id(%q) = %d, want -1", name, got)
		}
	}
}
