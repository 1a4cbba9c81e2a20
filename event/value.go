package event

import (
	"strconv"
	"strings"
)

// Kind is the type of a field value.
type Kind uint8

const (
	KindString Kind = iota
	KindNumber
	KindBool
	KindNull
	KindList
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindNumber:
		return "number"
	case KindBool:
		return "bool"
	case KindNull:
		return "null"
	case KindList:
		return "list"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one field value. Scalars keep their text form in Str (numbers as
// they were written, booleans as "true"/"false", null as ""), so that string
// matching, the common case in detection rules, needs no conversion. A list
// holds scalar elements only; nested objects are flattened into dotted keys.
type Value struct {
	Kind Kind
	Str  string
	List []Value
}

// String returns a string value.
func String(s string) Value { return Value{Kind: KindString, Str: s} }

// Number returns a number value from its decimal text. The text is not
// validated; use Int or Float for computed numbers.
func Number(text string) Value { return Value{Kind: KindNumber, Str: text} }

// Int returns a number value.
func Int(n int64) Value { return Value{Kind: KindNumber, Str: strconv.FormatInt(n, 10)} }

// Float returns a number value.
func Float(f float64) Value {
	return Value{Kind: KindNumber, Str: strconv.FormatFloat(f, 'g', -1, 64)}
}

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{Kind: KindBool, Str: "true"}
	}
	return Value{Kind: KindBool, Str: "false"}
}

// Null returns the null value.
func Null() Value { return Value{Kind: KindNull} }

// List returns a list of scalar values.
func List(vs ...Value) Value { return Value{Kind: KindList, List: vs} }

// Strings returns a list of string values.
func Strings(ss ...string) Value {
	vs := make([]Value, len(ss))
	for i, s := range ss {
		vs[i] = String(s)
	}
	return List(vs...)
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// Float returns the numeric value of a number, or of a string that holds a
// decimal number. ok is false for anything else.
func (v Value) Float() (f float64, ok bool) {
	if v.Kind != KindNumber && v.Kind != KindString {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
	return f, err == nil
}

// Text returns the value as text: the scalar's text, or the list's elements
// joined with ", ".
func (v Value) Text() string {
	if v.Kind != KindList {
		return v.Str
	}
	var b strings.Builder
	for i, e := range v.List {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Str)
	}
	return b.String()
}

// Equal reports whether two values are identical.
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind || v.Str != w.Str || len(v.List) != len(w.List) {
		return false
	}
	for i := range v.List {
		if !v.List[i].Equal(w.List[i]) {
			return false
		}
	}
	return true
}

// Field is one named value. Keys of nested documents are joined with dots
// ("db.user").
type Field struct {
	Key   string
	Value Value
}

// Fields is an event's normalised fields in insertion order. Events carry a
// few dozen fields at most, so a slice with a linear scan beats a map both in
// lookups and in allocations.
type Fields []Field

// Index returns the position of key, or -1.
func (f Fields) Index(key string) int {
	for i := range f {
		if f[i].Key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of key.
func (f Fields) Get(key string) (Value, bool) {
	for i := range f {
		if f[i].Key == key {
			return f[i].Value, true
		}
	}
	return Value{}, false
}

// Str returns the text of key, or "" when it is absent.
func (f Fields) Str(key string) string {
	v, _ := f.Get(key)
	return v.Text()
}

// Set replaces the value of key or appends it.
func (f *Fields) Set(key string, v Value) {
	if i := f.Index(key); i >= 0 {
		(*f)[i].Value = v
		return
	}
	*f = append(*f, Field{Key: key, Value: v})
}

// SetString is Set with a string value; an empty s is not set.
func (f *Fields) SetString(key, s string) {
	if s != "" {
		f.Set(key, String(s))
	}
}

// Add appends v to key: a second value for the same key turns it into a list.
func (f *Fields) Add(key string, v Value) {
	i := f.Index(key)
	if i < 0 {
		*f = append(*f, Field{Key: key, Value: v})
		return
	}
	cur := &(*f)[i].Value
	if cur.Kind != KindList {
		*cur = List(*cur)
	}
	if v.Kind == KindList {
		cur.List = append(cur.List, v.List...)
	} else {
		cur.List = append(cur.List, v)
	}
}

// Delete removes key.
func (f *Fields) Delete(key string) {
	if i := f.Index(key); i >= 0 {
		*f = append((*f)[:i], (*f)[i+1:]...)
	}
}

// Clone returns a deep copy.
func (f Fields) Clone() Fields {
	out := make(Fields, len(f))
	copy(out, f)
	for i := range out {
		if out[i].Value.Kind == KindList {
			out[i].Value.List = append([]Value(nil), out[i].Value.List...)
		}
	}
	return out
}
