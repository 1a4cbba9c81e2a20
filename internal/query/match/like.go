package match

import (
	"strings"

	"github.com/danang-soc/vigil/internal/query"
)

// likeItem is one piece of a LIKE pattern: a character, _ (one) or %
// (any run).
type likeItem struct {
	c        uint32
	one, any bool
}

// likePattern is the LIKE pattern the store builds for a term: its
// wildcards become % and _, its literal text is escaped with a backslash.
func likePattern(n *query.Term) string {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	if !n.Wildcard {
		return esc.Replace(n.Value)
	}
	var b strings.Builder
	for _, p := range query.SplitPattern(n.Value) {
		switch {
		case p.Any:
			b.WriteByte('%')
		case p.One:
			b.WriteByte('_')
		default:
			b.WriteString(esc.Replace(p.Literal))
		}
	}
	return b.String()
}

// compileLike reads a LIKE pattern with ESCAPE '\' as SQLite does: as a C
// string (a NUL ends it), its characters decoded as SQLite decodes them.
func compileLike(p string) []likeItem {
	if i := strings.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	var items []likeItem
	for i := 0; i < len(p); {
		var c uint32
		c, i = decodeSQLite(p, i)
		switch c {
		case '%':
			items = append(items, likeItem{any: true})
			continue
		case '_':
			items = append(items, likeItem{one: true})
			continue
		case '\\':
			if i == len(p) {
				// SQLite matches nothing against a pattern that ends in its
				// escape; a pattern built by likePattern never does.
				return append(items, likeItem{c: 0})
			}
			c, i = decodeSQLite(p, i)
		}
		items = append(items, likeItem{c: c})
	}
	return items
}

// like reports whether s matches the pattern, as SQLite's LIKE does: ASCII
// letters match either case, other characters only themselves; s ends at
// its first NUL.
func like(items []likeItem, s string) bool {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	pi, si := 0, 0
	star, starS := -1, 0
	for {
		if pi < len(items) && items[pi].any {
			star, starS = pi, si
			pi++
			continue
		}
		if si == len(s) {
			break
		}
		if pi < len(items) {
			c, next := decodeSQLite(s, si)
			if it := items[pi]; it.one || it.c == c || (it.c < 0x80 && c < 0x80 && lowerASCII(byte(it.c)) == lowerASCII(byte(c))) {
				pi, si = pi+1, next
				continue
			}
		}
		if star < 0 {
			return false
		}
		// Let the last % take one more character.
		_, starS = decodeSQLite(s, starS)
		pi, si = star+1, starS
	}
	for pi < len(items) && items[pi].any {
		pi++
	}
	return pi == len(items)
}
