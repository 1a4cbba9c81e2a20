package event

import (
	"encoding/json"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestIDOrderAndText(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var prev ID
	for i := 0; i < 1000; i++ {
		id := NewID(now) // same millisecond: must still increase
		if i > 0 && string(id[:]) <= string(prev[:]) {
			t.Fatalf("id %d = %s not after %s", i, id, prev)
		}
		s := id.String()
		if len(s) != 26 {
			t.Fatalf("len(%q) = %d, want 26", s, len(s))
		}
		back, err := ParseID(s)
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", s, back, err, id)
		}
		if i > 0 && s <= prev.String() {
			t.Fatalf("text %s does not sort after %s", s, prev)
		}
		prev = id
	}
	if got := prev.Time(); !got.Equal(now) {
		t.Errorf("Time() = %v, want %v", got, now)
	}
	for _, bad := range []string{"", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "01ARZ3NDEKTSV4RRFFQ69G5FA"} {
		if _, err := ParseID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q) error = %v, want ErrBadID", bad, err)
		}
	}
}

func TestDecodeJSONFlattens(t *testing.T) {
	in := `{"@timestamp":"2026-11-29T10:00:00.5Z","logsource":{"product":"postgresql","category":"database"},
	"host":{"name":"db1"},"db.user":"alice","n":42,"ok":true,"x":null,"tags":["a","b"],
	"procs":[{"pid":1},{"pid":2}],"esc":"a\"b\\c\u00e9\ud83d\ude00","event.original":"raw line","empty":[]}`
	ev, err := DecodeJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{
		Time:   time.Date(2026, 11, 29, 10, 0, 0, 5e8, time.UTC),
		Source: LogSource{Product: "postgresql", Category: "database"},
		Raw:    "raw line",
		Fields: Fields{
			{"host.name", String("db1")},
			{"db.user", String("alice")},
			{"n", Number("42")},
			{"ok", Bool(true)},
			{"x", Null()},
			{"tags", Strings("a", "b")},
			{"procs.pid", List(Number("1"), Number("2"))},
			{"esc", String("a\"b\\cé😀")},
			{"empty", List()},
		},
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("DecodeJSON mismatch (-want +got):\n%s", diff)
	}
	if ev.Host() != "db1" {
		t.Errorf("Host() = %q, want db1", ev.Host())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	ev := Event{
		ID:       NewID(time.Now()),
		Time:     time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Received: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Source:   LogSource{Product: "mysql", Service: "audit"},
		Fields: Fields{
			{"db.statement", String("SELECT '<x>' & \"y\"\n\t\x01\u2028")},
			{"db.response.rows", Int(20000)},
			{"list", List(String("a"), Number("1.5e3"), Bool(false), Null())},
		},
		Raw: "raw",
	}
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Event
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	if diff := cmp.Diff(ev, back); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s\njson: %s", diff, b)
	}
}

func TestDecodeJSONKeepsUnparsableReserved(t *testing.T) {
	ev, err := DecodeJSON([]byte(`{"@timestamp":"yesterday","event.id":"not-an-id"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Time.IsZero() || !ev.ID.IsZero() {
		t.Errorf("got time %v id %v, want both unset", ev.Time, ev.ID)
	}
	if got := ev.Fields.Str("@timestamp"); got != "yesterday" {
		t.Errorf("@timestamp field = %q, want it kept", got)
	}
	if got := ev.Fields.Str("event.id"); got != "not-an-id" {
		t.Errorf("event.id field = %q, want it kept", got)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, in := range []string{``, `   `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":"x}`, `{"a":tru}`,
		`{"a":"\x"}`, `{"a":1} x`, `{"a":[1,2}`, "{\"a\":\"\x01\"}", `{"a":-}`, `{"a":1.}`} {
		_, err := DecodeJSON([]byte(in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("DecodeJSON(%q) error = %v, want a SyntaxError", in, err)
		}
	}
	for _, in := range []string{`[1]`, `"x"`, `42`} {
		if _, err := DecodeJSON([]byte(in)); !errors.Is(err, ErrNotObject) {
			t.Errorf("DecodeJSON(%q) error = %v, want ErrNotObject", in, err)
		}
	}
	deep := ""
	for i := 0; i < 100; i++ {
		deep += `{"a":`
	}
	if _, err := DecodeJSON([]byte(deep)); err == nil {
		t.Error("deeply nested input: want an error")
	}
}

func TestDeriveIDStable(t *testing.T) {
	a, b := NewID(time.Now()), NewID(time.Now())
	x, y := DeriveID("r1", []ID{a, b}), DeriveID("r1", []ID{a, b})
	if x != y {
		t.Errorf("DeriveID not deterministic: %v vs %v", x, y)
	}
	if DeriveID("r2", []ID{a, b}) == x {
		t.Error("DeriveID ignores the rule")
	}
	if DeriveID("r1", []ID{a}) == x {
		t.Error("DeriveID ignores the events")
	}
}

func TestFieldsAddSetDelete(t *testing.T) {
	var f Fields
	f.Set("a", String("1"))
	f.Add("a", String("2"))
	f.Add("b", String("x"))
	f.Set("b", String("y"))
	f.Delete("missing")
	got := map[string]string{}
	for _, x := range f {
		got[x.Key] = x.Value.Text()
	}
	want := map[string]string{"a": "1, 2", "b": "y"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	f.Delete("a")
	keys := []string{}
	for _, x := range f {
		keys = append(keys, x.Key)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"b"}, keys); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,{"c":"d"}]},"@timestamp":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"EventID":4688,"CommandLine":"cmd.exe /c \"whoami\""}`))
	f.Add([]byte(`{"s":"\ud800\udc00\ud800"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeJSON(b)
		if err != nil {
			return
		}
		// What decodes must encode and decode to the same event.
		out := ev.AppendJSON(nil)
		back, err := DecodeJSON(out)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if diff := cmp.Diff(ev.Fields, back.Fields); diff != "" {
			t.Fatalf("round trip of %q via %s (-first +second):\n%s", b, out, diff)
		}
		// Decoding some keys gives the fields of those keys, as decoding
		// all does, and the typed parts they fill.
		keep := func(k string) bool { return len(k)%2 == 0 }
		some, err := DecodeJSONKeys(b, keep)
		if err != nil {
			t.Fatalf("DecodeJSONKeys(%q): %v; DecodeJSON took it", b, err)
		}
		var want Fields
		for _, f := range ev.Fields {
			if keep(f.Key) {
				want = append(want, f)
			}
		}
		if diff := cmp.Diff(want, some.Fields, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("DecodeJSONKeys(%q) (-want +got):\n%s", b, diff)
		}
		if keep(KeyTime) && !some.Time.Equal(ev.Time) || keep(KeyID) && some.ID != ev.ID {
			t.Fatalf("DecodeJSONKeys(%q): time %v id %v, want %v %v", b, some.Time, some.ID, ev.Time, ev.ID)
		}
	})
}

// TestDecodeJSONKeys: only the kept keys are decoded; the rest of the input
// is still checked.
func TestDecodeJSONKeys(t *testing.T) {
	ev, err := DecodeJSONKeys(sample, func(k string) bool { return k == "db.user" || k == KeyTime })
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Fields) != 1 || ev.Fields.Str("db.user") != "alice" || ev.Time.IsZero() || ev.Source.Product != "" {
		t.Errorf("DecodeJSONKeys = %+v; want db.user and the time alone", ev)
	}
	bad := append(append([]byte(nil), sample[:len(sample)-1]...), `,"x":tru}`...)
	if _, err := DecodeJSONKeys(bad, func(k string) bool { return k == "db.user" }); err == nil {
		t.Error("DecodeJSONKeys took broken JSON in a key it does not keep")
	}
}

var sample = []byte(`{"@timestamp":"2026-11-29T10:00:00.123Z","logsource":{"product":"postgresql","category":"database"},"host.name":"db1","db.system":"postgresql","db.user":"alice","db.name":"city","db.statement":"SELECT * FROM users WHERE id = '1' OR '1'='1'","db.operation":"SELECT","source.ip":"10.0.0.5","source.port":51234,"event.action":"query","event.outcome":"success","db.response.rows":20000}`)

func BenchmarkDecodeJSON(b *testing.B) {
	b.SetBytes(int64(len(sample)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(sample); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	ev, _ := DecodeJSON(sample)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendJSON(buf[:0])
	}
}

func BenchmarkFieldGet(b *testing.B) {
	ev, _ := DecodeJSON(sample)
	keys := []string{"db.user", "db.statement", "db.response.rows", "missing"}
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range keys {
			ev.Get(k)
		}
	}
}

// FuzzValidNumber checks ValidNumber against encoding/json: a JSON number
// token, alone, with nothing around it.
func FuzzValidNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.5e-3", "01", "1.", ".5", "1e", "-", "1E+2", " 1", "1 ", "0x10", "Infinity", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := json.Valid([]byte(s)) && s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && s[len(s)-1] >= '0' && s[len(s)-1] <= '9'
		if got := ValidNumber(s); got != want {
			t.Fatalf("ValidNumber(%q) = %v, want %v", s, got, want)
		}
	})
}
