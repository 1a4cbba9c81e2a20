package sigma

import "github.com/danang-soc/vigil/event"

// keyCache remembers, for the key sequences (shapes) of the events one
// scratch has seen, the directory id of each field: events of a source
// share their keys, in the same order, so that resolving an event's fields
// is comparing its keys with those of an earlier event instead of looking
// each up in the keyTable. A shape has one place, chosen by the number of
// keys and the lengths of a few; another shape there replaces it.
type keyCache struct {
	shapes [keyCacheSize]keyShape
}

const keyCacheSize = 32 // a power of two

// keyShape is the keys of one event, concatenated, and their ids.
type keyShape struct {
	keys []byte
	ends []int32 // per field: where its key ends in keys
	ids  []int32 // per field: its directory id, or -1
}

// ids returns the directory id of each field of fs.
func (kc *keyCache) ids(fs event.Fields, dir *keyTable) []int32 {
	s := &kc.shapes[shapeSlot(fs)]
	if s.holds(fs) {
		return s.ids
	}
	s.keys, s.ends, s.ids = s.keys[:0], s.ends[:0], s.ids[:0]
	for i := range fs {
		s.keys = append(s.keys, fs[i].Key...)
		s.ends = append(s.ends, int32(len(s.keys)))
		s.ids = append(s.ids, dir.id(fs[i].Key))
	}
	return s.ids
}

// shapeSlot is the place of fs's shape in a keyCache.
func shapeSlot(fs event.Fields) uint32 {
	n := len(fs)
	h := uint32(n) * 0x9E3779B1
	if n > 0 {
		h ^= uint32(len(fs[0].Key)) * 0x85EBCA77
		h ^= uint32(len(fs[n/2].Key)) * 0xC2B2AE3D
		h ^= uint32(len(fs[n-1].Key)) * 0x27D4EB2F
	}
	return (h ^ h>>16) % keyCacheSize
}

// holds reports whether fs has exactly the shape's keys, in order.
func (s *keyShape) holds(fs event.Fields) bool {
	if len(fs) != len(s.ends) {
		return false
	}
	start := int32(0)
	for i := range fs {
		end := s.ends[i]
		if fs[i].Key != bufString(s.keys[start:end]) {
			return false
		}
		start = end
	}
	return true
}
