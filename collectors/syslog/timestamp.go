package syslog

import "time"

// rfc3339 parses an RFC 3339 timestamp ("2003-08-24T05:14:15.000003-07:00",
// "2003-10-11T22:14:15.003Z", also with a lower-case t or z) into UTC without
// the allocation of a fixed zone that time.Parse makes. A timestamp without
// a zone is read in loc.
func rfc3339(s string, loc *time.Location) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') {
		return time.Time{}, false
	}
	year, _, ok1 := digits(s, 0, 4, 4)
	mon, _, ok2 := digits(s, 5, 2, 2)
	day, _, ok3 := digits(s, 8, 2, 2)
	if !ok1 || !ok2 || !ok3 || mon < 1 || mon > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	hh, mm, ss, ns, i, ok := clockTo(s, 11)
	if !ok {
		return time.Time{}, false
	}
	if i == len(s) {
		t := time.Date(year, time.Month(mon), day, hh, mm, ss, ns, loc)
		return t.UTC(), t.Day() == day
	}
	var off int
	switch s[i] {
	case 'Z', 'z':
		if i+1 != len(s) {
			return time.Time{}, false
		}
	case '+', '-':
		if len(s) != i+6 || s[i+3] != ':' {
			return time.Time{}, false
		}
		oh, _, ok1 := digits(s, i+1, 2, 2)
		om, _, ok2 := digits(s, i+4, 2, 2)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		off = (oh*60 + om) * 60
		if s[i] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, ns, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t.Add(-time.Duration(off) * time.Second), true
}
