package sigma

// keyTable maps field names to small integers (slots) with open addressing
// and a cheap hash of the name's length and a few of its bytes: resolving
// every field of an event this way costs a few nanoseconds a field, where
// looking each rule field up in the event would scan the event again and
// again. Several slots may share one name.
type keyTable struct {
	mask  uint32
	names []string
	vals  [][]int32
}

func keyHash(s string) uint32 {
	n := len(s)
	h := uint32(n) * 0x9E3779B1
	if n > 0 {
		h ^= uint32(s[0]) * 0x85EBCA77
		h ^= uint32(s[n-1]) * 0xC2B2AE3D
		h ^= uint32(s[n/2]) * 0x27D4EB2F
		h ^= uint32(s[n/3]) * 0x165667B1
	}
	h ^= h >> 15
	h *= 0x2C1B3C6D
	h ^= h >> 13
	return h
}

func newKeyTable(names map[string][]int32) *keyTable {
	size := 8
	for size < 2*len(names) {
		size *= 2
	}
	t := &keyTable{mask: uint32(size - 1), names: make([]string, size), vals: make([][]int32, size)}
	for name, v := range names {
		i := keyHash(name) & t.mask
		for t.vals[i] != nil {
			i = (i + 1) & t.mask
		}
		t.names[i] = name
		t.vals[i] = v
	}
	return t
}

// id returns the first value of name, or -1.
func (t *keyTable) id(name string) int32 {
	if v := t.get(name); len(v) > 0 {
		return v[0]
	}
	return -1
}

// get returns the values of name, or nil.
func (t *keyTable) get(name string) []int32 {
	i := keyHash(name) & t.mask
	for t.vals[i] != nil {
		if t.names[i] == name {
			return t.vals[i]
		}
		i = (i + 1) & t.mask
	}
	return nil
}
