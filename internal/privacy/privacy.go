// Package privacy masks personal data (Decree 13/2023/ND-CP, Personal Data
// Protection Law 91/2025) in text shown to roles that may not see it:
// Vietnamese citizen id numbers (12-digit CCCD, 9-digit CMND), Vietnamese
// phone numbers (+84 or 0 followed by 9 digits, optionally grouped with
// spaces, dots or hyphens) and e-mail addresses.
//
// A number is masked only when it stands alone: digits glued to letters,
// to other digits through '.', ':' or ',' (times, decimals, addresses,
// versions) or inside identifiers are left as they are, so that ids,
// timestamps and IP addresses survive masking.
//
// Concurrency: Mask is a pure function, safe for concurrent use.
package privacy

import "strings"

// Mask returns s with personal data masked: every digit but the last three
// of an id or phone number becomes '*' (the +84 or 0 prefix of a phone is
// kept), and an e-mail address keeps the first character of its local part
// and its domain (n***@example.vn). Text without personal data is returned
// unchanged, without allocating.
func Mask(s string) string {
	emails := findEmails(s)
	var b []byte // nil until the first change
	last := 0
	flush := func(start, end int, masked string) {
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[last:start]...)
		b = append(b, masked...)
		last = end
	}
	for i := 0; i < len(s); {
		if len(emails) > 0 && i == emails[0].start {
			e := emails[0]
			emails = emails[1:]
			flush(e.start, e.end, s[e.start:e.start+1]+"***"+s[e.at:e.end])
			i = e.end
			continue
		}
		c := s[i]
		if !isDigit(c) && (c != '+' || i+1 >= len(s) || !isDigit(s[i+1])) {
			i++
			continue
		}
		if i > 0 && (isWord(s[i-1]) || joined(s, i-1, -1)) {
			i = skipNumber(s, i)
			continue
		}
		limit := len(s) // a number never runs into the next address
		if len(emails) > 0 {
			limit = emails[0].start
		}
		end, masked, ok := number(s[:limit], i)
		if ok {
			flush(i, end, masked)
			i = end
			continue
		}
		i = skipNumber(s, i)
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

type span struct{ start, at, end int }

// findEmails returns the e-mail addresses in s, in order, not overlapping.
func findEmails(s string) []span {
	var out []span
	from, prevEnd := 0, 0
	for {
		k := strings.IndexByte(s[from:], '@')
		if k < 0 {
			return out
		}
		at := from + k
		if start, end, ok := email(s, at); ok && start >= prevEnd {
			out = append(out, span{start, at, end})
			prevEnd = end
		}
		from = at + 1
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord reports whether c glues to a number next to it. '*' does, so that
// a masked number is never the end of a new one.
func isWord(c byte) bool {
	return c == '*' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// joined reports whether s[i] is '.', ':' or ',' with a digit on its other
// side (dir -1: before it, +1: after it), which makes a number part of a
// larger token (a time, a decimal, an address).
func joined(s string, i, dir int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	if c := s[i]; c != '.' && c != ':' && c != ',' {
		return false
	}
	j := i + dir
	return j >= 0 && j < len(s) && isDigit(s[j])
}

// skipNumber returns the index after the run of digits (and a leading '+')
// at i.
func skipNumber(s string, i int) int {
	if s[i] == '+' {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// boundaryAfter reports whether a number ending before s[end] stands alone.
func boundaryAfter(s string, end int) bool {
	return end >= len(s) || (!isWord(s[end]) && !joined(s, end, +1))
}

// number recognises an id or phone number starting at i (already known to
// stand alone on its left) and returns its end and masked form.
func number(s string, i int) (end int, masked string, ok bool) {
	// Phone numbers may be grouped: 0905 123 456, +84 905.123.456.
	prefix := ""
	j := i
	if strings.HasPrefix(s[i:], "+84") {
		prefix, j = "+84", i+3
	} else if s[i] == '0' {
		prefix, j = "0", i+1
	}
	if prefix != "" {
		digits := make([]byte, 0, 9)
		k := j
		for k < len(s) && len(digits) < 9 {
			if isDigit(s[k]) {
				digits = append(digits, s[k])
				k++
				continue
			}
			// One separator between digit groups, not right after "0".
			if (s[k] == ' ' || s[k] == '.' || s[k] == '-') && k+1 < len(s) && isDigit(s[k+1]) && k > i+1 {
				k++
				continue
			}
			break
		}
		if len(digits) == 9 && boundaryAfter(s, k) {
			return k, prefix + strings.Repeat("*", 6) + string(digits[6:]), true
		}
	}
	if s[i] == '+' {
		return 0, "", false
	}
	k := skipNumber(s, i)
	if n := k - i; (n == 12 || n == 9) && boundaryAfter(s, k) {
		return k, strings.Repeat("*", n-3) + s[k-3:k], true
	}
	return 0, "", false
}

// email recognises the address around the '@' at at and returns its bounds.
func email(s string, at int) (start, end int, ok bool) {
	start = at
	for start > 0 && isLocal(s[start-1]) {
		start--
	}
	for start < at && s[start] == '.' {
		start++
	}
	if start == at {
		return 0, 0, false
	}
	end = at + 1
	if end >= len(s) || !isAlnum(s[end]) {
		return 0, 0, false
	}
	dots := 0
	for end < len(s) && (isAlnum(s[end]) || s[end] == '-' || (s[end] == '.' && end+1 < len(s) && isAlnum(s[end+1]))) {
		if s[end] == '.' {
			dots++
		}
		end++
	}
	if dots == 0 || end == at+1 {
		return 0, 0, false
	}
	return start, end, true
}

func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isLocal(c byte) bool {
	// '*' so that an address masked once is recognised, and left, again.
	return isAlnum(c) || strings.IndexByte("._%+-*", c) >= 0
}
