package syslog

import (
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
)

// parse3164 parses what follows the optional "<PRI>" of a BSD syslog message:
// [TIMESTAMP [HOSTNAME]] [TAG[PID]:] MSG. Without a priority (a line of a
// syslog file) the timestamp is required, or the line is not syslog.
func (p *Parser) parse3164(ev *event.Event, s string, hasPRI bool) error {
	// Cisco IOS numbers its messages: "<189>123: *Mar  1 00:00:37.123: ...".
	if j := seqPrefix(s); j > 0 && hasPRI {
		if _, _, ok := p.timestamp3164(s[j:]); ok {
			ev.Fields = append(ev.Fields, event.Field{Key: FieldSequence, Value: event.Number(trimZeros(s[:j-2]))})
			s = s[j:]
		}
	}
	t, n, ok := p.timestamp3164(s)
	if ok {
		ev.Time = t
		s = strings.TrimLeft(s[n:], " ")
		j := strings.IndexByte(s, ' ')
		if j < 0 {
			j = len(s)
		}
		if tok := s[:j]; tok != "" && !looksLikeTag(tok) {
			ev.Fields = append(ev.Fields, event.Field{Key: event.FieldHost, Value: event.String(tok)})
			s = strings.TrimLeft(s[j:], " ")
		}
	} else if !hasPRI {
		return bad("no priority and no timestamp", len(ev.Raw)-len(s))
	}
	app, pid, msg := splitTag(s)
	setProcess(&ev.Fields, app, pid)
	if msg != "" {
		ev.Fields = append(ev.Fields, event.Field{Key: event.FieldMessage, Value: event.String(msg)})
	}
	return nil
}

// looksLikeTag reports whether the word after a timestamp is a tag rather
// than a hostname ("sshd[42]:", "kernel:"): senders that omit the hostname
// put the tag there.
func looksLikeTag(tok string) bool {
	return tok[len(tok)-1] == ':' || strings.IndexByte(tok, '[') >= 0
}

// splitTag splits "tag[pid]: msg", "tag: msg" or "tag[pid] msg"; anything
// else is all message.
func splitTag(s string) (app, pid, msg string) {
	i := 0
	for i < len(s) && i < 128 && s[i] != ' ' && s[i] != ':' && s[i] != '[' {
		i++
	}
	if i == 0 || i == len(s) {
		return "", "", s
	}
	switch s[i] {
	case ':':
		return s[:i], "", trimOneSpace(s[i+1:])
	case '[':
		j := strings.IndexByte(s[i:], ']')
		if j < 0 || j > 130 {
			return "", "", s
		}
		k := i + j + 1
		switch {
		case k == len(s):
			return s[:i], s[i+1 : k-1], ""
		case s[k] == ':':
			return s[:i], s[i+1 : k-1], trimOneSpace(s[k+1:])
		case s[k] == ' ':
			return s[:i], s[i+1 : k-1], s[k+1:]
		}
	}
	return "", "", s
}

func trimOneSpace(s string) string {
	if len(s) > 0 && s[0] == ' ' {
		return s[1:]
	}
	return s
}

// timestamp3164 reads "Mmm dd hh:mm:ss" (day space-padded or not, optional
// fraction, optional year after the day as some network devices send) or
// an ISO 8601 timestamp as rsyslog writes with high precision. n is the
// number of bytes read.
func (p *Parser) timestamp3164(s string) (t time.Time, n int, ok bool) {
	if len(s) >= 19 && isDigit(s[0]) && isDigit(s[3]) && s[4] == '-' {
		return p.isoTimestamp(s)
	}
	// Network devices mark an unsynchronised clock with '*' or '.'.
	mark := 0
	if len(s) > 0 && (s[0] == '*' || s[0] == '.') {
		mark = 1
	}
	t, n, ok = p.bsdTimestamp(s[mark:])
	if !ok {
		return t, 0, false
	}
	n += mark
	if n < len(s) && s[n] == ':' { // "00:00:37.123: %SYS-5-..."
		n++
	}
	return t, n, true
}

// seqPrefix returns the length of a leading "digits: " sequence number, or 0.
func seqPrefix(s string) int {
	i := 0
	for i < len(s) && i < 10 && isDigit(s[i]) {
		i++
	}
	if i == 0 || i+1 >= len(s) || s[i] != ':' || s[i+1] != ' ' {
		return 0
	}
	return i + 2
}

// bsdTimestamp reads "Mmm dd [yyyy ]hh:mm:ss[.frac]".
func (p *Parser) bsdTimestamp(s string) (t time.Time, n int, ok bool) {
	if len(s) < 14 {
		return t, 0, false
	}
	mon := month(s[:3])
	if mon == 0 || s[3] != ' ' {
		return t, 0, false
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	day, i, ok := digits(s, i, 1, 2)
	if !ok || i >= len(s) || s[i] != ' ' || day < 1 || day > 31 {
		return t, 0, false
	}
	i++
	year := 0
	if y, j, ok := digits(s, i, 4, 4); ok && j < len(s) && s[j] == ' ' {
		year, i = y, j+1
	}
	hh, mm, ss, ns, i, ok := clock(s, i)
	if !ok {
		return t, 0, false
	}
	if year != 0 {
		t = time.Date(year, mon, day, hh, mm, ss, ns, p.loc)
		if t.Day() != day {
			return time.Time{}, 0, false
		}
		return t.UTC(), i, true
	}
	t, ok = p.resolveYear(mon, day, hh, mm, ss, ns)
	return t, i, ok
}

// maxFuture is how far ahead of the parser's clock a year-less timestamp
// may be (clock skew between sender and receiver) before it is taken to be
// from the year before.
const maxFuture = 7 * 24 * time.Hour

// resolveYear gives a timestamp without a year the latest year that does not
// put it more than maxFuture ahead of the parser's clock: a December line read
// on the first of January belongs to the year before, a January line from a
// sender whose clock runs a little ahead on the 31st of December to the next.
func (p *Parser) resolveYear(mon time.Month, day, hh, mm, ss, ns int) (time.Time, bool) {
	now := p.now()
	limit := now.Add(maxFuture)
	y := now.In(p.loc).Year()
	for _, cand := range [...]int{y + 1, y, y - 1, y - 2, y - 3, y - 4} {
		t := time.Date(cand, mon, day, hh, mm, ss, ns, p.loc)
		if t.Day() != day { // 29 February of a common year, 31 April
			continue
		}
		if !t.After(limit) {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (p *Parser) isoTimestamp(s string) (time.Time, int, bool) {
	n := strings.IndexByte(s, ' ')
	if n < 0 {
		n = len(s)
	}
	tok := s[:n]
	t, ok := rfc3339(tok, p.loc)
	return t, n, ok
}

// clock reads "hh:mm:ss" with an optional fraction of up to 9 digits,
// followed by a space, a colon or the end.
func clock(s string, i int) (hh, mm, ss, ns, end int, ok bool) {
	hh, mm, ss, ns, end, ok = clockTo(s, i)
	if ok && end < len(s) && s[end] != ' ' && s[end] != ':' {
		return 0, 0, 0, 0, 0, false
	}
	return hh, mm, ss, ns, end, ok
}

// clockTo reads "hh:mm:ss" with an optional fraction; digits beyond the
// ninth are ignored.
func clockTo(s string, i int) (hh, mm, ss, ns, end int, ok bool) {
	if hh, i, ok = digits(s, i, 2, 2); !ok || hh > 23 || i >= len(s) || s[i] != ':' {
		return 0, 0, 0, 0, 0, false
	}
	if mm, i, ok = digits(s, i+1, 2, 2); !ok || mm > 59 || i >= len(s) || s[i] != ':' {
		return 0, 0, 0, 0, 0, false
	}
	if ss, i, ok = digits(s, i+1, 2, 2); !ok || ss > 60 {
		return 0, 0, 0, 0, 0, false
	}
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		j := i + 1
		scale := 100000000
		for ; j < len(s) && isDigit(s[j]); j++ {
			if scale > 0 {
				ns += int(s[j]-'0') * scale
				scale /= 10
			}
		}
		i = j
	}
	return hh, mm, ss, ns, i, true
}

// digits reads between min and max decimal digits at s[i:].
func digits(s string, i, min, max int) (v, end int, ok bool) {
	j := i
	for j < len(s) && j-i < max && isDigit(s[j]) {
		v = v*10 + int(s[j]-'0')
		j++
	}
	if j-i < min {
		return 0, i, false
	}
	return v, j, true
}

func month(s string) time.Month {
	switch s {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}
