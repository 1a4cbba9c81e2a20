package sigma

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/danang-soc/vigil/event"
)

func keyFields(keys ...string) event.Fields {
	fs := make(event.Fields, len(keys))
	for i, k := range keys {
		fs[i] = event.Field{Key: k, Value: event.String("v")}
	}
	return fs
}

// naiveIDs looks every key up in the table.
func naiveIDs(fs event.Fields, dir *keyTable) []int32 {
	ids := make([]int32, len(fs))
	for i := range fs {
		ids[i] = dir.id(fs[i].Key)
	}
	return ids
}

// TestKeyCache: the cached ids of a sequence of events are the table's,
// whether a shape repeats, changes order, loses a key or is new.
func TestKeyCache(t *testing.T) {
	dir := newKeyTable(map[string]int32{"Image": 0, "CommandLine": 1, "EventID": 2, "User": 3})
	events := []event.Fields{
		keyFields("EventID", "Image", "CommandLine", "Other"),
		keyFields("EventID", "Image", "CommandLine", "Other"),
		keyFields("EventID", "CommandLine", "Image", "Other"),
		keyFields("EventID", "Image", "CommandLine"),
		keyFields("EventID", "Image", "CommandLinf", "Other"),
		keyFields(),
		keyFields("User", "User", "Image"),
		keyFields("EventID", "Image", "CommandLine", "Other"),
		keyFields("Image"),
		keyFields("Imagf"),
		keyFields("Image", "CommandLine"),
		keyFields("ImageC", "ommandLine"),
	}
	var kc keyCache
	for round := range 2 {
		for i, fs := range events {
			if got, want := kc.ids(fs, dir), naiveIDs(fs, dir); !slices.Equal(got, want) {
				t.Errorf("round %d, event %d: ids %v, want %v", round, i, got, want)
			}
		}
	}
}

// TestKeyCacheRandom: over random streams of events with a few shapes and
// their variants (more than the cache has places), the cached ids are the
// table's.
func TestKeyCacheRandom(t *testing.T) {
	names := []string{"Image", "CommandLine", "EventID", "User", "ParentImage", "Hashes", "x", "y", "Channel"}
	known := map[string]int32{}
	for i, n := range names[:6] {
		known[n] = int32(i)
	}
	dir := newKeyTable(known)
	rng := rand.New(rand.NewPCG(3, 4))
	var shapes []event.Fields
	for range 2 * keyCacheSize {
		keys := make([]string, rng.IntN(8))
		for i := range keys {
			keys[i] = names[rng.IntN(len(names))]
		}
		shapes = append(shapes, keyFields(keys...))
	}
	var kc keyCache
	for range 20000 {
		fs := shapes[rng.IntN(len(shapes))]
		if rng.IntN(4) == 0 {
			fs = slices.Clone(fs)
			if len(fs) > 0 {
				fs[rng.IntN(len(fs))].Key = names[rng.IntN(len(names))]
			}
		}
		if got, want := kc.ids(fs, dir), naiveIDs(fs, dir); !slices.Equal(got, want) {
			t.Fatalf("%v: ids %v, want %v", fs, got, want)
		}
	}
}
