package dbnorm

import "strings"

// Masked replaces a password in masked text.
const Masked = "*****"

// MaskPasswords returns s with the passwords that servers log in clear
// replaced by Masked: the literal after PASSWORD ("CREATE ROLE a PASSWORD
// 'x'", "ALTER USER a IDENTIFIED BY PASSWORD 'hash'", "SET PASSWORD = 'x'",
// "PASSWORD('x')"), after IDENTIFIED BY/AS ("IDENTIFIED WITH plugin BY
// 'x'"), and the value of password=... in connection strings. Quotes are
// kept, so the statement still reads as SQL. s is returned unchanged, without
// allocating, when it mentions no password.
func MaskPasswords(s string) string {
	if !mayHoldPassword(s) {
		return s
	}
	var b []byte
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		var after int
		switch {
		case c == 'p' && equalFoldAt(s, i, "PASSWORD") && (i == 0 || !isWordByte(s[i-1])):
			after = i + len("PASSWORD")
			if after < len(s) && s[after] == '=' { // connection string password=secret
				start, end := connValue(s, after+1)
				if end > start {
					b = append(append(b, s[last:start]...), Masked...)
					last, i = end, end-1
				}
				continue
			}
		case c == 'i' && equalFoldAt(s, i, "IDENTIFIED") && (i == 0 || !isWordByte(s[i-1])):
			after = i + len("IDENTIFIED")
		default:
			continue
		}
		start, end := secretAfter(s, after)
		if end <= start {
			continue
		}
		b = append(append(b, s[last:start]...), Masked...)
		last, i = end, end-1
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

// mayHoldPassword is the fast path: does s contain "password" or
// "identified" in any case?
func mayHoldPassword(s string) bool {
	for i := 0; i+8 <= len(s); i++ {
		switch s[i] | 0x20 {
		case 'p':
			if equalFoldAt(s, i, "PASSWORD") {
				return true
			}
		case 'i':
			if equalFoldAt(s, i, "IDENTIFIED") {
				return true
			}
		}
	}
	return false
}

// secretAfter finds the quoted literal that follows a PASSWORD or IDENTIFIED
// keyword ending at i, skipping the words that may come between ("BY",
// "WITH plugin BY", "AS", "=", "PASSWORD(", "ENCRYPTED"), and returns the
// bounds of its content. end <= start when there is none.
func secretAfter(s string, i int) (start, end int) {
	for words := 0; words < 6 && i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '=' || c == '(':
			i++
		case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"'):
			// an escaped quote, as in server_audit's own quoting
			q := s[i+1]
			start = i + 2
			for j := start; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == q {
					return start, j
				}
			}
			return start, len(s)
		case c == '\'' || c == '"':
			start = i + 1
			for j := start; j < len(s); j++ {
				switch s[j] {
				case '\\':
					if j+1 < len(s) && s[j+1] == c {
						// a backslash-escaped quote ends an escaped literal
						return start, j
					}
					j++
				case c:
					if j+1 < len(s) && s[j+1] == c {
						j++
						continue
					}
					return start, j
				}
			}
			return start, len(s)
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			switch strings.ToUpper(s[i:j]) {
			case "BY", "AS", "WITH", "PASSWORD", "ENCRYPTED", "USING", "VIA", "OLD_PASSWORD":
			default:
				// only a plugin name may stand between (WITH mysql_native_password BY)
				if !prevWordIs(s, i, "WITH", "VIA") {
					return 0, 0
				}
			}
			words++
			i = j
		default:
			return 0, 0
		}
	}
	return 0, 0
}

// prevWordIs reports whether the word before position i is one of words.
func prevWordIs(s string, i int, words ...string) bool {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	k := j
	for k > 0 && isWordByte(s[k-1]) {
		k--
	}
	for _, w := range words {
		if strings.EqualFold(s[k:j], w) {
			return true
		}
	}
	return false
}

// connValue returns the bounds of a password=value in a connection string:
// a quoted value or up to the next space, quote or semicolon.
func connValue(s string, i int) (start, end int) {
	if i < len(s) && (s[i] == '\'' || s[i] == '"') && !(i+1 < len(s) && s[i+1] == s[i]) {
		q := s[i]
		start = i + 1
		for j := start; j < len(s); j++ {
			if s[j] == q {
				return start, j
			}
		}
		return start, len(s)
	}
	start = i
	j := i
	for j < len(s) && s[j] != ' ' && s[j] != '\'' && s[j] != '"' && s[j] != ';' && s[j] != '&' && s[j] != '\t' && s[j] != '\n' {
		j++
	}
	return start, j
}
