package correlate

import (
	"hash/maphash"
	"math/rand/v2"
)

// keyTable maps group-by keys to their windows. It is built for millions
// of live keys: an open-addressing table of 8-byte slots points into
// fixed-size chunks of states, and keys up to 22 bytes live inside their
// state, so a lookup touches one slot and one state (a Go map of pointers
// touches a control word, a slot, the key's bytes and the state), and the
// garbage collector scans chunks instead of chasing three objects per key.
// States never move: a *keyState stays valid until it is removed.
type keyTable struct {
	seed   maphash.Seed
	slots  []uint64 // 0: empty, 1: removed, else tag<<32 | (ref+2)
	chunks [][]keyState
	free   []uint32 // refs of removed states, for reuse
	next   uint32   // refs below it have been handed out
	live   int
	dead   int // removed slots
}

const (
	chunkBits   = 10
	chunkSize   = 1 << chunkBits
	inlineKey   = 22
	externalKey = 0xFF
	slotEmpty   = 0
	slotRemoved = 1
)

// keyState is the window of one group-by key, oldest entry first. The first
// two entries live inside it: most keys hold one or two events. 128 bytes.
type keyState struct {
	es   []entry
	inl  [2]entry
	kext string          // the key, when longer than inlineKey
	kin  [inlineKey]byte // the key, when it fits
	klen uint8           // length of kin, or externalKey
	used bool
}

func newKeyTable() *keyTable { return &keyTable{seed: maphash.MakeSeed()} }

func (t *keyTable) len() int { return t.live }

func (st *keyState) keyEqual(k []byte) bool {
	if st.klen == externalKey {
		return st.kext == string(k)
	}
	return int(st.klen) == len(k) && string(st.kin[:st.klen]) == string(k)
}

func (st *keyState) keyLen() int {
	if st.klen == externalKey {
		return len(st.kext)
	}
	return int(st.klen)
}

// appendKey appends the group-by key to b.
func (st *keyState) appendKey(b []byte) []byte {
	if st.klen == externalKey {
		return append(b, st.kext...)
	}
	return append(b, st.kin[:st.klen]...)
}

// key returns the group-by key.
func (st *keyState) key() string {
	if st.klen == externalKey {
		return st.kext
	}
	return string(st.kin[:st.klen])
}

func (t *keyTable) state(ref uint32) *keyState {
	return &t.chunks[ref>>chunkBits][ref&(chunkSize-1)]
}

// find returns the slot of k, or -1.
func (t *keyTable) find(k []byte) int {
	if len(t.slots) == 0 {
		return -1
	}
	h := maphash.Bytes(t.seed, k)
	tag, mask := h>>32, uint64(len(t.slots)-1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == slotEmpty {
			return -1
		}
		if s != slotRemoved && s>>32 == tag && t.state(uint32(s)-2).keyEqual(k) {
			return int(i)
		}
	}
}

// get returns the state of k, or nil.
func (t *keyTable) get(k []byte) *keyState {
	i := t.find(k)
	if i < 0 {
		return nil
	}
	return t.state(uint32(t.slots[i]) - 2)
}

// add inserts k, which must be absent, with an empty window.
func (t *keyTable) add(k []byte) *keyState {
	if (t.live+t.dead+1)*4 > len(t.slots)*3 {
		t.rehash()
	}
	var ref uint32
	if n := len(t.free); n > 0 {
		ref, t.free = t.free[n-1], t.free[:n-1]
	} else {
		ref = t.next
		t.next++
		if int(ref>>chunkBits) == len(t.chunks) {
			t.chunks = append(t.chunks, make([]keyState, chunkSize))
		}
	}
	st := t.state(ref)
	st.used = true
	st.es = st.inl[:0]
	if len(k) <= inlineKey {
		st.klen = uint8(copy(st.kin[:], k))
	} else {
		st.klen, st.kext = externalKey, string(k)
	}
	t.place(maphash.Bytes(t.seed, k), ref)
	t.live++
	return st
}

func (t *keyTable) place(h uint64, ref uint32) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] > slotRemoved {
		i = (i + 1) & mask
	}
	if t.slots[i] == slotRemoved {
		t.dead--
	}
	t.slots[i] = h>>32<<32 | uint64(ref+2)
}

// rehash sizes the table for twice the live keys (a load of at most a
// half, and add rehashes at three quarters), dropping removed slots.
func (t *keyTable) rehash() {
	n := 16
	for n < (t.live+1)*2 {
		n *= 2
	}
	old := t.slots
	t.slots, t.dead = make([]uint64, n), 0
	var buf []byte
	for _, s := range old {
		if s > slotRemoved {
			ref := uint32(s) - 2
			st := t.state(ref)
			buf = st.appendKey(buf[:0])
			t.place(maphash.Bytes(t.seed, buf), ref)
		}
	}
}

// remove deletes the state's key; st must not be used afterwards.
func (t *keyTable) remove(st *keyState) {
	var k []byte
	if st.klen == externalKey {
		k = []byte(st.kext)
	} else {
		k = st.kin[:st.klen]
	}
	i := t.find(k)
	if i < 0 {
		panic("correlate: removing a key that is not in the table")
	}
	ref := uint32(t.slots[i]) - 2
	t.slots[i] = slotRemoved
	*st = keyState{}
	t.free = append(t.free, ref)
	t.live--
	t.dead++
	if t.live == 0 && t.next > chunkSize {
		// Start afresh: the memory of a past flood goes back.
		*t = keyTable{seed: t.seed}
	}
}

// all yields every live state; the yield function may remove the state it
// is given.
func (t *keyTable) all(yield func(*keyState) bool) {
	for ref := uint32(0); ref < t.next; ref++ {
		if st := t.state(ref); st.used && !yield(st) {
			return
		}
	}
}

// sample yields live states picked at random, until yield returns false.
// The table must not be empty.
func (t *keyTable) sample(yield func(*keyState) bool) {
	for {
		if st := t.state(uint32(rand.IntN(int(t.next)))); st.used && !yield(st) {
			return
		}
	}
}
