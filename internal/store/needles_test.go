package store

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestLowerASCII checks the eight-bytes-at-a-time lower-casing against
// a byte at a time over every byte value at every offset.
func TestLowerASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for n := range 40 {
		s := make([]byte, n)
		for i := range s {
			s[i] = byte(r.IntN(256))
		}
		if n == 39 {
			for i := range s {
				s[i] = byte(i + 50) // through '@', 'A'..'Z', '[' and the lower case
			}
		}
		want := make([]byte, n)
		for i, c := range s {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			want[i] = c
		}
		if got := lowerASCII([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("lowerASCII(%q) = %q, want %q", s, got[1:], want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	got := lowerASCII(nil, all)
	for i, c := range got {
		want := byte(i)
		if 'A' <= want && want <= 'Z' {
			want += 'a' - 'A'
		}
		if c != want {
			t.Errorf("byte %#x lower-cased to %#x, want %#x", i, c, want)
		}
	}
}
