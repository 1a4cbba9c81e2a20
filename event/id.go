package event

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ID is a time-ordered unique identifier in the layout of a ULID: 48 bits
// of milliseconds since the Unix epoch followed by 80 bits of randomness.
// IDs made by one process are strictly increasing. An event's ID is assigned
// at first ingest and is its idempotency key everywhere downstream.
type ID [16]byte

// crockford is the Crockford base32 alphabet used by ULIDs.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var decodeTable = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(crockford); i++ {
		t[crockford[i]] = byte(i)
		t[crockford[i]|0x20] = byte(i) // lower case
	}
	return t
}()

// idGen produces monotonic IDs: within one millisecond the random part is
// incremented, so IDs sort in creation order.
type idGen struct {
	mu   sync.Mutex
	ms   uint64
	hi   uint16
	lo   uint64
	pool [512]byte
	used int
}

var gen = &idGen{used: 512}

// NewID returns a new ID for time t. IDs from one process are strictly
// increasing even when t does not advance or goes backwards.
func NewID(t time.Time) ID {
	return gen.next(uint64(t.UnixMilli()))
}

func (g *idGen) next(ms uint64) ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ms <= g.ms {
		// Same or earlier millisecond: keep order by incrementing.
		g.lo++
		if g.lo == 0 {
			g.hi++
			if g.hi == 0 {
				g.ms++ // 80 bits exhausted within a millisecond: borrow the next one
			}
		}
	} else {
		g.ms = ms
		if g.used+10 > len(g.pool) {
			if _, err := rand.Read(g.pool[:]); err != nil {
				panic("event: crypto/rand failed: " + err.Error())
			}
			g.used = 0
		}
		b := g.pool[g.used : g.used+10]
		g.used += 10
		g.hi = binary.BigEndian.Uint16(b[0:2])
		// Keep headroom for increments within the millisecond.
		g.lo = binary.BigEndian.Uint64(b[2:10]) >> 1
	}
	var id ID
	id[0] = byte(g.ms >> 40)
	id[1] = byte(g.ms >> 32)
	id[2] = byte(g.ms >> 24)
	id[3] = byte(g.ms >> 16)
	id[4] = byte(g.ms >> 8)
	id[5] = byte(g.ms)
	binary.BigEndian.PutUint16(id[6:8], g.hi)
	binary.BigEndian.PutUint64(id[8:16], g.lo)
	return id
}

// Time returns the millisecond timestamp encoded in the ID.
func (id ID) Time() time.Time {
	ms := uint64(id[0])<<40 | uint64(id[1])<<32 | uint64(id[2])<<24 |
		uint64(id[3])<<16 | uint64(id[4])<<8 | uint64(id[5])
	return time.UnixMilli(int64(ms)).UTC()
}

// IsZero reports whether the ID is unset.
func (id ID) IsZero() bool { return id == ID{} }

// String returns the 26-character Crockford base32 form.
func (id ID) String() string {
	b := id.appendText(make([]byte, 0, 26))
	return string(b)
}

func (id ID) appendText(dst []byte) []byte {
	// 128 bits as 26 base32 digits: the first digit carries 3 bits.
	var hi, lo uint64 = binary.BigEndian.Uint64(id[0:8]), binary.BigEndian.Uint64(id[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return append(dst, out[:]...)
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return id.appendText(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ErrBadID is returned by ParseID for text that is not an ID.
var ErrBadID = errors.New("invalid event id")

// ParseID parses the 26-character text form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 26 {
		return id, fmt.Errorf("%w %q: want 26 characters, got %d", ErrBadID, s, len(s))
	}
	if decodeTable[s[0]] > 7 {
		return id, fmt.Errorf("%w %q: overflows 128 bits", ErrBadID, s)
	}
	var hi, lo uint64
	for i := 0; i < 26; i++ {
		d := decodeTable[s[i]]
		if d == 0xFF {
			return id, fmt.Errorf("%w %q: bad character %q", ErrBadID, s, s[i])
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(d)
	}
	binary.BigEndian.PutUint64(id[0:8], hi)
	binary.BigEndian.PutUint64(id[8:16], lo)
	return id, nil
}
