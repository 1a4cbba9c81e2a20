package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadCursor is returned for a cursor that this store did not make, or
// made for another listing.
var ErrBadCursor = errors.New("invalid cursor")

// encodeCursor makes an opaque cursor: a kind byte, the key's numbers as
// varints and, when the key ends with an ID, its 16 bytes.
func encodeCursor(kind byte, nums []int64, id []byte) string {
	b := make([]byte, 0, 1+len(nums)*binary.MaxVarintLen64+len(id))
	b = append(b, kind)
	for _, n := range nums {
		b = binary.AppendVarint(b, n)
	}
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of kind with n numbers and, if idLen > 0, an
// ID of that many bytes.
func decodeCursor(s string, kind byte, n, idLen int) ([]int64, []byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || b[0] != kind {
		return nil, nil, fmt.Errorf("%w %q", ErrBadCursor, s)
	}
	b = b[1:]
	nums := make([]int64, n)
	for i := range nums {
		v, k := binary.Varint(b)
		if k <= 0 {
			return nil, nil, fmt.Errorf("%w %q", ErrBadCursor, s)
		}
		nums[i] = v
		b = b[k:]
	}
	if len(b) != idLen {
		return nil, nil, fmt.Errorf("%w %q", ErrBadCursor, s)
	}
	return nums, b, nil
}
