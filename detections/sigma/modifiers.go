package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"

	"gopkg.in/yaml.v3"
)

// value is one rule value on its way through the modifier chain.
type value struct {
	text string  // as written in YAML
	tag  string  // !!str, !!int, !!float, !!bool, !!null
	p    pattern // the string form after transformations
}

// modSet is what the modifiers of one detection key ask for.
type modSet struct {
	all, cased, re, cidr, exists, fieldref, neq, expand bool
	reFlags                                             string
	numOp                                               string // lt lte gt gte
	part                                                string // time part
	// wrap records contains/startswith/endswith for type modifiers that
	// take no wildcard (fieldref).
	front, back bool
}

var timeParts = map[string]bool{"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true}

// compileField compiles `name|mods: values` into a node. name == "" is a
// keyword search with modifiers ('|all').
func (cp *compiler) compileField(key string, keyLine int, vn *yaml.Node) (node, error) {
	parts := strings.Split(key, "|")
	name, mods := parts[0], parts[1:]
	var ms modSet
	// First pass: type modifiers decide how the values are read.
	for i, m := range mods {
		switch m {
		case "all":
			ms.all = true
		case "cased":
			ms.cased = true
		case "re":
			ms.re = true
		case "i", "m", "s":
			if i == 0 || !ms.re {
				return nil, errAt(keyLine, "modifier %q needs |re before it", m)
			}
			ms.reFlags += m
		case "cidr":
			ms.cidr = true
		case "exists":
			ms.exists = true
		case "fieldref":
			ms.fieldref = true
		case "neq":
			ms.neq = true
		case "expand":
			ms.expand = true
		case "lt", "lte", "gt", "gte":
			if ms.numOp != "" {
				return nil, errAt(keyLine, "two comparison modifiers %q and %q", ms.numOp, m)
			}
			ms.numOp = m
		case "contains", "startswith", "endswith", "windash", "base64", "base64offset",
			"wide", "utf16le", "utf16be", "utf16":
		default:
			if timeParts[m] {
				ms.part = m
				continue
			}
			return nil, errAt(keyLine, "unknown modifier %q", m)
		}
	}
	vals, err := cp.readValues(vn, ms)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return cp.keywords(keyLine, vals, mods, ms)
	}
	if ms.fieldref && name != "" {
		// contains/startswith/endswith shape the comparison, not the value.
		for _, m := range mods {
			switch m {
			case "contains":
				ms.front, ms.back = true, true
			case "startswith":
				ms.back = true
			case "endswith":
				ms.front = true
			}
		}
	}
	n := &fieldNode{slot: cp.slot(name), name: name, all: ms.all, neq: ms.neq}
	// null: the field is absent or null.
	for _, v := range vals {
		if v.tag == "!!null" {
			if len(vals) > 1 {
				return nil, errAt(vn.Line, "%s: null cannot be part of a list of values", name)
			}
			if len(mods) > 0 && !(len(mods) == 1 && ms.neq) {
				return nil, errAt(vn.Line, "%s: null takes no modifier", name)
			}
			n.mode = modeNull
			if ms.neq {
				return notNode{n}, nil
			}
			n.neq = false
			return n, nil
		}
	}
	switch {
	case ms.exists:
		if len(vals) != 1 || vals[0].tag != "!!bool" {
			return nil, errAt(vn.Line, "%s|exists takes one boolean value", name)
		}
		n.mode = modeExists
		n.exists = vals[0].text == "true" || vals[0].text == "True" || vals[0].text == "TRUE"
		return n, nil
	case ms.re:
		n.mode = modeRegex
		for _, v := range vals {
			re, err := cp.regexp(v.text, ms.reFlags)
			if err != nil {
				return nil, errAt(vn.Line, "%s|re: %v", name, err)
			}
			n.res = append(n.res, re)
			lits, _ := regexNeedles(re.String())
			n.reLits = append(n.reLits, lits)
			n.reMin = append(n.reMin, regexMinLen(re.String()))
			n.reSeq = append(n.reSeq, regexRequiredSeq(re.String()))
			n.reRuns = append(n.reRuns, regexRuns(re.String()))
		}
		return n, nil
	case ms.cidr:
		n.mode = modeCIDR
		for _, v := range vals {
			s := strings.TrimSpace(v.text)
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					return nil, errAt(vn.Line, "%s|cidr: %q is not a network: %v", name, s, err)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			n.nets = append(n.nets, p.Masked())
		}
		return n, nil
	case ms.part != "" || ms.numOp != "":
		n.mode = modeNum
		if ms.part != "" {
			n.mode = modeTime
			n.part = ms.part
		}
		op := ms.numOp
		if op == "" {
			op = "eq"
		}
		for _, v := range vals {
			f, err := strconv.ParseFloat(strings.TrimSpace(v.text), 64)
			if err != nil {
				return nil, errAt(vn.Line, "%s|%s: %q is not a number", name, op, v.text)
			}
			n.nums = append(n.nums, numOp{op: op, val: f})
		}
		return n, nil
	case ms.fieldref:
		n.mode = modeFieldRef
		n.cased = ms.cased
		kind := strExact
		switch {
		case ms.front && ms.back:
			kind = strContains
		case ms.front:
			kind = strSuffix
		case ms.back:
			kind = strPrefix
		}
		for _, v := range vals {
			if v.text == "" {
				return nil, errAt(vn.Line, "%s|fieldref: empty field name", name)
			}
			n.refs = append(n.refs, cp.slot(v.text))
			n.strs = append(n.strs, strMatcher{kind: kind})
		}
		return n, nil
	}
	if err := applyTransforms(&vals, mods); err != nil {
		return nil, errAt(vn.Line, "%s: %v", name, err)
	}
	n.mode = modeFold
	if ms.cased {
		n.mode = modeCased
	}
	for _, v := range vals {
		p := v.p
		if !ms.cased {
			p = p.mapLit(foldString)
		}
		n.strs = append(n.strs, newStrMatcher(p))
	}
	if len(n.strs) >= minSetSize && !n.all {
		n.set = newStrSet(n.strs, ms.cased)
	}
	return n, nil
}

// keywords compiles a keyword search: each value is looked for anywhere in
// the event.
func (cp *compiler) keywords(line int, vals []value, mods []string, ms modSet) (node, error) {
	if ms.exists || ms.cidr || ms.fieldref || ms.numOp != "" || ms.part != "" || ms.neq {
		return nil, errAt(line, "keyword search takes no field-type modifier")
	}
	for _, v := range vals {
		if v.tag == "!!null" {
			return nil, errAt(line, "keyword search cannot be null")
		}
	}
	if ms.re {
		return nil, errAt(line, "keyword search with |re is not supported")
	}
	if err := applyTransforms(&vals, mods); err != nil {
		return nil, errAt(line, "keywords: %v", err)
	}
	n := &keywordNode{all: ms.all, cased: ms.cased}
	for _, v := range vals {
		p := v.p.withStar(true, true)
		if !ms.cased {
			p = p.mapLit(foldString)
		}
		m := newStrMatcher(p)
		n.strs = append(n.strs, m)
		n.anchors = append(n.anchors, foldAnchor(m.s))
		n.trapFree = append(n.trapFree, !strings.ContainsAny(m.s, "iks"))
		need := m.minBytes()
		if !ms.cased {
			// A rune of two bytes may lower-case to three: a raw value
			// of fewer than 2/3 of the bytes cannot match.
			need = (2*need + 2) / 3
		}
		n.minRaw = append(n.minRaw, need)
	}
	return n, nil
}

// readValues reads a scalar or a list of scalars, expanding placeholders
// when |expand asks for it.
func (cp *compiler) readValues(vn *yaml.Node, ms modSet) ([]value, error) {
	var items []*yaml.Node
	switch vn.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{vn}
	case yaml.SequenceNode:
		if len(vn.Content) == 0 {
			return nil, errAt(vn.Line, "empty list of values")
		}
		items = vn.Content
	case yaml.AliasNode:
		return cp.readValues(vn.Alias, ms)
	default:
		return nil, errAt(vn.Line, "a value must be a scalar or a list of scalars")
	}
	raw := ms.re || ms.cidr || ms.fieldref || ms.exists || ms.numOp != "" || ms.part != ""
	var out []value
	for _, it := range items {
		if it.Kind == yaml.AliasNode {
			it = it.Alias
		}
		if it.Kind != yaml.ScalarNode {
			return nil, errAt(it.Line, "a value must be a scalar, not a %s", kindName(it.Kind))
		}
		tag := it.ShortTag()
		v := value{text: it.Value, tag: tag}
		if tag == "!!null" {
			out = append(out, v)
			continue
		}
		if ms.expand {
			ps, err := cp.expand(it.Value, raw)
			if err != nil {
				return nil, errAt(it.Line, "%w", err)
			}
			for _, p := range ps {
				out = append(out, value{text: p.text(), tag: "!!str", p: p})
				if raw {
					out[len(out)-1].text, _ = p.plain()
				}
			}
			continue
		}
		switch {
		case raw:
			v.p = literalPattern(it.Value)
		case tag == "!!str":
			v.p = parsePattern(it.Value)
		default: // numbers and booleans: their text, no wildcards
			v.p = literalPattern(it.Value)
		}
		out = append(out, v)
	}
	return out, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "node"
}

// expand replaces %name% placeholders with every configured value (a
// placeholder with several values multiplies the value into several). A
// backslash before % keeps it literal.
func (cp *compiler) expand(s string, raw bool) ([]pattern, error) {
	type seg struct {
		lit  string
		name string
	}
	var segs []seg
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '%' {
			b.WriteString(`%`)
			i++
			continue
		}
		if c == '%' {
			j := strings.IndexByte(s[i+1:], '%')
			if j > 0 {
				segs = append(segs, seg{lit: b.String()})
				b.Reset()
				segs = append(segs, seg{name: s[i+1 : i+1+j]})
				i += j + 1
				continue
			}
		}
		b.WriteByte(c)
	}
	segs = append(segs, seg{lit: b.String()})
	outs := []pattern{{}}
	for _, sg := range segs {
		if sg.name == "" {
			var p pattern
			if raw {
				p = literalPattern(sg.lit)
			} else {
				p = parsePattern(sg.lit)
			}
			for i := range outs {
				outs[i] = append(append(pattern{}, outs[i]...), p...)
			}
			continue
		}
		vals, ok := cp.cfg.Placeholders[sg.name]
		if !ok {
			return nil, fmt.Errorf("%w %%%s%% (set it in the configuration's placeholders)", ErrPlaceholder, sg.name)
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("%w %%%s%%: the configuration gives it no value", ErrPlaceholder, sg.name)
		}
		var next []pattern
		for _, o := range outs {
			for _, v := range vals {
				var p pattern
				if raw {
					p = literalPattern(v)
				} else {
					p = parsePattern(v)
				}
				next = append(next, append(append(pattern{}, o...), p...))
			}
		}
		if len(next) > 10000 {
			return nil, fmt.Errorf("placeholders expand to more than 10000 values")
		}
		outs = next
	}
	for i := range outs {
		outs[i] = outs[i].normalize()
	}
	return outs, nil
}

// applyTransforms runs the value-transforming modifiers in their order.
func applyTransforms(vals *[]value, mods []string) error {
	for _, m := range mods {
		var err error
		switch m {
		case "contains":
			mapVals(vals, func(p pattern) pattern { return p.withStar(true, true) })
		case "startswith":
			mapVals(vals, func(p pattern) pattern { return p.withStar(false, true) })
		case "endswith":
			mapVals(vals, func(p pattern) pattern { return p.withStar(true, false) })
		case "windash":
			err = flatMapVals(vals, func(p pattern) ([]pattern, error) { return windash(p), nil })
		case "base64":
			err = encodeVals(vals, m, func(s string) []string { return []string{base64.StdEncoding.EncodeToString([]byte(s))} })
		case "base64offset":
			err = encodeVals(vals, m, base64Offsets)
		case "wide", "utf16le":
			err = encodeVals(vals, m, func(s string) []string { return []string{utf16Encode(s, false, false)} })
		case "utf16be":
			err = encodeVals(vals, m, func(s string) []string { return []string{utf16Encode(s, true, false)} })
		case "utf16":
			err = encodeVals(vals, m, func(s string) []string { return []string{utf16Encode(s, false, true)} })
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func mapVals(vals *[]value, f func(pattern) pattern) {
	for i := range *vals {
		(*vals)[i].p = f((*vals)[i].p)
	}
}

func flatMapVals(vals *[]value, f func(pattern) ([]pattern, error)) error {
	var out []value
	for _, v := range *vals {
		ps, err := f(v.p)
		if err != nil {
			return err
		}
		for _, p := range ps {
			w := v
			w.p = p
			out = append(out, w)
		}
	}
	*vals = out
	return nil
}

func encodeVals(vals *[]value, mod string, f func(string) []string) error {
	return flatMapVals(vals, func(p pattern) ([]pattern, error) {
		s, ok := p.plain()
		if !ok {
			return nil, fmt.Errorf("|%s cannot encode a value with wildcards (%q)", mod, p.text())
		}
		var out []pattern
		for _, e := range f(s) {
			out = append(out, literalPattern(e))
		}
		return out, nil
	})
}

// base64Offsets gives the three encodings of s at offsets 0, 1 and 2 of a
// base64 stream, trimmed to the characters that do not depend on the
// neighbouring bytes (as pySigma does).
func base64Offsets(s string) []string {
	startOffsets := [3]int{0, 2, 3}
	endOffsets := [3]int{0, -3, -2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		end := len(enc)
		if e := endOffsets[(len(s)+i)%3]; e != 0 {
			end += e
		}
		start := startOffsets[i]
		if start > end {
			start = end
		}
		out = append(out, enc[start:end])
	}
	return out
}

func utf16Encode(s string, bigEndian, bom bool) string {
	u := utf16.Encode([]rune(s))
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, c := range u {
		if bigEndian {
			b = append(b, byte(c>>8), byte(c))
		} else {
			b = append(b, byte(c), byte(c>>8))
		}
	}
	return string(b)
}

// windashChars are the dashes that Windows command lines accept for flags.
var windashChars = []string{"-", "/", "–", "—", "―"}

// windash expands every dash or slash that starts a flag (preceded by no
// word character and followed by one, pySigma's \B[-/]\b) into each of the
// windash characters.
func windash(p pattern) []pattern {
	outs := []pattern{{}}
	for _, x := range p {
		if x.wild != 0 {
			for i := range outs {
				outs[i] = append(outs[i], x)
			}
			continue
		}
		variants := windashLit(x.lit)
		var next []pattern
		for _, o := range outs {
			for _, v := range variants {
				next = append(next, append(append(pattern{}, o...), piece{lit: v}))
			}
		}
		outs = next
	}
	for i := range outs {
		outs[i] = outs[i].normalize()
	}
	return outs
}

func windashLit(s string) []string {
	outs := []string{""}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '-' && c != '/' {
			continue
		}
		prevWord := i > 0 && isWordByte(s[i-1])
		nextWord := i+1 < len(s) && isWordByte(s[i+1])
		if prevWord || !nextWord {
			continue
		}
		var next []string
		for _, o := range outs {
			for _, d := range windashChars {
				next = append(next, o+s[start:i]+d)
			}
		}
		outs = next
		start = i + 1
		if len(outs) > 5*5*5*5*5 {
			break
		}
	}
	for i := range outs {
		outs[i] += s[start:]
	}
	return outs
}

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// regexp compiles a Sigma regular expression once per ruleset.
func (cp *compiler) regexp(expr, flags string) (*regexp.Regexp, error) {
	src := expr
	if flags != "" {
		src = "(?" + flags + ")" + expr
	}
	if re, ok := cp.res[src]; ok {
		return re, nil
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, err
	}
	cp.res[src] = re
	return re, nil
}
