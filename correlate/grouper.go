package correlate

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/danang-soc/vigil/event"
)

// GrouperConfig bounds the Grouper. The zero value of a field means its
// default.
type GrouperConfig struct {
	// Window is how long after an incident's last alert a new alert about
	// one of its entities still joins it (default 1h, on alert time).
	Window time.Duration `json:"window"`
	// Dedup is how long an alert of the same rule about the same group and
	// entities counts as a duplicate of one already in the incident
	// (default 10m): it is counted but neither escalates nor notifies.
	Dedup time.Duration `json:"dedup"`
	// MaxOpen bounds the open incidents kept in memory (default 10,000).
	// When a new incident would exceed it, the one whose last alert is
	// oldest is forgotten (it stays open in the store; later alerts about
	// its entities open a new incident), counted in GrouperStats.Forgotten.
	// Incidents idle for two windows are forgotten the same way.
	MaxOpen int `json:"max_open"`
	// MaxSuppressions bounds the suppressions in force (default 10,000).
	MaxSuppressions int `json:"max_suppressions"`
}

// Grouper defaults.
const (
	DefaultGroupWindow     = time.Hour
	DefaultDedup           = 10 * time.Minute
	DefaultMaxOpen         = 10_000
	DefaultMaxSuppressions = 10_000
)

// Validate reports values that cannot work.
func (c GrouperConfig) Validate() error {
	var errs []error
	if c.Window < 0 || c.Dedup < 0 {
		errs = append(errs, fmt.Errorf("window and dedup must not be negative, got %v and %v", c.Window, c.Dedup))
	}
	if c.MaxOpen < 0 || c.MaxSuppressions < 0 {
		errs = append(errs, fmt.Errorf("max_open and max_suppressions must not be negative, got %d and %d", c.MaxOpen, c.MaxSuppressions))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("incident grouping config: %w", err)
	}
	return nil
}

// Outcome says what an alert did to the incidents.
type Outcome uint8

const (
	// Created: the alert opened a new incident.
	Created Outcome = iota + 1
	// Updated: the alert joined an open incident, which changed.
	Updated
	// Duplicate: the alert repeats one already in the incident (see
	// GrouperConfig.Dedup); only the counts and last-seen time changed.
	Duplicate
	// Suppressed: an analyst's suppression matched; no incident changed.
	Suppressed
)

var outcomeNames = [...]string{"", "created", "updated", "duplicate", "suppressed"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Result is what Grouper.Add did with an alert.
type Result struct {
	Outcome Outcome
	// Incident is the incident as it is after the alert (zero when
	// suppressed), for the server to store and push.
	Incident event.Incident
	// Suppression is the id of the suppression that matched.
	Suppression string
}

// GrouperStats are the Grouper's counters, for metrics.
type GrouperStats struct {
	Open                                                           int // open incidents kept in memory
	Suppressions                                                   int // suppressions in force
	Created, Updated, Duplicates, Suppressed, Forgotten, Escalated uint64
}

// Grouper groups alerts into incidents by entity (host, user, database,
// source address) and time, escalates their severity as evidence grows,
// records the ATT&CK tactics in the order first seen, and applies the
// deduplication and suppressions that analysts set at run time.
//
// Severity policy: an incident is at least as severe as its most severe
// alert, and escalation never lowers it. It becomes critical once it holds
// three alerts of level high or above from at least two different rules;
// it becomes at least high once it holds five alerts of level medium or
// above, or alerts of three different ATT&CK tactics (an attack moving
// along the kill chain).
//
// An alert joins the open incident that shares an entity with it and whose
// last alert is within Window of it; of several, the most recently active.
type Grouper struct {
	cfg GrouperConfig
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	open      map[event.ID]*tracked
	byEntity  map[event.Entity][]*tracked
	newest    time.Time // newest alert time seen
	nextPrune time.Time
	sups      []*suppression
	stats     GrouperStats
}

type tracked struct {
	inc    event.Incident
	levels [event.LevelCritical + 1]int
	rules  map[string]bool
	recent map[string]time.Time // dedup signature → newest alert time
}

type suppression struct {
	Suppression
}

// NewGrouper returns a Grouper. log and now may be nil (discard, time.Now).
func NewGrouper(cfg GrouperConfig, log *slog.Logger, now func() time.Time) (*Grouper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultGroupWindow
	}
	if cfg.Dedup == 0 {
		cfg.Dedup = DefaultDedup
	}
	if cfg.MaxOpen == 0 {
		cfg.MaxOpen = DefaultMaxOpen
	}
	if cfg.MaxSuppressions == 0 {
		cfg.MaxSuppressions = DefaultMaxSuppressions
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Grouper{cfg: cfg, log: log, now: now, open: map[event.ID]*tracked{}, byEntity: map[event.Entity][]*tracked{}}, nil
}

// MaxEntitiesPerIncident bounds the entities an incident records and is
// grouped by: a brute force from thousands of addresses stays one incident
// about its host, its first addresses listed.
const MaxEntitiesPerIncident = 64

// Entity kinds.
const (
	KindHost     = "host"
	KindUser     = "user"
	KindDatabase = "database"
	KindSourceIP = "source.ip"
)

// Entities returns the entities of an alert, in the order host, database,
// user, source address.
func Entities(a *event.Alert) []event.Entity {
	var out []event.Entity
	for _, e := range []event.Entity{{Kind: KindHost, Value: a.Host}, {Kind: KindDatabase, Value: a.Database},
		{Kind: KindUser, Value: a.User}, {Kind: KindSourceIP, Value: a.SourceIP}} {
		if e.Value != "" {
			out = append(out, e)
		}
	}
	return out
}

// tactics are the ATT&CK enterprise tactics as Sigma tags name them.
var tactics = map[string]bool{
	"reconnaissance": true, "resource-development": true, "initial-access": true, "execution": true,
	"persistence": true, "privilege-escalation": true, "defense-evasion": true, "credential-access": true,
	"discovery": true, "lateral-movement": true, "collection": true, "command-and-control": true,
	"exfiltration": true, "impact": true,
}

// Tactics returns the ATT&CK tactics among Sigma tags ("attack.<tactic>"),
// in order.
func Tactics(tags []string) []string {
	var out []string
	for _, t := range tags {
		name, ok := strings.CutPrefix(strings.ToLower(t), "attack.")
		name = strings.ReplaceAll(name, "_", "-")
		if ok && tactics[name] && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// Add groups one alert. It is meant to be called once per alert, in the
// order alerts are raised; re-adding an alert counts as a duplicate.
func (g *Grouper) Add(a event.Alert) Result {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if s := g.suppressedBy(&a, now); s != nil {
		s.Hits++
		g.stats.Suppressed++
		return Result{Outcome: Suppressed, Suppression: s.ID}
	}
	if a.Time.After(g.newest) {
		g.newest = a.Time
	}
	g.prune()
	ents := Entities(&a)
	var best *tracked
	for _, e := range ents {
		for _, t := range g.byEntity[e] {
			if a.Time.Sub(t.inc.LastSeen) > g.cfg.Window || t.inc.FirstSeen.Sub(a.Time) > g.cfg.Window {
				continue
			}
			if best == nil || t.inc.LastSeen.After(best.inc.LastSeen) {
				best = t
			}
		}
	}
	if best == nil {
		t := g.create(&a, ents, now)
		g.stats.Created++
		return Result{Outcome: Created, Incident: t.snapshot()}
	}
	sig := signature(&a)
	if last, ok := best.recent[sig]; ok && absDur(a.Time.Sub(last)) <= g.cfg.Dedup {
		best.inc.AlertCount++
		best.inc.LastSeen = later(best.inc.LastSeen, a.Time)
		best.recent[sig] = later(last, a.Time)
		best.inc.Updated = now
		g.stats.Duplicates++
		return Result{Outcome: Duplicate, Incident: best.snapshot()}
	}
	before := best.inc.Severity
	best.record(&a, sig, g.cfg.Dedup)
	for _, e := range ents {
		if len(best.inc.Entities) < MaxEntitiesPerIncident && !slices.Contains(best.inc.Entities, e) {
			best.inc.Entities = append(best.inc.Entities, e)
			g.byEntity[e] = append(g.byEntity[e], best)
		}
	}
	best.inc.Updated = now
	if best.inc.Severity > before {
		g.stats.Escalated++
	}
	g.stats.Updated++
	return Result{Outcome: Updated, Incident: best.snapshot()}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// signature identifies alerts that repeat each other: same rule, same
// group-by values, same entities.
func signature(a *event.Alert) string {
	var b strings.Builder
	b.WriteString(a.RuleID)
	keys := make([]string, 0, len(a.Group))
	for k := range a.Group {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + a.Group[k])
	}
	b.WriteString("\x00" + a.Host + "\x00" + a.User + "\x00" + a.Database + "\x00" + a.SourceIP)
	return b.String()
}

func (g *Grouper) create(a *event.Alert, ents []event.Entity, now time.Time) *tracked {
	if len(g.open) >= g.cfg.MaxOpen {
		var oldest *tracked
		for _, t := range g.open {
			if oldest == nil || t.inc.LastSeen.Before(oldest.inc.LastSeen) {
				oldest = t
			}
		}
		g.forget(oldest)
		g.stats.Forgotten++
		g.log.Warn("open incident no longer grouped into: too many open incidents",
			"incident_id", oldest.inc.ID.String(), "max_open", g.cfg.MaxOpen)
	}
	key := "alert:" + a.ID.String()
	if len(ents) > 0 {
		key = ents[0].Kind + ":" + ents[0].Value
	}
	title := a.RuleTitle
	if title == "" {
		title = a.RuleID
	}
	if len(ents) > 0 {
		title += " on " + ents[0].Value
	}
	t := &tracked{
		inc: event.Incident{
			ID:        event.DeriveID("incident", []event.ID{a.ID}),
			Title:     title,
			Status:    event.StatusNew,
			Key:       key,
			Created:   now,
			Updated:   now,
			FirstSeen: a.Time,
			LastSeen:  a.Time,
			Entities:  slices.Clone(ents),
		},
		rules:  map[string]bool{},
		recent: map[string]time.Time{},
	}
	t.record(a, signature(a), g.cfg.Dedup)
	g.open[t.inc.ID] = t
	for _, e := range ents {
		g.byEntity[e] = append(g.byEntity[e], t)
	}
	return t
}

// record adds a (non-duplicate) alert to the incident and escalates.
func (t *tracked) record(a *event.Alert, sig string, dedup time.Duration) {
	t.inc.AlertCount++
	if a.Level <= event.LevelCritical {
		t.levels[a.Level]++
	}
	t.rules[a.RuleID] = true
	if a.Time.Before(t.inc.FirstSeen) {
		t.inc.FirstSeen = a.Time
	}
	t.inc.LastSeen = later(t.inc.LastSeen, a.Time)
	for _, tac := range Tactics(a.Tags) {
		if !slices.Contains(t.inc.Tactics, tac) {
			t.inc.Tactics = append(t.inc.Tactics, tac)
		}
	}
	t.recent[sig] = a.Time
	for s, at := range t.recent {
		if t.inc.LastSeen.Sub(at) > dedup {
			delete(t.recent, s)
		}
	}
	t.inc.Severity = max(t.inc.Severity, a.Level, t.escalation())
}

// escalation is the severity that the evidence alone calls for (see the
// policy on Grouper).
func (t *tracked) escalation() event.Level {
	high := t.levels[event.LevelHigh] + t.levels[event.LevelCritical]
	mediumUp := high + t.levels[event.LevelMedium]
	switch {
	case high >= 3 && len(t.rules) >= 2:
		return event.LevelCritical
	case mediumUp >= 5 || len(t.inc.Tactics) >= 3:
		return event.LevelHigh
	}
	return 0
}

func (t *tracked) snapshot() event.Incident {
	inc := t.inc
	inc.Entities = slices.Clone(inc.Entities)
	inc.Tactics = slices.Clone(inc.Tactics)
	return inc
}

func (g *Grouper) forget(t *tracked) {
	delete(g.open, t.inc.ID)
	for _, e := range t.inc.Entities {
		list := slices.DeleteFunc(g.byEntity[e], func(x *tracked) bool { return x == t })
		if len(list) == 0 {
			delete(g.byEntity, e)
		} else {
			g.byEntity[e] = list
		}
	}
}

// prune forgets incidents idle for two windows, at most once per window.
func (g *Grouper) prune() {
	if g.newest.Before(g.nextPrune) {
		return
	}
	g.nextPrune = g.newest.Add(g.cfg.Window)
	for _, t := range g.open {
		if g.newest.Sub(t.inc.LastSeen) > 2*g.cfg.Window {
			g.forget(t)
			g.stats.Forgotten++
		}
	}
}

// Seed tracks the open incidents of the store, so that alerts after a
// restart join them; closed ones are ignored. Call it before Add.
func (g *Grouper) Seed(incidents []event.Incident) {
	for _, inc := range incidents {
		g.Sync(inc)
	}
}

// Sync tells the Grouper of an incident as the store now has it (after an
// analyst's update): an open one is tracked with its status, assignee,
// severity and title as given; a closed one is no longer grouped into, so
// that new alerts about its entities open a new incident.
func (g *Grouper) Sync(inc event.Incident) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.open[inc.ID]
	if !inc.Status.Open() {
		if t != nil {
			g.forget(t)
		}
		return
	}
	if t == nil {
		if len(g.open) >= g.cfg.MaxOpen {
			return
		}
		t = &tracked{rules: map[string]bool{}, recent: map[string]time.Time{}}
		g.open[inc.ID] = t
	} else {
		for _, e := range t.inc.Entities {
			g.byEntity[e] = slices.DeleteFunc(g.byEntity[e], func(x *tracked) bool { return x == t })
		}
	}
	t.inc = inc
	t.inc.Entities = slices.Clone(inc.Entities)
	t.inc.Tactics = slices.Clone(inc.Tactics)
	for _, e := range t.inc.Entities {
		g.byEntity[e] = append(g.byEntity[e], t)
	}
	if inc.LastSeen.After(g.newest) {
		g.newest = inc.LastSeen
	}
}

// Stats returns a copy of the counters.
func (g *Grouper) Stats() GrouperStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireSuppressions(g.now())
	s := g.stats
	s.Open = len(g.open)
	s.Suppressions = len(g.sups)
	return s
}
