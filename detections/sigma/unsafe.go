package sigma

import (
	"encoding/binary"
	"unsafe"
)

// bufString views bytes of the evaluation scratch as a string without a
// copy. The bytes are never written again during the evaluation that uses
// the string (the buffer only grows), which is what makes this safe.
func bufString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// load64 reads the eight bytes of s at i (i+8 <= len(s)) as one
// little-endian word.
func load64(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
}

// load32 reads the four bytes of s at i (i+4 <= len(s)) as one
// little-endian word.
func load32(s string, i int) uint32 {
	return binary.LittleEndian.Uint32(unsafe.Slice(unsafe.StringData(s[i:]), 4))
}
