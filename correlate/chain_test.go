package correlate

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/google/go-cmp/cmp"
)

// The specification's complete example: multiple failed logins followed by
// a successful login, as a chain of two correlations.
// generate is set on the outer correlation: its referenced rules (the
// intermediate correlation and successful_login) then raise their own alerts.
func specChain(generate bool) []Rule {
	return []Rule{
		{ID: "b180ead8-d58f-40b2-ae54-c8940995b9b6", Title: "Correlation - Multiple Failed Logins Followed by Successful Login",
			Type: TemporalOrdered, Rules: []string{"multiple_failed_login", "successful_login"}, GroupBy: []string{"User"},
			Timespan: 10 * time.Minute, Level: event.LevelHigh, Tags: []string{"attack.credential-access", "attack.t1110"}, Generate: generate},
		{ID: "a8418a5a-5fc4-46b5-b23b-6c73beb19d41", Name: "multiple_failed_login", Title: "Multiple failed logons",
			Type: EventCount, Rules: []string{"failed_login"}, GroupBy: []string{"User"}, Timespan: 10 * time.Minute,
			Condition: gte(10)},
	}
}

func TestChainSpecExample(t *testing.T) {
	h := newHarness(t, Config{}, specChain(false)...)
	var steps []step
	steps = append(steps, s("successful_login", 0, "User", "alice", "host.name", "dc1")) // before the failures: no order
	for i := range 13 {
		user := "alice"
		if i%4 == 3 {
			user = "bob"
		}
		steps = append(steps, s("failed_login", time.Duration(i+1)*10*sec, "User", user, "host.name", "dc1"))
	}
	steps = append(steps, s("successful_login", 3*time.Minute, "User", "bob", "host.name", "dc1"))
	steps = append(steps, s("successful_login", 4*time.Minute, "User", "alice", "host.name", "dc1", "source.ip", "1.2.3.4"))
	h.feed(steps...)
	failures := []int{1, 2, 3, 5, 6, 7, 9, 10, 11, 13}
	want := []got{{
		Rule:   "b180ead8-d58f-40b2-ae54-c8940995b9b6",
		Steps:  append(failures, 15),
		Group:  map[string]string{"User": "alice"},
		Time:   4 * time.Minute,
		Level:  event.LevelHigh,
		Entity: "dc1/alice",
	}}
	if diff := cmp.Diff(want, h.alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if len(h.raw) == 1 {
		a := h.raw[0]
		if a.SourceIP != "1.2.3.4" || a.RuleTitle != "Correlation - Multiple Failed Logins Followed by Successful Login" ||
			!cmp.Equal(a.Tags, []string{"attack.credential-access", "attack.t1110"}) || !strings.Contains(a.Summary, "User=alice") {
			t.Errorf("alert = %+v, want the rule's title and tags, the events' source address and a summary naming the group", a)
		}
	}
	for ref, want := range map[string]bool{
		"failed_login": false, "multiple_failed_login": false, "a8418a5a-5fc4-46b5-b23b-6c73beb19d41": false,
		"successful_login": false, "unrelated": true, "b180ead8-d58f-40b2-ae54-c8940995b9b6": true,
	} {
		if got := h.e.Generates(ref); got != want {
			t.Errorf("Generates(%q) = %v, want %v", ref, got, want)
		}
	}
	st := h.e.Stats()
	if st.Alerts != 2 {
		t.Errorf("Stats().Alerts = %d, want 2 (the intermediate and the final correlation)", st.Alerts)
	}
}

func TestChainGenerateEmitsIntermediate(t *testing.T) {
	h := newHarness(t, Config{}, specChain(true)...)
	h.feed(repeat(10, func(i int) step { return s("failed_login", time.Duration(i)*sec, "User", "alice") })...)
	want := []got{{Rule: "a8418a5a-5fc4-46b5-b23b-6c73beb19d41", Steps: seq(0, 9), Group: map[string]string{"User": "alice"}, Time: 9 * sec, Entity: "/alice"}}
	if diff := cmp.Diff(want, h.alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	for ref, want := range map[string]bool{"failed_login": false, "multiple_failed_login": true, "successful_login": true} {
		if got := h.e.Generates(ref); got != want {
			t.Errorf("Generates(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	ok := Rule{ID: "x", Type: EventCount, Rules: []string{"r"}, Timespan: time.Minute, Condition: gte(2)}
	mod := func(f func(r *Rule)) Rule {
		r := ok
		f(&r)
		return r
	}
	tests := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"no id", []Rule{mod(func(r *Rule) { r.ID = "" })}, "neither id nor name"},
		{"no type", []Rule{mod(func(r *Rule) { r.Type = 0 })}, "unknown correlation type"},
		{"no rules", []Rule{mod(func(r *Rule) { r.Rules = nil })}, "none referenced"},
		{"no timespan", []Rule{mod(func(r *Rule) { r.Timespan = 0 })}, "timespan"},
		{"no condition", []Rule{mod(func(r *Rule) { r.Condition = Condition{} })}, "needs a comparison"},
		{"value_count without field", []Rule{mod(func(r *Rule) { r.Type = ValueCount })}, "needs a field"},
		{"field on event_count", []Rule{mod(func(r *Rule) { r.Condition.Field = []string{"f"} })}, "takes no field"},
		{"percentile elsewhere", []Rule{mod(func(r *Rule) { r.Condition.Percentile = 50 })}, "percentile"},
		{"self reference", []Rule{mod(func(r *Rule) { r.Rules = []string{"x"} })}, "references the rule itself"},
		{"alias of an unreferenced rule", []Rule{mod(func(r *Rule) { r.Aliases = map[string]map[string]string{"a": {"zz": "f"}} })}, "not one of the referenced"},
		{"duplicate id", []Rule{ok, ok}, "also the id or name"},
		{"cycle", []Rule{
			mod(func(r *Rule) { r.ID, r.Rules = "a", []string{"b"} }),
			mod(func(r *Rule) { r.ID, r.Rules = "b", []string{"a"} }),
		}, "cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{}, tc.rules, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{}, []Rule{ok}, nil, nil); err != nil {
		t.Errorf("New(valid rule) = %v", err)
	}
	for _, cfg := range []Config{{Lateness: -1}, {MaxKeysPerRule: -1}, {MaxEventsPerKey: -1}} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Config%+v.Validate() = nil, want an error", cfg)
		}
	}
}

func TestLateEventsAreReported(t *testing.T) {
	h := newHarness(t, Config{Lateness: time.Minute}, Rule{ID: "c", Type: EventCount, Rules: []string{"r"}, Timespan: time.Hour, Condition: gte(3)})
	h.feed(s("r", 10*time.Minute), s("r", 9*time.Minute), s("r", 8*time.Minute+59*sec), s("unrelated", 0))
	if len(h.errs) != 1 || !errors.Is(h.errs[0], ErrLate) {
		t.Fatalf("errors = %v, want one ErrLate", h.errs)
	}
	var le *LateError
	if !errors.As(h.errs[0], &le) || !le.Time.Equal(t0.Add(8*time.Minute+59*sec)) || !le.Watermark.Equal(t0.Add(9*time.Minute)) {
		t.Errorf("late error = %#v, want the event's time and the watermark", le)
	}
	if st := h.e.Stats(); st.Late != 1 || st.Observed != 3 {
		t.Errorf("Stats() late %d observed %d, want 1 and 3", st.Late, st.Observed)
	}
	if len(h.alerts) != 0 {
		t.Errorf("alerts = %v, want none: the late event was not evaluated", h.alerts)
	}
}

func TestDuplicateEventCountsOnce(t *testing.T) {
	h := newHarness(t, Config{}, Rule{ID: "c", Type: EventCount, Rules: []string{"r"}, Timespan: time.Hour, Condition: gte(2)})
	ev := &event.Event{ID: event.NewID(t0), Time: t0}
	for range 2 {
		// The same rule by id and name, twice: redelivery after a crash.
		if err := h.e.Observe([]string{"id-r", "r"}, ev, h.emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.alerts) != 0 {
		t.Errorf("alerts = %v, want none: one event seen twice", h.alerts)
	}
	h.feed(s("r", sec))
	if len(h.alerts) != 1 {
		t.Errorf("got %d alerts after a second event, want 1", len(h.alerts))
	}
}

// A brute force half seen before a restart is still caught after it.
func TestSnapshotRestoreMidPattern(t *testing.T) {
	rules := append(specChain(false), Rule{ID: "avg", Type: ValueAvg, Rules: []string{"q"}, GroupBy: []string{"db.user"},
		Timespan: time.Hour, Condition: Condition{Ops: []Comparison{{GT, 10}}, Field: []string{"rows"}}})
	first := newHarness(t, Config{}, rules...)
	first.feed(repeat(6, func(i int) step { return s("failed_login", time.Duration(i)*sec, "User", "alice") })...)
	first.feed(s("q", 0, "db.user", "u", "rows", "50"))
	var buf bytes.Buffer
	if err := first.e.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()

	second := newHarness(t, Config{}, rules...)
	second.ids, second.n = first.ids, first.n
	if err := second.e.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	second.feed(repeat(4, func(i int) step { return s("failed_login", time.Duration(i+6)*sec, "User", "alice") })...)
	second.feed(s("successful_login", time.Minute, "User", "alice"))
	second.e.Advance(t0.Add(3*time.Hour), second.emit)
	want := []got{
		{Rule: "b180ead8-d58f-40b2-ae54-c8940995b9b6", Steps: []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11}, Group: map[string]string{"User": "alice"}, Time: time.Minute, Level: event.LevelHigh, Entity: "/alice"},
		{Rule: "avg", Steps: []int{6}, Group: map[string]string{"db.user": "u"}, Entity: "/u"},
	}
	if diff := cmp.Diff(want, second.alerts); diff != "" {
		t.Errorf("alerts after restore (-want +got):\n%s", diff)
	}

	// A rule whose meaning changed does not get the old state.
	changed := append([]Rule(nil), rules...)
	changed[1].Condition = gte(5)
	third := newHarness(t, Config{}, changed...)
	if err := third.e.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	for _, rs := range third.e.Stats().Rules {
		if rs.Keys != 0 && rs.Rule == changed[1].ID {
			t.Errorf("changed rule %s restored %d keys, want 0", rs.Rule, rs.Keys)
		}
	}

	// Corrupt input is refused and leaves the state alone.
	for i := range []int{0, 5, len(snap) / 2, len(snap) - 1} {
		bad := bytes.Clone(snap)
		bad[i] ^= 0x55
		if err := second.e.Restore(bytes.NewReader(bad)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("Restore(corrupt at %d) = %v, want ErrBadSnapshot", i, err)
		}
	}
}

func FuzzRestore(f *testing.F) {
	rules := specChain(false)
	e, err := New(Config{}, rules, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 5 {
		ev := &event.Event{ID: event.NewID(t0), Time: t0.Add(time.Duration(i) * sec)}
		ev.Fields.Set("User", event.String("u"))
		e.Observe([]string{"failed_login"}, ev, func(event.Alert) {})
	}
	var buf bytes.Buffer
	e.Snapshot(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("VCORR\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, _ := New(Config{}, rules, nil, nil)
		if err := e.Restore(bytes.NewReader(b)); err != nil {
			return
		}
		// What restores must snapshot and restore again.
		var out bytes.Buffer
		if err := e.Snapshot(&out); err != nil {
			t.Fatal(err)
		}
		if err := e.Restore(&out); err != nil {
			t.Fatalf("re-restoring: %v", err)
		}
	})
}

func TestEvictionUnderMaxKeys(t *testing.T) {
	h := newHarness(t, Config{MaxKeysPerRule: 10}, Rule{ID: "c", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"user.name"}, Timespan: time.Hour, Condition: gte(2)})
	// 30 users once each: 20 evictions. The newest ones survive.
	h.feed(repeat(30, func(i int) step { return s("r", time.Duration(i)*sec, "user.name", string(rune('A'+i))) })...)
	st := h.e.Stats().Rules[0]
	if st.Keys != 10 || st.Evicted != 20 {
		t.Errorf("keys %d evicted %d, want 10 and 20", st.Keys, st.Evicted)
	}
	// The most recent user was kept: its second event completes the pattern.
	h.feed(s("r", 31*sec, "user.name", string(rune('A'+29))))
	if len(h.alerts) != 1 {
		t.Errorf("got %d alerts, want 1 for the newest user", len(h.alerts))
	}
}

func TestExpiredKeysAreSwept(t *testing.T) {
	h := newHarness(t, Config{Lateness: time.Second}, Rule{ID: "c", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"user.name"}, Timespan: time.Minute, Condition: gte(5)})
	h.feed(repeat(100, func(i int) step { return s("r", time.Duration(i)*sec, "user.name", string(rune('A'+i%50))) })...)
	h.feed(s("r", time.Hour, "user.name", "late-comer"))
	st := h.e.Stats().Rules[0]
	if st.Keys != 1 || st.Expired != 50 {
		t.Errorf("keys %d expired %d, want 1 and 50", st.Keys, st.Expired)
	}
}

func TestFlushJudgesOpenWindows(t *testing.T) {
	h := newHarness(t, Config{Lateness: time.Hour}, Rule{ID: "few", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"host.name"},
		Timespan: time.Minute, Condition: Condition{Ops: []Comparison{{LTE, 2}}}})
	h.feed(s("r", 0, "host.name", "a"), s("r", 2*time.Minute, "host.name", "a"), s("r", sec, "host.name", "b"), s("r", 2*sec, "host.name", "b"), s("r", 3*sec, "host.name", "b"))
	if len(h.alerts) != 0 {
		t.Fatalf("alerts before the flush: %v", h.alerts)
	}
	h.e.Flush(h.emit)
	want := []got{
		{Rule: "few", Steps: []int{0}, Group: map[string]string{"host.name": "a"}, Time: 0, Entity: "a/"},
		{Rule: "few", Steps: []int{1}, Group: map[string]string{"host.name": "a"}, Time: 2 * time.Minute, Entity: "a/"},
	}
	if diff := cmp.Diff(want, h.alerts); diff != "" {
		t.Errorf("alerts after Flush (-want +got):\n%s", diff)
	}
}

// Stats and Snapshot run beside Observe, as the server's metrics and
// periodic snapshots do (run with -race).
func TestConcurrentReaders(t *testing.T) {
	h := newHarness(t, Config{}, specChain(false)...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			h.e.Stats()
			var buf bytes.Buffer
			if err := h.e.Snapshot(&buf); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	h.feed(repeat(500, func(i int) step {
		return s("failed_login", time.Duration(i)*sec, "User", string(rune('a'+i%7)))
	})...)
	<-done
	if got := h.e.Stats().Alerts; got != 7*7 {
		t.Errorf("Stats().Alerts = %d, want %d", got, 49)
	}
}

// A key judged at close keeps closing windows after its oldest events
// were dropped to respect MaxEventsPerKey.
func TestTruncatedKeyStillCloses(t *testing.T) {
	h := newHarness(t, Config{Lateness: sec, MaxEventsPerKey: 4}, Rule{ID: "avg", Type: ValueAvg, Rules: []string{"q"}, GroupBy: []string{"u"},
		Timespan: time.Minute, Condition: Condition{Ops: []Comparison{{GT, 10}}, Field: []string{"n"}}})
	h.feed(repeat(6, func(i int) step { return s("q", time.Duration(i)*sec, "u", "a", "n", "20") })...)
	h.feed(s("q", time.Hour, "u", "b", "n", "1"))
	want := []got{{Rule: "avg", Steps: []int{2, 3, 4, 5}, Group: map[string]string{"u": "a"}, Time: 5 * sec, Entity: "/"}}
	if diff := cmp.Diff(want, h.alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if st := h.e.Stats().Rules[0]; st.Truncated != 2 {
		t.Errorf("truncated %d, want 2", st.Truncated)
	}
}

// An intermediate correlation known by its name only is not raised on its
// own either.
func TestChainByNameOnly(t *testing.T) {
	rules := specChain(false)
	rules[1].ID = ""
	h := newHarness(t, Config{}, rules...)
	h.feed(repeat(10, func(i int) step { return s("failed_login", time.Duration(i)*sec, "User", "u") })...)
	h.feed(s("successful_login", time.Minute, "User", "u"))
	want := []got{{Rule: rules[0].ID, Steps: seq(0, 10), Group: map[string]string{"User": "u"}, Time: time.Minute, Level: event.LevelHigh, Entity: "/u"}}
	if diff := cmp.Diff(want, h.alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// A window closed by the watermark feeds a chained rule judged at close too;
// the chained rule's window closes in its turn, whatever the rules' order.
func TestChainOfWindowsJudgedAtClose(t *testing.T) {
	outer := Rule{ID: "outer", Type: EventCount, Rules: []string{"quiet"}, GroupBy: []string{"host.name"}, Timespan: time.Minute,
		Condition: Condition{Ops: []Comparison{{EQ, 1}}}}
	inner := Rule{ID: "inner", Name: "quiet", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"host.name"}, Timespan: 10 * sec,
		Condition: Condition{Ops: []Comparison{{LT, 3}}}}
	h := newHarness(t, Config{Lateness: sec}, outer, inner)
	h.feed(s("r", 0, "host.name", "h1"), s("r", sec, "host.name", "h1"))
	h.e.Advance(t0.Add(30*sec), h.emit) // closes inner's window, which feeds outer
	if len(h.alerts) != 0 {
		t.Fatalf("alerts before outer's window closed: %v", h.alerts)
	}
	h.e.Advance(t0.Add(63*sec), h.emit) // outer closes at 61s; the watermark is at 62s
	want := []got{{Rule: "outer", Steps: []int{0, 1}, Group: map[string]string{"host.name": "h1"}, Time: sec, Entity: "h1/"}}
	if diff := cmp.Diff(want, h.alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// The alerts kept for chains are bounded in number and in time.
func TestChainedAlertsBounded(t *testing.T) {
	rules := []Rule{
		{ID: "outer", Type: EventCount, Rules: []string{"each"}, GroupBy: []string{"User"}, Timespan: time.Minute, Condition: gte(1000)},
		{ID: "inner", Name: "each", Type: EventCount, Rules: []string{"r"}, GroupBy: []string{"User"}, Timespan: time.Minute, Condition: gte(1)},
	}
	h := newHarness(t, Config{MaxChainedAlerts: 50, Lateness: sec}, rules...)
	h.feed(repeat(200, func(i int) step { return s("r", time.Duration(i)*time.Millisecond, "User", "u") })...)
	if st := h.e.Stats(); st.Chained != 50 || st.ChainedDropped != 150 {
		t.Errorf("kept %d dropped %d, want 50 and 150", st.Chained, st.ChainedDropped)
	}
	h.e.Advance(t0.Add(3*time.Minute), h.emit)
	if st := h.e.Stats(); st.Chained != 0 {
		t.Errorf("kept %d after the longest timespan, want 0", st.Chained)
	}
}
