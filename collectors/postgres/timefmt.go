package postgres

import (
	"fmt"
	"strconv"
	"time"
)

// parseTime reads PostgreSQL's log timestamps: "2006-01-02 15:04:05.000 ZONE"
// (%m, jsonlog, csvlog), without milliseconds (%t), or seconds since the
// epoch with milliseconds (%n). ZONE is an abbreviation (UTC, GMT, or one Go
// knows) or a numeric offset ("+07", "-03:30").
func parseTime(s string) (time.Time, error) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		if f, err := strconv.ParseFloat(s, 64); err == nil && len(s) > 0 && s[0] != '-' {
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DD HH:MM:SS[.fff] ZONE", s)
	}
	var d [6]int
	for i, span := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
		n := 0
		for _, c := range []byte(s[span[0]:span[1]]) {
			if c < '0' || c > '9' {
				return time.Time{}, fmt.Errorf("timestamp %q has a non-digit", s)
			}
			n = n*10 + int(c-'0')
		}
		d[i] = n
	}
	rest := s[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		i, scale := 1, 100_000_000
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
		}
		rest = rest[i:]
	}
	loc := time.UTC
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return time.Time{}, fmt.Errorf("timestamp %q has junk after the seconds", s)
		}
		var err error
		if loc, err = zone(rest[1:]); err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
		}
	}
	return time.Date(d[0], time.Month(d[1]), d[2], d[3], d[4], d[5], nsec, loc), nil
}

func zone(z string) (*time.Location, error) {
	switch z {
	case "UTC", "GMT", "Z", "":
		return time.UTC, nil
	}
	if z[0] == '+' || z[0] == '-' {
		h, m := z[1:], ""
		if len(h) > 2 {
			h, m = h[:2], h[2:]
			if len(m) > 0 && m[0] == ':' {
				m = m[1:]
			}
		}
		hh, err := strconv.Atoi(h)
		mm := 0
		if err == nil && m != "" {
			mm, err = strconv.Atoi(m)
		}
		if err != nil || hh > 15 || mm > 59 {
			return nil, fmt.Errorf("bad zone offset %q", z)
		}
		off := hh*3600 + mm*60
		if z[0] == '-' {
			off = -off
		}
		return time.FixedZone(z, off), nil
	}
	// An abbreviation: Go resolves it only against the local zone; the
	// others are read as UTC, as time.Parse does.
	t, err := time.Parse("MST", z)
	if err != nil {
		return nil, fmt.Errorf("unknown zone %q", z)
	}
	return t.Location(), nil
}
