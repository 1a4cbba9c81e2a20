package sigma

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// cexpr is a parsed condition before its identifiers are resolved.
type cexpr interface{ String() string }

type (
	cIdent string
	cAnd   []cexpr
	cOr    []cexpr
	cNot   struct{ x cexpr }
	// cOf is "1 of x*", "all of them", "N of x".
	cOf struct {
		n       int // 0 means all
		pattern string
	}
)

func (x cIdent) String() string { return string(x) }
func (x cAnd) String() string   { return join(x, " and ") }
func (x cOr) String() string    { return join(x, " or ") }
func (x cNot) String() string   { return "not " + x.x.String() }
func (x cOf) String() string {
	if x.n == 0 {
		return "all of " + x.pattern
	}
	return strconv.Itoa(x.n) + " of " + x.pattern
}

func join(xs []cexpr, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

// parseCondition parses a Sigma condition. Precedence, least binding
// first: or, and, not, "x of", parentheses.
func parseCondition(s string) (cexpr, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks}
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q after %s", p.toks[p.i], x)
	}
	return x, nil
}

func lexCondition(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '|':
			return nil, fmt.Errorf("aggregation expressions (%q) are not part of Sigma 2: use a correlation rule", strings.TrimSpace(s[i:]))
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q in condition", c)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c == '*' || c == '?' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c >= 0x80
}

type condParser struct {
	toks  []string
	i     int
	depth int
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *condParser) keyword(k string) bool {
	if strings.EqualFold(p.peek(), k) {
		p.i++
		return true
	}
	return false
}

func (p *condParser) or() (cexpr, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	xs := cOr{x}
	for p.keyword("or") {
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return xs, nil
}

func (p *condParser) and() (cexpr, error) {
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	xs := cAnd{x}
	for p.keyword("and") {
		y, err := p.not()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return xs, nil
}

func (p *condParser) not() (cexpr, error) {
	if p.keyword("not") {
		p.depth++
		if p.depth > 100 {
			return nil, fmt.Errorf("condition nests too deeply")
		}
		x, err := p.not()
		p.depth--
		if err != nil {
			return nil, err
		}
		return cNot{x}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (cexpr, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("condition ends early")
	case t == "(":
		p.i++
		p.depth++
		if p.depth > 100 {
			return nil, fmt.Errorf("condition nests too deeply")
		}
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		p.depth--
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing ) in condition")
		}
		p.i++
		return x, nil
	case t == ")":
		return nil, fmt.Errorf("unexpected ) in condition")
	}
	if p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1], "of") {
		n := 0
		if !strings.EqualFold(t, "all") {
			v, err := strconv.Atoi(t)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("%q of: want 1, all or a positive count", t)
			}
			n = v
		}
		p.i += 2
		pat := p.peek()
		if pat == "" || pat == "(" || pat == ")" || isOperator(pat) {
			return nil, fmt.Errorf("%s of: missing search identifier pattern", t)
		}
		p.i++
		if strings.EqualFold(pat, "them") {
			pat = "them"
		}
		return cOf{n: n, pattern: pat}, nil
	}
	if isOperator(t) {
		return nil, fmt.Errorf("unexpected %q in condition", t)
	}
	p.i++
	return cIdent(t), nil
}

func isOperator(t string) bool {
	switch strings.ToLower(t) {
	case "and", "or", "not", "of":
		return true
	}
	return false
}

// resolve turns a parsed condition into a node over the compiled search
// identifiers.
func resolveCondition(x cexpr, searches map[string]node, order []string) (node, error) {
	switch x := x.(type) {
	case cIdent:
		n, ok := searches[string(x)]
		if !ok {
			return nil, fmt.Errorf("condition refers to undefined search identifier %q", string(x))
		}
		return n, nil
	case cNot:
		n, err := resolveCondition(x.x, searches, order)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case cAnd, cOr:
		var xs []cexpr
		if a, ok := x.(cAnd); ok {
			xs = a
		} else {
			xs = x.(cOr)
		}
		ns := make([]node, len(xs))
		for i, y := range xs {
			n, err := resolveCondition(y, searches, order)
			if err != nil {
				return nil, err
			}
			ns[i] = n
		}
		if _, ok := x.(cAnd); ok {
			return andNode(ns), nil
		}
		return orNode(ns), nil
	case cOf:
		var ns []node
		for _, name := range order {
			if x.pattern == "them" {
				if strings.HasPrefix(name, "_") {
					continue
				}
			} else if ok, _ := path.Match(x.pattern, name); !ok {
				continue
			}
			ns = append(ns, searches[name])
		}
		if len(ns) == 0 {
			return nil, fmt.Errorf("%q matches no search identifier", x.pattern)
		}
		switch {
		case x.n == 0:
			return andNode(ns), nil
		case x.n == 1:
			return orNode(ns), nil
		case x.n > len(ns):
			return nil, fmt.Errorf("%s: only %d search identifiers match", x, len(ns))
		}
		return countNode{n: x.n, of: ns}, nil
	}
	return nil, fmt.Errorf("unknown condition element %T", x)
}

// countNode is "N of x" for N > 1.
type countNode struct {
	n  int
	of []node
}

func (c countNode) eval(ctx *evalCtx) bool {
	k := 0
	for _, x := range c.of {
		if x.eval(ctx) {
			k++
			if k >= c.n {
				return true
			}
		}
	}
	return false
}
