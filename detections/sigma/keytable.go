package sigma

// keyTable maps field names to small integers (directory ids) with open
// addressing and a cheap hash of the name's length and a few of its bytes:
// resolving every field of an event this way costs a few nanoseconds a
// field, where looking each rule field up in the event would scan the
// event again and again. An entry holds its name's hash, so that a probe
// compares names only when the hashes agree, and one cache line answers it.
type keyTable struct {
	mask uint32
	ents []keyEntry
}

type keyEntry struct {
	hash uint32
	id   int32 // -1: empty
	name string
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

func newKeyTable(names map[string]int32) *keyTable {
	size := 8
	for size < 2*len(names) {
		size *= 2
	}
	t := &keyTable{mask: uint32(size - 1), ents: make([]keyEntry, size)}
	for i := range t.ents {
		t.ents[i].id = -1
	}
	for name, id := range names {
		h := keyHash(name)
		i := h & t.mask
		for t.ents[i].id >= 0 {
			i = (i + 1) & t.mask
		}
		t.ents[i] = keyEntry{hash: h, id: id, name: name}
	}
	return t
}

// id returns the id of name, or -1.
func (t *keyTable) id(name string) int32 {
	h := keyHash(name)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := &t.ents[i]
		if e.id < 0 || (e.hash == h && e.name == name) {
			return e.id
		}
	}
}
