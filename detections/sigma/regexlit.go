package sigma

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
)

// regexNeedles returns literals one of which occurs in every string the
// regular expression matches (lower-cased, for the prefilter), or ok false
// when it cannot tell.
func regexNeedles(expr string) (lits []string, ok bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, false
	}
	lits, ok = reqLits(re.Simplify(), 0)
	if !ok {
		return nil, false
	}
	for _, l := range lits {
		if !usableNeedle(l) {
			return nil, false
		}
	}
	return lits, true
}

func reqLits(re *syntax.Regexp, depth int) ([]string, bool) {
	if depth > 20 {
		return nil, false
	}
	switch re.Op {
	case syntax.OpLiteral:
		return []string{foldString(string(re.Rune))}, true
	case syntax.OpCapture:
		return reqLits(re.Sub[0], depth+1)
	case syntax.OpPlus:
		return reqLits(re.Sub[0], depth+1)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return reqLits(re.Sub[0], depth+1)
		}
	case syntax.OpAlternate:
		var all []string
		for _, s := range re.Sub {
			l, ok := reqLits(s, depth+1)
			if !ok {
				return nil, false
			}
			all = append(all, l...)
		}
		return all, true
	case syntax.OpConcat:
		// Runs of adjacent literals and small classes make the longest
		// needles (`\.[ "']` is one of `. `, `."` and `.'`); any one
		// child's requirement also holds for the whole.
		var best []string
		found := false
		consider := func(l []string) {
			if len(l) == 0 {
				return
			}
			if !found || minStrLen(l) > minStrLen(best) {
				best, found = l, true
			}
		}
		var run []string // the run's alternatives so far, folded
		extend := func(alts []string) {
			if len(run) == 0 {
				run = alts
				return
			}
			if len(run)*len(alts) > maxRunAlts {
				consider(run)
				run = alts
				return
			}
			next := make([]string, 0, len(run)*len(alts))
			for _, r := range run {
				for _, a := range alts {
					next = append(next, r+a)
				}
			}
			run = next
		}
		for _, s := range re.Sub {
			if s.Op == syntax.OpLiteral {
				extend([]string{foldString(string(s.Rune))})
				continue
			}
			if alts := classAlts(s); alts != nil {
				extend(alts)
				continue
			}
			consider(run)
			run = nil
			if l, ok := reqLits(s, depth+1); ok {
				consider(l)
			}
		}
		consider(run)
		return best, found
	}
	return nil, false
}

// maxRunAlts bounds the alternatives of a run of literals and classes.
const maxRunAlts = 16

// classAlts returns the folded runes of a character class of at most four
// runes (after folding), or nil.
func classAlts(re *syntax.Regexp) []string {
	if re.Op != syntax.OpCharClass {
		return nil
	}
	n := 0
	for i := 0; i+1 < len(re.Rune); i += 2 {
		n += int(re.Rune[i+1]-re.Rune[i]) + 1
		if n > 8 {
			return nil
		}
	}
	var alts []string
	for i := 0; i+1 < len(re.Rune); i += 2 {
		for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
			f := foldString(string(r))
			if !slices.Contains(alts, f) {
				alts = append(alts, f)
			}
		}
	}
	if len(alts) == 0 || len(alts) > 4 {
		return nil
	}
	return alts
}

func minStrLen(ls []string) int {
	m := 1 << 30
	for _, l := range ls {
		if len(l) < m {
			m = len(l)
		}
	}
	return m
}

// foldsSpecially reports runes that case-fold to ASCII but lower-case to
// themselves (the long s, the Kelvin sign): fold maps them so that
// lower-cased needles stay valid for case-insensitive regular expressions.
func foldsSpecially(r rune) (rune, bool) {
	switch r {
	case 'ſ':
		return 's', true
	case '\u212A':
		return 'k', true
	}
	return unicode.ToLower(r), false
}

// regexMinLen is the fewest bytes a match of expr can span (0 when it
// cannot tell): a value shorter than that cannot match, which spares a
// regular-expression run on most values.
func regexMinLen(expr string) int {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0
	}
	return reMinLen(re.Simplify(), 0)
}

func reMinLen(re *syntax.Regexp, depth int) int {
	if depth > 50 {
		return 0
	}
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if r < 0x80 {
				n++
			} else {
				n += 2 // folded forms may be shorter: count the shortest UTF-8
			}
		}
		return n
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return reMinLen(re.Sub[0], depth+1)
	case syntax.OpRepeat:
		return re.Min * reMinLen(re.Sub[0], depth+1)
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += reMinLen(s, depth+1)
		}
		return n
	case syntax.OpAlternate:
		m := -1
		for _, s := range re.Sub {
			if l := reMinLen(s, depth+1); m < 0 || l < m {
				m = l
			}
		}
		return max(m, 0)
	}
	return 0
}

// regexRequiredSeq returns byte strings that every match contains in this
// order (the literal pieces of a top-level concatenation that are
// case-sensitive or have no letters): checking them with a byte search is
// much cheaper than running the expression on a value that lacks them.
func regexRequiredSeq(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var subs []*syntax.Regexp
	switch re.Op {
	case syntax.OpConcat:
		subs = re.Sub
	case syntax.OpLiteral:
		subs = []*syntax.Regexp{re}
	default:
		return nil
	}
	var seq []string
	for _, s := range subs {
		if s.Op == syntax.OpCapture && len(s.Sub) == 1 {
			s = s.Sub[0]
		}
		if s.Op == syntax.OpLiteral && (s.Flags&syntax.FoldCase == 0 || caseless(s.Rune)) {
			seq = append(seq, string(s.Rune))
		}
	}
	return seq
}

// caseless reports whether no rune of rs has another case (punctuation,
// digits): a case-insensitive literal of them matches only itself.
func caseless(rs []rune) bool {
	for _, r := range rs {
		if unicode.SimpleFold(r) != r {
			return false
		}
	}
	return true
}

// hasSeq reports whether v contains every string of seq, in order.
func hasSeq(v string, seq []string) bool {
	for _, s := range seq {
		i := strings.Index(v, s)
		if i < 0 {
			return false
		}
		v = v[i+len(s):]
	}
	return true
}

// classRun says that every match holds a run of at least min bytes, each
// in the ASCII set in.
type classRun struct {
	in  [128]bool
	min int
}

// regexRuns returns the long runs of one character class that a top-level
// concatenation of expr requires (`[a-f0-9]{64}`): finding no such run in a
// value is a cheap, sure reason to skip the expression.
func regexRuns(expr string) []classRun {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	// Not simplified: Simplify spells x{64} as 64 copies of x.

	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	var runs []classRun
	for _, s := range subs {
		if s.Op == syntax.OpCapture && len(s.Sub) == 1 {
			s = s.Sub[0]
		}
		if s.Op != syntax.OpRepeat || s.Min < 8 || s.Sub[0].Op != syntax.OpCharClass {
			continue
		}
		var r classRun
		r.min = s.Min
		ok := true
		cc := s.Sub[0].Rune
		for i := 0; i+1 < len(cc); i += 2 {
			lo, hi := cc[i], cc[i+1]
			if hi >= 0x80 {
				ok = false // a class with non-ASCII runes: not worth it
				break
			}
			for c := lo; c <= hi; c++ {
				r.in[c] = true
			}
		}
		if ok {
			runs = append(runs, r)
		}
	}
	return runs
}

// hasRuns reports whether v holds every run.
func hasRuns(v string, runs []classRun) bool {
	for i := range runs {
		r := &runs[i]
		n := 0
		found := false
		for j := 0; j < len(v); j++ {
			if c := v[j]; c < 0x80 && r.in[c] {
				if n++; n >= r.min {
					found = true
					break
				}
			} else {
				n = 0
			}
		}
		if !found {
			return false
		}
	}
	return true
}
