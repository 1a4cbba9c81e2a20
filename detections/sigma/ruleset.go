package sigma

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/danang-soc/vigil/event"
)

// Ruleset is a compiled, immutable set of rules with its routing and
// prefilter. Match is safe for concurrent use.
type Ruleset struct {
	rules     []*Rule
	corrs     []*Correlation
	filters   []*Filter
	slotNames []string
	index     *sourceIndex
	pre       *prefilter
	// dir numbers every field name a rule or the mapping reads (rule
	// fields, renamed fields, mapping conditions); slotID is each slot's.
	dir      *keyTable
	dirNames map[string]int32
	slotID   []int32
	mapID    []int32 // per sourceIndex field

	buckets atomic.Pointer[map[bucketKey]*bucket]
	mu      sync.Mutex // serialises bucket construction
	pool    sync.Pool  // *evalCtx
}

// Rules returns the rules in load order (sorted by path, then position).
func (rs *Ruleset) Rules() []*Rule { return rs.rules }

// Correlations returns the correlation rules.
func (rs *Ruleset) Correlations() []*Correlation { return rs.corrs }

// Filters returns the filters applied to the rules.
func (rs *Ruleset) Filters() []*Filter { return rs.filters }

// Len is the number of detection rules.
func (rs *Ruleset) Len() int { return len(rs.rules) }

// Rule returns the rule with an id (or name), or nil.
func (rs *Ruleset) Rule(ref string) *Rule {
	for _, r := range rs.rules {
		if r.ID == ref || (r.Name != "" && r.Name == ref) {
			return r
		}
	}
	return nil
}

// Load compiles every .yml and .yaml file under roots (files or
// directories) of fsys. A rule that fails is reported and left out; it
// never stops the others.
func Load(cfg Config, fsys fs.FS, roots ...string) (*Ruleset, []RuleError) {
	b := newBuilder(cfg)
	if b.cfgErr != nil {
		return b.build()
	}
	for _, root := range roots {
		err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				b.errs = append(b.errs, RuleError{Path: p, Err: err})
				return nil
			}
			if d.IsDir() || !isRuleFile(p) {
				if !d.IsDir() && p == root {
					b.errs = append(b.errs, RuleError{Path: p, Err: fmt.Errorf("not a .yml or .yaml file")})
				}
				return nil
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				b.errs = append(b.errs, RuleError{Path: p, Err: err})
				return nil
			}
			b.files = append(b.files, ruleFile{p, data})
			return nil
		})
		if err != nil {
			b.errs = append(b.errs, RuleError{Path: root, Err: err})
		}
	}
	return b.build()
}

// LoadPaths is Load over operating-system paths: files, or directories
// searched recursively for .yml and .yaml files.
func LoadPaths(cfg Config, paths ...string) (*Ruleset, []RuleError) {
	b := newBuilder(cfg)
	if b.cfgErr != nil {
		return b.build()
	}
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				b.errs = append(b.errs, RuleError{Path: p, Err: err})
				return nil
			}
			if d.IsDir() || (!isRuleFile(p) && p != root) {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				b.errs = append(b.errs, RuleError{Path: p, Err: err})
				return nil
			}
			b.files = append(b.files, ruleFile{p, data})
			return nil
		})
		if err != nil {
			b.errs = append(b.errs, RuleError{Path: root, Err: err})
		}
	}
	return b.build()
}

func isRuleFile(p string) bool {
	return strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")
}

type ruleFile struct {
	path string
	data []byte
}

type builder struct {
	cfg    Config
	cfgErr error
	files  []ruleFile
	errs   []RuleError
}

func newBuilder(cfg Config) *builder {
	b := &builder{cfg: cfg}
	if err := cfg.Validate(); err != nil {
		b.cfgErr = err
		b.errs = append(b.errs, RuleError{Path: "<config>", Err: err})
	}
	return b
}

func (b *builder) build() (*Ruleset, []RuleError) {
	cp := newCompiler(&b.cfg)
	rs := &Ruleset{}
	sort.SliceStable(b.files, func(i, j int) bool { return b.files[i].path < b.files[j].path })
	var filters []*filterDoc
	byID := map[string]*Rule{}
	byName := map[string]*Rule{}
	corrByRef := map[string]*Correlation{}
	for _, f := range b.files {
		docs, errs := cp.parseFile(f.path, f.data)
		b.errs = append(b.errs, errs...)
		for _, d := range docs {
			switch {
			case d.rule != nil:
				r := d.rule
				if r.ID != "" {
					if o := byID[r.ID]; o != nil {
						b.errs = append(b.errs, RuleError{Path: r.Path, Line: r.Line, RuleID: r.ID,
							Err: fmt.Errorf("duplicate rule id %s (first at %s:%d)", r.ID, o.Path, o.Line)})
						continue
					}
					byID[r.ID] = r
				}
				if r.Name != "" {
					if o := byName[r.Name]; o != nil {
						b.errs = append(b.errs, RuleError{Path: r.Path, Line: r.Line, RuleID: r.ID,
							Err: fmt.Errorf("duplicate rule name %q (first at %s:%d)", r.Name, o.Path, o.Line)})
						continue
					}
					byName[r.Name] = r
				}
				r.index = len(rs.rules)
				rs.rules = append(rs.rules, r)
			case d.filter != nil:
				filters = append(filters, d.filter)
			case d.corr != nil:
				rs.corrs = append(rs.corrs, d.corr)
				for _, k := range []string{d.corr.ID, d.corr.Name} {
					if k != "" {
						corrByRef[k] = d.corr
					}
				}
			}
		}
	}
	find := func(ref string) *Rule {
		if r := byID[ref]; r != nil {
			return r
		}
		return byName[ref]
	}
	for _, f := range filters {
		var missing []string
		var targets []*Rule
		for _, ref := range f.rules {
			if r := find(ref); r != nil {
				targets = append(targets, r)
			} else {
				missing = append(missing, ref)
			}
		}
		if len(missing) > 0 {
			// A filter meant for a rule that is not there is a mistake
			// (a typo, a removed rule): say so and apply none of it.
			b.errs = append(b.errs, RuleError{Path: f.path, Line: f.line, RuleID: f.id,
				Err: fmt.Errorf("filter refers to unknown rules %s", strings.Join(missing, ", "))})
			continue
		}
		name := f.title
		if f.id != "" {
			name = f.id
		}
		for _, r := range targets {
			r.expr = andNode{r.expr, notNode{f.expr}}
			r.Filters = append(r.Filters, name)
		}
		rs.filters = append(rs.filters, &Filter{ID: f.id, Title: f.title, Rules: f.rules, LogSource: f.logsource, Path: f.path, Line: f.line})
	}
	var corrs []*Correlation
	for _, c := range rs.corrs {
		var missing []string
		c.RuleIDs = make([]string, len(c.Rules))
		for i, ref := range c.Rules {
			c.RuleIDs[i] = ref
			if r := find(ref); r != nil {
				if r.ID != "" {
					c.RuleIDs[i] = r.ID
				}
				if !c.Generate {
					r.CorrelationOnly = true
				}
				continue
			}
			if o := corrByRef[ref]; o != nil && o != c {
				if o.ID != "" {
					c.RuleIDs[i] = o.ID
				}
				continue
			}
			missing = append(missing, ref)
		}
		if len(missing) > 0 {
			b.errs = append(b.errs, RuleError{Path: c.Path, Line: c.Line, RuleID: c.ID,
				Err: fmt.Errorf("correlation refers to unknown rules %s", strings.Join(missing, ", "))})
			continue
		}
		corrs = append(corrs, c)
	}
	rs.corrs = corrs
	pl := newPlanner(rs.rules, cp.names)
	for _, r := range rs.rules {
		r.needles, _ = pl.needlesOf(r.expr)
		if len(r.needles) == 0 {
			r.needles = nil
		}
	}
	rs.slotNames = cp.names
	if b.cfg.LogSources == nil {
		rs.index = defaultIndex()
	} else {
		rs.index = newSourceIndex(b.cfg.LogSources)
	}
	rs.pre = buildPrefilter(rs.rules, pl)
	empty := map[bucketKey]*bucket{}
	rs.buckets.Store(&empty)
	rs.dirNames = map[string]int32{}
	dirID := func(n string) int32 {
		if id, ok := rs.dirNames[n]; ok {
			return id
		}
		id := int32(len(rs.dirNames))
		rs.dirNames[n] = id
		return id
	}
	for _, n := range rs.slotNames {
		rs.slotID = append(rs.slotID, dirID(n))
	}
	for _, f := range rs.index.fields {
		rs.mapID = append(rs.mapID, dirID(f))
	}
	for _, m := range rs.index.entries {
		for _, to := range m.Fields {
			dirID(to)
		}
	}
	rs.dir = newKeyTable(rs.dirNames)
	nIDs := len(rs.dirNames)
	nNeedles, nLits, nSlots := len(rs.pre.needleRules), rs.pre.nLits, len(rs.slotNames)
	rs.pool.New = func() any { return newEvalCtx(nIDs, nNeedles, nLits, nSlots) }
	return rs, b.errs
}

// bucketKey identifies a routing bucket: the event's own log source, or
// the mapping entries it fits.
type bucketKey struct {
	src     event.LogSource
	entries [4]uint16
	n       uint8
	more    string // entry list when more than four fit
}

// bucket is the rules that apply to one kind of event.
type bucket struct {
	rules  []int32 // rules without needles, always evaluated, in order
	member []uint64
	scans  []*slotScan
	keys   []int32 // per slot: the directory id of the event field it reads
	any    bool    // no rule at all applies
}

func (b *bucket) has(ri int32) bool { return b.member[ri>>6]&(1<<(ri&63)) != 0 }

// Match calls fn for every rule that matches e, filters applied, in rule
// order. fn must not keep e beyond the call.
func (rs *Ruleset) Match(e *event.Event, fn func(r *Rule)) {
	c := rs.pool.Get().(*evalCtx)
	c.reset(e, rs.dir)
	b := rs.bucketFor(e, c)
	if !b.any {
		c.e = nil
		rs.pool.Put(c)
		return
	}
	c.keys = b.keys
	for _, sc := range b.scans {
		idx := c.field(sc.slot)
		if idx < 0 {
			continue
		}
		c.hits = sc.find(c, idx, c.hits[:0])
		for _, nid := range c.hits {
			if c.needleGen[nid] == c.gen {
				continue
			}
			c.needleGen[nid] = c.gen
			for _, ri := range rs.pre.needleRules[nid] {
				if b.has(ri) {
					c.cands = append(c.cands, ri)
				}
			}
		}
	}
	cands := c.cands
	if len(cands) > 0 {
		slices.Sort(cands)
		cands = slices.Compact(cands)
	}
	// Merge the always-evaluated rules with the candidates, in rule order.
	i, j := 0, 0
	for i < len(b.rules) || j < len(cands) {
		var ri int32
		switch {
		case j >= len(cands) || (i < len(b.rules) && b.rules[i] < cands[j]):
			ri = b.rules[i]
			i++
		default:
			ri = cands[j]
			j++
		}
		r := rs.rules[ri]
		if c.confirmed(r) && r.expr.eval(c) {
			fn(r)
		}
	}
	c.e = nil
	rs.pool.Put(c)
}

// confirmed reports whether every confirming needle set of r has a needle
// in the event (rules without needles have none).
func (c *evalCtx) confirmed(r *Rule) bool {
sets:
	for _, cl := range r.confirm {
		for _, id := range cl {
			if id >= 0 && c.needleGen[id] == c.gen || id < 0 && c.litGen[^id] == c.gen {
				continue sets
			}
		}
		return false
	}
	return true
}

func (rs *Ruleset) bucketFor(e *event.Event, c *evalCtx) *bucket {
	if !e.Source.IsZero() {
		return rs.bucketOf(bucketKey{src: e.Source}, e, nil)
	}
	// Events of one source come in runs: the bucket of the last event this
	// scratch saw is kept with the values that chose it.
	c.srcSeen = rs.index.appendValues(c.srcSeen[:0], c, rs.mapID)
	if c.srcBucket != nil && string(c.srcSeen) == string(c.srcLast) {
		return c.srcBucket
	}
	var k bucketKey
	c.entries = rs.index.match(c.entries[:0], c, rs.mapID)
	entries := c.entries
	if len(entries) <= len(k.entries) {
		for i, x := range entries {
			k.entries[i] = uint16(x)
		}
		k.n = uint8(len(entries))
	} else {
		k.more = fmt.Sprint(entries)
	}
	b := rs.bucketOf(k, e, entries)
	c.srcLast, c.srcBucket = append(c.srcLast[:0], c.srcSeen...), b
	return b
}

// bucketOf returns the bucket of key k, built on first use.
func (rs *Ruleset) bucketOf(k bucketKey, e *event.Event, entries []int) *bucket {
	if b := (*rs.buckets.Load())[k]; b != nil {
		return b
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	old := *rs.buckets.Load()
	if b := old[k]; b != nil {
		return b
	}
	b := rs.newBucket(e.Source, slices.Clone(entries))
	next := make(map[bucketKey]*bucket, len(old)+1)
	for kk, v := range old {
		next[kk] = v
	}
	next[k] = b
	rs.buckets.Store(&next)
	return b
}

func (rs *Ruleset) newBucket(src event.LogSource, entries []int) *bucket {
	b := &bucket{member: make([]uint64, (len(rs.rules)+63)/64)}
	b.keys = slices.Clone(rs.slotID)
	renamed := make([]bool, len(b.keys))
	var sources []event.LogSource
	for _, x := range entries {
		m := rs.index.entries[x]
		sources = append(sources, m.Source())
		for from, to := range m.Fields {
			if s, ok := slotIndex(rs.slotNames, from); ok && !renamed[s] {
				b.keys[s] = rs.dirNames[to]
				renamed[s] = true
			}
		}
	}
	slots := map[int32]bool{}
	for _, r := range rs.rules {
		ok := false
		switch {
		case !src.IsZero():
			ok = lenientCompatible(r.LogSource, src)
		case len(sources) == 0:
			ok = true
		default:
			for _, s := range sources {
				if strictCompatible(r.LogSource, s) {
					ok = true
					break
				}
			}
		}
		if !ok {
			continue
		}
		b.any = true
		ri := int32(r.index)
		if r.needles == nil {
			b.rules = append(b.rules, ri)
			continue
		}
		b.member[ri>>6] |= 1 << (ri & 63)
		for _, n := range r.needles {
			slots[n.slot] = true
		}
		for _, cl := range r.confirm {
			for _, id := range cl {
				slots[rs.pre.slotOf(id)] = true
			}
		}
	}
	for s := range slots {
		b.scans = append(b.scans, rs.pre.scans[s])
	}
	sort.Slice(b.scans, func(i, j int) bool { return b.scans[i].slot < b.scans[j].slot })
	return b
}

func slotIndex(names []string, name string) (int, bool) {
	for i, n := range names {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// lenientCompatible: every part the rule names equals the event's, or the
// event does not know that part (the DESIGN.md contract for events that
// carry their log source).
func lenientCompatible(rule, ev event.LogSource) bool {
	return part(rule.Product, ev.Product, true) && part(rule.Category, ev.Category, true) && part(rule.Service, ev.Service, true)
}

// strictCompatible: every part the rule names equals the mapped source's
// (a mapping describes its events completely, as thor.yml does).
func strictCompatible(rule, src event.LogSource) bool {
	return part(rule.Product, src.Product, false) && part(rule.Category, src.Category, false) && part(rule.Service, src.Service, false)
}

func part(rule, ev string, lenient bool) bool {
	return rule == "" || rule == ev || (lenient && ev == "")
}

func anyFoldTrap(vals []string) bool {
	for _, v := range vals {
		if foldTrap(v) {
			return true
		}
	}
	return false
}
