package match

import (
	"math"
	"strconv"
	"strings"

	"github.com/danang-soc/vigil/event"
)

// tri is a value of SQL's three-valued logic. A condition is unknown when
// it compares with NULL: the store binds a NaN ("nan" in a query) as NULL.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triNull
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

func and3(a, b tri) tri {
	switch {
	case a == triFalse || b == triFalse:
		return triFalse
	case a == triNull || b == triNull:
		return triNull
	}
	return triTrue
}

func or3(a, b tri) tri {
	switch {
	case a == triTrue || b == triTrue:
		return triTrue
	case a == triNull || b == triNull:
		return triNull
	}
	return triFalse
}

func not3(a tri) tri {
	switch a {
	case triFalse:
		return triTrue
	case triTrue:
		return triFalse
	}
	return triNull
}

// sqlKind is the type of a value as SQLite sees it: json_each's type for a
// value read from the stored document, typeof() for a hot column.
type sqlKind uint8

const (
	sqlNull sqlKind = iota
	sqlInt
	sqlReal
	sqlText
	sqlTrue  // json_each gives the integer 1
	sqlFalse // the integer 0
	sqlArray // a nested array: its JSON text
)

// sqlValue is one value as SQLite compares it.
type sqlValue struct {
	kind sqlKind
	i    int64
	f    float64
	s    string
}

func (v *sqlValue) numeric() bool { return v.kind == sqlInt || v.kind == sqlReal }

// text is the value converted to text, as LIKE does; ok is false for NULL.
func (v *sqlValue) text() (string, bool) {
	switch v.kind {
	case sqlNull:
		return "", false
	case sqlInt:
		return strconv.FormatInt(v.i, 10), true
	case sqlReal:
		return realText(v.f), true
	case sqlTrue:
		return "1", true
	case sqlFalse:
		return "0", true
	}
	return v.s, true
}

// jsonValue is an element of a field's value as json_each reads it from
// the stored document, which event.AppendJSON wrote: a number whose text
// is not a JSON number was written as a string.
func jsonValue(v *event.Value) sqlValue {
	switch v.Kind {
	case event.KindString:
		return sqlValue{kind: sqlText, s: v.Str}
	case event.KindNumber:
		if !event.ValidNumber(v.Str) {
			return sqlValue{kind: sqlText, s: v.Str}
		}
		if !strings.ContainsAny(v.Str, ".eE") {
			if n, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
				return sqlValue{kind: sqlInt, i: n}
			}
			// Too large for 64 bits: SQLite reads it as a real (its type
			// stays "integer", which the conditions treat alike).
		}
		f, _ := strconv.ParseFloat(v.Str, 64) // out of range is ±Inf, as in SQLite
		return sqlValue{kind: sqlReal, f: f}
	case event.KindBool:
		if v.Str == "true" {
			return sqlValue{kind: sqlTrue, i: 1}
		}
		return sqlValue{kind: sqlFalse}
	case event.KindList:
		return sqlValue{kind: sqlArray, s: string(event.AppendValue(nil, *v))}
	}
	return sqlValue{kind: sqlNull}
}

// hotValue is what the store's hot column holds for a field value, and
// whether it holds one (else it holds its mark, and the field is read from
// the document): strings as text, numbers as integers, reals, or their
// text when Go cannot parse them.
func hotValue(v *event.Value) (sqlValue, bool) {
	switch v.Kind {
	case event.KindString:
		return sqlValue{kind: sqlText, s: v.Str}, true
	case event.KindNumber:
		if n, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
			return sqlValue{kind: sqlInt, i: n}, true
		}
		if f, err := strconv.ParseFloat(v.Str, 64); err == nil {
			return sqlValue{kind: sqlReal, f: f}, true
		}
		return sqlValue{kind: sqlText, s: v.Str}, true
	}
	return sqlValue{}, false
}

// compareNumber compares a numeric value with f as SQLite does: an integer
// with a real exactly, not by converting it. f is not NaN.
func compareNumber(v *sqlValue, f float64) int {
	if v.kind == sqlReal {
		switch {
		case v.f < f:
			return -1
		case v.f > f:
			return 1
		}
		return 0
	}
	i := v.i
	switch {
	case f < -9223372036854775808.0:
		return 1
	case f >= 9223372036854775808.0:
		return -1
	}
	y := int64(f)
	switch {
	case i < y:
		return -1
	case i > y:
		return 1
	}
	s := float64(i)
	switch {
	case s < f:
		return -1
	case s > f:
		return 1
	}
	return 0
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// compareNocase is SQLite's NOCASE collation: bytes compared with ASCII
// letters folded, then lengths. Like SQLite's, it stops at a NUL in a.
func compareNocase(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if a[i] == 0 || ca != cb {
			if d := int(ca) - int(cb); d != 0 {
				return d
			}
			break
		}
	}
	return len(a) - len(b)
}

// realText is a real converted to text as SQLite does: 15 significant
// digits, or 17 when 15 do not read back as the same number, with ".0"
// for a whole number, in exponent form below 1e-4 and from 1e17.
//
// SQLite's own conversions are not exact past 15 digits: for a real that
// needs 16 or 17 digits, its last digit may differ from this one.
func realText(f float64) string {
	switch {
	case f == 0:
		return "0.0"
	case math.IsInf(f, 1):
		return "Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	s := strconv.FormatFloat(f, 'e', 14, 64)
	if g, err := strconv.ParseFloat(s, 64); err != nil || g != f {
		s = strconv.FormatFloat(f, 'e', 16, 64)
	}
	mant, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	neg := mant[0] == '-'
	if neg {
		mant = mant[1:]
	}
	digits := strings.TrimRight(mant[:1]+mant[2:], "0")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case exp < -4 || exp >= 17:
		b.WriteString(digits[:1])
		b.WriteByte('.')
		if len(digits) > 1 {
			b.WriteString(digits[1:])
		} else {
			b.WriteByte('0')
		}
		b.WriteByte('e')
		if exp < 0 {
			b.WriteByte('-')
			exp = -exp
		} else {
			b.WriteByte('+')
		}
		if exp < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.Itoa(exp))
	case exp < 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp-1))
		b.WriteString(digits)
	case len(digits) <= exp+1:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", exp+1-len(digits)))
		b.WriteString(".0")
	default:
		b.WriteString(digits[:exp+1])
		b.WriteByte('.')
		b.WriteString(digits[exp+1:])
	}
	return b.String()
}
