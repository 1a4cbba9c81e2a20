package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/store"
	"github.com/danang-soc/vigil/internal/testenv"
)

// consoleData stores events, alerts and incidents as the pipeline would,
// with a phone number in them that viewers must not see.
type consoleData struct {
	now       time.Time
	events    []event.Event
	incidents []event.Incident
}

const phone = "0905123456"

func seedConsole(t *testing.T, ts *testServer, incidents int) consoleData {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	d := consoleData{now: now}
	src := event.LogSource{Product: "postgresql", Category: "database"}
	for i := range 30 {
		at := now.Add(-time.Duration(30-i) * time.Minute)
		e := event.Event{ID: event.NewID(at), Time: at, Received: at, Source: src, Raw: "raw line " + phone}
		e.Fields.SetString("host.name", "db-01")
		e.Fields.SetString("user.name", "u"+fmt.Sprint(i%3))
		e.Fields.SetString("message", "password authentication failed, callback "+phone)
		e.Fields.SetString("event.outcome", "failure")
		if i == 0 {
			e.Fields.SetString("event.action", "=HYPERLINK(\"http://evil\")")
		}
		d.events = append(d.events, e)
	}
	if _, err := ts.store.WriteEvents(ctx, d.events); err != nil {
		t.Fatal(err)
	}
	a := event.Alert{ID: event.NewID(now.Add(-time.Minute)), RuleID: "pg-brute", RuleTitle: "Brute force", Level: event.LevelHigh,
		Engine: "sigma", Time: now.Add(-time.Minute), Created: now, Host: "db-01", User: phone,
		Tags: []string{"attack.credential-access", "attack.t1110"}, EventIDs: []event.ID{d.events[0].ID}}
	if _, err := ts.store.WriteAlerts(ctx, []event.Alert{a}); err != nil {
		t.Fatal(err)
	}
	for i := range incidents {
		at := now.Add(-time.Duration(i) * time.Second)
		inc := event.Incident{ID: event.NewID(at), Title: "Brute force on db-0" + fmt.Sprint(i), Severity: event.LevelHigh,
			Status: event.StatusNew, Key: "k" + fmt.Sprint(i), Created: at, Updated: at, FirstSeen: at, LastSeen: at, AlertCount: 1,
			Entities: []event.Entity{{Kind: "user", Value: phone}}}
		if err := ts.store.UpsertIncident(ctx, inc, []event.ID{a.ID}); err != nil {
			t.Fatal(err)
		}
		d.incidents = append(d.incidents, inc)
	}
	return d
}

// TestConsoleAPIAccess calls every console route as every role: readers
// read, only those who work incidents change anything, agents see nothing.
func TestConsoleAPIAccess(t *testing.T) {
	ts := startTest(t, Config{}, false)
	d := seedConsole(t, ts, 3)
	saved, err := ts.store.SaveSearch(context.Background(), store.SavedSearch{Name: "to delete", Query: "x", Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(n int) string {
		var s []string
		for _, inc := range d.incidents[:n] {
			s = append(s, `"`+inc.ID.String()+`"`)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	routes := []struct {
		method, path, body string
		write              bool // needs work_incidents
		ok                 int
	}{
		{"GET", "/api/v1/events/histogram?q=host.name:db-01", "", false, 200},
		{"GET", "/api/v1/events/export?q=host.name:db-01", "", false, 200},
		{"GET", "/api/v1/events/fields", "", false, 200},
		{"GET", "/api/v1/events/values?field=user.name", "", false, 200},
		{"GET", "/api/v1/overview", "", false, 200},
		{"GET", "/api/v1/rules/hits", "", false, 200},
		{"GET", "/api/v1/searches", "", false, 200},
		{"POST", "/api/v1/searches", `{"name":"fails","query":"event.outcome:failure"}`, true, 201},
		{"DELETE", fmt.Sprintf("/api/v1/searches/%d", saved.ID), "", true, 204},
		{"POST", "/api/v1/incidents/bulk", `{"ids":` + ids(1) + `,"assignee":"lan"}`, true, 200},
	}
	for _, rt := range routes {
		for _, role := range []identity.Role{"", identity.RoleAgent, identity.RoleViewer, identity.RoleAnalyst, identity.RoleAdmin} {
			want := rt.ok
			switch {
			case role == "":
				want = 401
			case role == identity.RoleAgent, role == identity.RoleViewer && rt.write:
				want = 403
			}
			if rt.method == "DELETE" && want == 204 && role == identity.RoleAdmin {
				want = 404 // the analyst deleted it
			}
			t.Run(rt.method+" "+rt.path+" as "+string(role), func(t *testing.T) {
				code, b := ts.do(t, role, rt.method, rt.path, rt.body)
				if code != want {
					t.Errorf("%s %s as %q = %d %s, want %d", rt.method, rt.path, role, code, b, want)
				}
			})
		}
	}
}

func TestConsoleAPI(t *testing.T) {
	ts := startTest(t, Config{}, false)
	d := seedConsole(t, ts, 3)

	t.Run("histogram", func(t *testing.T) {
		from, to := d.now.Add(-time.Hour), d.now
		code, b := ts.do(t, identity.RoleViewer, "GET", "/api/v1/events/histogram?"+url.Values{
			"q": {"event.outcome:failure AND user.name:u1"}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "buckets": {"6"},
		}.Encode(), "")
		if code != 200 {
			t.Fatalf("histogram: %d %s", code, b)
		}
		var h store.Histogram
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		if h.Span.Step != 10*time.Minute || len(h.Series) != 1 {
			t.Fatalf("histogram %+v: want one series in 10-minute steps", h)
		}
		var total int64
		for _, c := range h.Series[0].Counts {
			total += c
		}
		if total != 10 {
			t.Errorf("histogram counts %v: total %d, want 10", h.Series[0].Counts, total)
		}
		if code, b := ts.do(t, identity.RoleViewer, "GET", "/api/v1/events/histogram?q=host.name:(", ""); code != 400 || !strings.Contains(string(b), "bad_query") {
			t.Errorf("a bad query: %d %s, want 400 bad_query", code, b)
		}
	})

	t.Run("export masks for viewers and defuses formulas", func(t *testing.T) {
		for _, tc := range []struct {
			role   identity.Role
			masked bool
		}{{identity.RoleViewer, true}, {identity.RoleAnalyst, false}} {
			code, b := ts.do(t, tc.role, "GET", "/api/v1/events/export?q=host.name:db-01&fields=event.original,db.name", "")
			if code != 200 {
				t.Fatalf("export as %s: %d %s", tc.role, code, b)
			}
			recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			wantHead := append(append([]string(nil), exportColumns...), "event.original", "db.name")
			if diff := cmp.Diff(wantHead, recs[0]); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if len(recs) != 31 {
				t.Errorf("export as %s: %d rows, want 30 and the header", tc.role, len(recs)-1)
			}
			if got := strings.Contains(string(b), phone); got == tc.masked {
				t.Errorf("export as %s shows the phone number: %v, want %v", tc.role, got, !tc.masked)
			}
			last := recs[len(recs)-1] // the oldest event, with the formula
			if last[5] != `'=HYPERLINK("http://evil")` {
				t.Errorf("formula cell %q, want it quoted", last[5])
			}
		}
	})

	t.Run("overview", func(t *testing.T) {
		code, b := ts.do(t, identity.RoleViewer, "GET", "/api/v1/overview?from="+url.QueryEscape(d.now.Add(-time.Hour).Format(time.RFC3339)), "")
		if code != 200 {
			t.Fatalf("overview: %d %s", code, b)
		}
		var o overview
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		if len(o.Events.Series) != 1 || o.Events.Series[0].Key != "postgresql/database" || o.Events.Series[0].Total != 30 {
			t.Errorf("events by source %+v, want 30 postgresql/database", o.Events.Series)
		}
		if len(o.Alerts.Series) != 1 || o.Alerts.Series[0].Key != "high" {
			t.Errorf("alerts by level %+v, want one high", o.Alerts.Series)
		}
		if u := o.Top["user"]; len(u) != 1 || u[0].Key == phone || u[0].Count != 1 {
			t.Errorf("top users for a viewer %+v: want one, masked", u)
		}
		if diff := cmp.Diff([]store.TagCount{{Tactic: "attack.credential-access", Technique: "attack.t1110", Count: 1}}, o.Attack); diff != "" {
			t.Errorf("ATT&CK (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int64{"high": 3}, o.Open); diff != "" {
			t.Errorf("open incidents (-want +got):\n%s", diff)
		}
		if len(o.Fleet) != 1 || o.Fleet[0].Host != "db-01" || o.Fleet[0].Events != 30 {
			t.Errorf("fleet %+v, want db-01 with 30 events", o.Fleet)
		}
	})

	t.Run("values masked for viewers", func(t *testing.T) {
		for _, tc := range []struct {
			role   identity.Role
			masked bool
		}{{identity.RoleViewer, true}, {identity.RoleAnalyst, false}} {
			code, b := ts.do(t, tc.role, "GET", "/api/v1/events/values?field=message", "")
			if code != 200 || strings.Contains(string(b), phone) != !tc.masked {
				t.Errorf("values of message as %s: %d %s, masked want %v", tc.role, code, b, tc.masked)
			}
		}
		if code, _ := ts.do(t, identity.RoleViewer, "GET", "/api/v1/events/values?field=x%22%5D", ""); code != 400 {
			t.Errorf("a bad field name: %d, want 400", code)
		}
	})

	t.Run("fields and rule hits", func(t *testing.T) {
		_, b := ts.do(t, identity.RoleViewer, "GET", "/api/v1/events/fields", "")
		if !strings.Contains(string(b), `"user.name"`) {
			t.Errorf("fields %s lack user.name", b)
		}
		_, b = ts.do(t, identity.RoleViewer, "GET", "/api/v1/rules/hits", "")
		var hits struct{ Items map[string]store.Count }
		json.Unmarshal(b, &hits)
		if hits.Items["pg-brute"].Count != 1 {
			t.Errorf("rule hits %s: want pg-brute once", b)
		}
	})

	t.Run("saved searches", func(t *testing.T) {
		code, b := ts.do(t, identity.RoleAnalyst, "POST", "/api/v1/searches", `{"name":"fails","query":"event.outcome:failure"}`)
		if code != 201 {
			t.Fatalf("save: %d %s", code, b)
		}
		_, b = ts.do(t, identity.RoleViewer, "GET", "/api/v1/searches", "")
		var list struct{ Items []store.SavedSearch }
		json.Unmarshal(b, &list)
		if len(list.Items) != 1 || list.Items[0].Owner != "token:test-analyst" || list.Items[0].Query != "event.outcome:failure" {
			t.Errorf("saved searches %s", b)
		}
		if code, _ := ts.do(t, identity.RoleAnalyst, "POST", "/api/v1/searches", `{"name":"","query":"x"}`); code != 400 {
			t.Errorf("a search without a name: %d, want 400", code)
		}
	})

	t.Run("bulk", func(t *testing.T) {
		body := fmt.Sprintf(`{"ids":["%s","%s","nonsense"],"status":"acknowledged","assignee":"lan"}`, d.incidents[0].ID, d.incidents[1].ID)
		if code, _ := ts.do(t, identity.RoleViewer, "POST", "/api/v1/incidents/bulk", body); code != 403 {
			t.Errorf("a viewer's bulk change: %d, want 403", code)
		}
		code, b := ts.do(t, identity.RoleAnalyst, "POST", "/api/v1/incidents/bulk", body)
		if code != 200 {
			t.Fatalf("bulk: %d %s", code, b)
		}
		var res struct {
			Items  []event.Incident
			Errors []struct{ ID, Error string }
		}
		json.Unmarshal(b, &res)
		if len(res.Items) != 2 || len(res.Errors) != 1 || res.Errors[0].ID != "nonsense" {
			t.Fatalf("bulk answer %s: want 2 changed and the nonsense id refused", b)
		}
		for _, inc := range res.Items {
			if inc.Status != event.StatusAcknowledged || inc.Assignee != "lan" {
				t.Errorf("incident %s after bulk: %s, %q", inc.ID, inc.Status, inc.Assignee)
			}
		}
		hist, err := ts.store.History(context.Background(), d.incidents[0].ID)
		if err != nil || len(hist) != 2 || hist[0].Actor != "token:test-analyst" {
			t.Errorf("history %+v, %v: want status and assignee by the analyst", hist, err)
		}
		// Acknowledged cannot go back to new.
		code, b = ts.do(t, identity.RoleAnalyst, "POST", "/api/v1/incidents/bulk", fmt.Sprintf(`{"ids":["%s"],"status":"new"}`, d.incidents[0].ID))
		if code != 200 || !strings.Contains(string(b), "not allowed") {
			t.Errorf("a refused transition: %d %s", code, b)
		}
		if code, _ := ts.do(t, identity.RoleAnalyst, "POST", "/api/v1/incidents/bulk", `{"ids":[]}`); code != 400 {
			t.Errorf("an empty bulk change: %d, want 400", code)
		}
	})
}

// The analyst console in real headless Chromium against the whole server.
// Screenshots go to t.ArtifactDir(): kept with
// `go test -run TestBrowserConsole -artifacts -outputdir DIR ./internal/server`.

func chromium(t *testing.T) context.Context { return testenv.Chromium(t, 1440, 900, 120*time.Second) }

type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Error(err)
	}
	b.t.Logf("screenshot: %s", p)
}

func (b tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.shot("failure")
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.shot("failure")
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// wait polls a JavaScript condition; it survives a navigation meanwhile.
func (b tab) wait(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var ok bool
		if ok, err = chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+js+`); } catch { return false; } })()`)); err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.shot("failure")
	b.t.Fatalf("%s: not after 30s (%v)", what, err)
}

func (b tab) wantText(sel string, want ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s shows %q, want it to contain %q", sel, got, w)
		}
	}
}

// TestBrowserConsole is an analyst's shift in short: sign in, watch the
// live view while an attack arrives (no reload), open the incident, assign
// it, add a note, search the events, look at the dashboards and the rules,
// switch to English.
func TestBrowserConsole(t *testing.T) {
	ctx := chromium(t)
	ts := startTest(t, Config{}, false)
	if _, err := ts.ident.CreateUser(context.Background(), "minh", "mật khẩu thử nghiệm dài", identity.RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	b := tab{t, ctx}
	b.do("open the login page", chromedp.Navigate(ts.base+"/login"))
	b.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "minh"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "mật khẩu thử nghiệm dài"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)))
	b.do("wait until live", chromedp.WaitVisible(chromedp.CSS(`#live-status[data-state="live"]`)))
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.vigilMark = 1`))

	// The attack arrives while the page is open.
	start := time.Now()
	if err := ts.runDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.wait("an alert arrives", `document.querySelectorAll('#alerts tbody tr').length > 0`)
	t.Logf("first alert shown %v after the attack was ingested", time.Since(start).Round(time.Millisecond))
	b.wait("the incident arrives", `document.querySelector('#incidents tbody tr td.title a') !== null`)
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.vigilMark || 0`)); err != nil || mark != 1 {
		t.Errorf("the page was reloaded (mark %d, %v)", mark, err)
	}
	b.wantText("#alerts tbody", demoHost)
	b.shot("1-live")

	// The incident queue, filtered to critical, keyboard to the incident.
	b.do("open the queue", chromedp.Navigate(ts.base+"/incidents?severity=critical"))
	b.wait("the queue lists the incident", `document.querySelectorAll('#queue tbody tr').length === 1`)
	b.wantText("#queue tbody", demoHost, "Nghiêm trọng")
	b.shot("2-queue")
	b.do("move with j and open with Enter", chromedp.KeyEvent("j"), chromedp.KeyEvent("\r"))
	b.wait("the incident page", `!document.getElementById('incident').hidden && document.querySelectorAll('#timeline > li').length >= 8`)
	b.wantText("#inc-title", demoHost)
	b.wantText("#tactics", "Đánh cắp thông tin xác thực")
	b.wantText("#entities", demoAttacker)

	// Assign to me, add a note: both show up, in the history too.
	b.do("assign to me", chromedp.Click(chromedp.CSS(`#assign-me`)))
	b.wait("assigned", `document.getElementById('inc-assignee').textContent === 'minh'`)
	const note = "Đã chặn 203.0.113.45 tại tường lửa; đang kiểm tra svc_backup."
	b.do("add a note", chromedp.SendKeys(chromedp.CSS(`#note-text`), note), chromedp.Click(chromedp.CSS(`#note-form button`)))
	b.wait("the note shows", `document.getElementById('notes').textContent.includes('svc_backup')`)
	b.wantText("#history", "minh", "người xử lý")
	// Suppress the brute-force rule on this host for a day, then lift it.
	b.do("suppress", chromedp.SendKeys(chromedp.CSS(`#suppress-reason`), "Kiểm thử xâm nhập có kế hoạch"), chromedp.Click(chromedp.CSS(`#suppress-form button`)))
	b.wait("the suppression shows", `document.querySelectorAll('#suppressions li[data-id]').length === 1`)
	b.wantText("#suppressions", "host="+demoHost, "Kiểm thử xâm nhập có kế hoạch")
	if sups := ts.group.Suppressions(); len(sups) != 1 || sups[0].Fields["host"] != demoHost || sups[0].Author != "minh" {
		t.Errorf("suppressions %+v: want one on %s by minh", sups, demoHost)
	}
	b.do("open an alert's events", chromedp.Click(chromedp.CSS(`#timeline > li button`)))
	b.wait("its events show", `document.querySelectorAll('#timeline ol.events li.event').length > 0`)
	b.shot("3-incident")
	b.do("lift the suppression", chromedp.Click(chromedp.CSS(`#suppressions li button`)))
	b.wait("the suppression is gone", `document.querySelectorAll('#suppressions li[data-id]').length === 0`)
	inc, err := ts.store.Incidents(context.Background(), store.IncidentQuery{})
	if err != nil || len(inc.Items) != 1 || inc.Items[0].Assignee != "minh" {
		t.Errorf("stored incidents %+v, %v: want one assigned to minh", inc.Items, err)
	}

	// Search: field suggestions, histogram, results, a raw record.
	b.do("open search", chromedp.Navigate(ts.base+"/search"))
	b.wait("search ready", `document.querySelector('#histogram .uplot') !== null`)
	b.do("type a field", chromedp.SendKeys(chromedp.CSS(`#q`), "source.i"))
	b.wait("suggestions", `!document.getElementById('suggestions').hidden && document.getElementById('suggestions').textContent.includes('source.ip')`)
	b.do("accept the suggestion", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#q`))); v != "source.ip:" {
		t.Errorf("query after the suggestion %q, want source.ip:", v)
	}
	// The values come from a request of their own; were its answer empty
	// (the events not yet visible to a reader), typing asks again: so does
	// the test, by repeating the input event while nothing is shown.
	b.wait("value suggestions", `(() => {
		const s = document.getElementById('suggestions');
		if (s.hidden) { document.getElementById('q').dispatchEvent(new Event('input')); return false; }
		return s.textContent.includes('`+demoAttacker+`');
	})()`)
	b.do("accept the value", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#q`))); v != "source.ip:"+demoAttacker+" " {
		t.Errorf("query after the value suggestion %q, want source.ip:%s", v, demoAttacker)
	}
	b.do("finish the query", chromedp.SendKeys(chromedp.CSS(`#q`), `AND message:"password authentication failed"`+kb.Enter))
	b.wait("results", `document.getElementById('hits').textContent === '8' && document.querySelectorAll('#results tr.result').length === 8`)
	b.do("open a record", chromedp.Click(chromedp.CSS(`#results tr.result`)))
	b.wantText("#results tr.detail:not([hidden])", "source.ip", demoAttacker, "password authentication failed")
	if href, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#export`), "href")); !strings.Contains(href.Value, "/api/v1/events/export?q=source.ip") {
		t.Errorf("export link %q does not carry the query", href.Value)
	}
	b.shot("4-search")

	// Dashboards and rules.
	b.do("open the dashboards", chromedp.Navigate(ts.base+"/dashboards"))
	b.wait("charts drawn", `document.querySelectorAll('.uplot').length === 2 && document.querySelectorAll('#fleet tbody tr.fresh-ok').length > 0`)
	b.wantText("#top-host", demoHost)
	b.wantText("#tile-open", "1")
	b.wantText("#tile-open-detail", "Nghiêm trọng 1")
	b.wantText("#attack", "Đánh cắp thông tin xác thực", "T1110")
	b.shot("5-dashboards")
	b.do("wall mode", chromedp.Click(chromedp.CSS(`#wall`)))
	b.wait("wall charts drawn", `document.body.classList.contains('wall') && document.querySelectorAll('.uplot').length === 2`)
	b.shot("5-dashboards-wall")
	b.do("open the rules", chromedp.Navigate(ts.base+"/rules"))
	b.wait("rules listed", `document.querySelectorAll('#rules tbody tr').length > 10`)
	if hits, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#rules tbody tr td.num`))); hits == "0" {
		t.Errorf("the rule with most alerts shows %s hits", hits)
	}
	b.shot("6-rules")
	// An analyst switches the first rule off; the server keeps it off.
	b.do("disable the first rule", chromedp.Click(chromedp.CSS(`#rules tbody tr:first-child button.toggle`)))
	b.wait("the rule shows as off", `document.querySelector('#rules tbody tr:first-child button.toggle').getAttribute('aria-pressed') === 'false'`)
	b.wantText("#rules tbody tr:first-child", "Đã tắt")
	first := b.text(`#rules tbody tr:first-child`)
	_, rb := ts.do(t, identity.RoleAnalyst, "GET", "/api/v1/rules", "")
	if !strings.Contains(string(rb), `"disabled":true`) {
		t.Errorf("after the click no rule is disabled on the server; row %q", first)
	}
	b.do("enable it again", chromedp.Click(chromedp.CSS(`#rules tbody tr:first-child button.toggle`)))
	b.wait("the rule shows as on", `document.querySelector('#rules tbody tr:first-child button.toggle').getAttribute('aria-pressed') === 'true'`)

	// English.
	b.do("switch to English", chromedp.Click(chromedp.CSS(`a[hreflang="en"]`)))
	b.wait("English", `document.documentElement.lang === 'en' && document.querySelectorAll('#rules tbody tr').length > 10`)
	b.wantText("nav.pages", "Incidents", "Search", "Dashboards", "Rules")
	b.wantText("h1", "Detection rules")
	b.do("back to the incident", chromedp.Navigate(ts.base+"/incidents?status=new,acknowledged,investigating"))
	b.wait("the queue in English", `document.querySelectorAll('#queue tbody tr').length === 1`)
	b.wantText("#queue tbody", "Critical", "minh")
	b.shot("7-queue-en")
}

// TestBrowserViewerCannotAct: a viewer sees the incident but no control
// that changes it, and the server refuses the change anyway.
func TestBrowserViewerCannotAct(t *testing.T) {
	ctx := chromium(t)
	ts := startTest(t, Config{}, false)
	d := seedConsole(t, ts, 1)
	if _, err := ts.ident.CreateUser(context.Background(), "lan", "mật khẩu thử nghiệm dài", identity.RoleViewer); err != nil {
		t.Fatal(err)
	}
	b := tab{t, ctx}
	b.do("open the login page", chromedp.Navigate(ts.base+"/login?lang=en"))
	b.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "lan"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "mật khẩu thử nghiệm dài"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)))
	b.do("wait until live", chromedp.WaitVisible(chromedp.CSS(`#live-status[data-state="live"]`)))

	// The queue: no selection or bulk controls; an analyst's change
	// elsewhere shows up live.
	b.do("open the queue", chromedp.Navigate(ts.base+"/incidents"))
	b.wait("the queue", `document.querySelectorAll('#queue tbody tr').length === 1 && document.getElementById('live-status').dataset.state === 'live'`)
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#bulk, #queue input[type=checkbox]').length`)); n != 0 {
		t.Errorf("a viewer sees %d selection or bulk controls", n)
	}
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.vigilMark = 1`))
	if code, body := ts.do(t, identity.RoleAnalyst, "POST", "/api/v1/incidents/bulk",
		`{"ids":["`+d.incidents[0].ID.String()+`"],"status":"investigating","assignee":"minh"}`); code != 200 {
		t.Fatalf("bulk change: %d %s", code, body)
	}
	b.wait("the change arrives", `document.querySelector('#queue tbody tr td.assignee')?.textContent === 'minh'`)
	b.wantText("#queue tbody", "Investigating")
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.vigilMark || 0`)); err != nil || mark != 1 {
		t.Errorf("the queue was reloaded (mark %d, %v)", mark, err)
	}
	b.shot("viewer-queue")

	b.do("open the incident", chromedp.Navigate(ts.base+"/incidents/"+d.incidents[0].ID.String()))
	b.wait("the incident", `!document.getElementById('incident').hidden`)
	b.wantText("#entities", "0******456")
	for _, sel := range []string{"#status-form", "#assign-form", "#note-form", "#suppress-form"} {
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`)); n != 0 {
			t.Errorf("a viewer sees %s", sel)
		}
	}
	// Forged from the page with the session's own CSRF token: still refused.
	code, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(async () => (await fetch('/api/v1/incidents/`+d.incidents[0].ID.String()+
		`', {method: 'PATCH', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document.body.dataset.csrf}, body: '{"assignee":"lan"}'})).status)()`,
		chromedp.EvalAwaitPromise))
	if err != nil || code != 403 {
		t.Errorf("a viewer's PATCH from the page: %d, %v; want 403", code, err)
	}
	b.shot("viewer-incident")
}

// Benchmarks of the console's first pages, measured at the server: the
// HTTP handler from authentication to the last byte of JSON, over a store
// filled beforehand (and reopened, so that its planner statistics are
// fresh, as after a restart).
//
//	go test -run '^$' -bench BenchmarkConsole -benchtime 20x ./internal/server -console.events 1000000

var benchConsoleEvents = flag.Int("console.events", 1_000_000, "events in the store that BenchmarkConsoleSearch searches")

// benchServer opens a server over dir with fill run on its store first.
func consoleBenchServer(b *testing.B, fill func(ctx context.Context, st *store.Store) error) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	data := filepath.Join(b.TempDir(), "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, store.Config{Path: filepath.Join(data, store.FileName)})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := fill(ctx, st); err != nil {
		b.Fatal(err)
	}
	b.Logf("store filled in %v", time.Since(start).Round(time.Millisecond))
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	s, err := New(ctx, Config{Data: data, Listen: "127.0.0.1:0"}, Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	tok, err := s.ident.CreateToken(ctx, "bench", identity.RoleViewer)
	if err != nil {
		b.Fatal(err)
	}
	return s.routes(), tok
}

func consoleBenchGet(b *testing.B, h http.Handler, tok, path string) {
	b.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
	}
}

// BenchmarkConsoleIncidentQueue: the queue's first page over 100,000
// incidents, as the console asks for it (masked for a viewer).
func BenchmarkConsoleIncidentQueue(b *testing.B) {
	h, tok := consoleBenchServer(b, func(ctx context.Context, st *store.Store) error {
		statuses := []event.Status{event.StatusNew, event.StatusAcknowledged, event.StatusInvestigating, event.StatusResolved, event.StatusFalsePositive}
		t0 := time.Now().Add(-100_000 * time.Minute)
		for i := range 100_000 {
			at := t0.Add(time.Duration(i) * time.Minute)
			inc := event.Incident{ID: event.NewID(at), Title: fmt.Sprintf("Brute force on db%02d", i%20), Severity: event.Level(1 + (i/5)%5),
				Status: statuses[i%len(statuses)], Assignee: []string{"", "lan", "minh"}[i%3], Key: fmt.Sprintf("host=db%02d", i%20),
				Created: at, Updated: at.Add(time.Duration(i%7) * time.Hour), FirstSeen: at, LastSeen: at.Add(time.Minute),
				AlertCount: 1 + i%4, System: fmt.Sprintf("sys%d", i%10), Tactics: []string{"attack.credential-access"},
				Entities: []event.Entity{{Kind: "host", Value: fmt.Sprintf("db%02d", i%20)}, {Kind: "user", Value: "0905123456"}}}
			if err := st.UpsertIncident(ctx, inc, nil); err != nil {
				return err
			}
		}
		return nil
	})
	for _, q := range []string{
		"status=new,acknowledged,investigating&sort=updated",
		"status=new,acknowledged,investigating&sort=severity",
		"status=new&severity=high",
		"assignee=lan&status=new,acknowledged,investigating",
		"system=sys3",
		"status=resolved,false_positive&sort=created",
	} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				consoleBenchGet(b, h, tok, "/api/v1/incidents?limit=50&"+q)
			}
		})
	}
}

// BenchmarkConsoleSearch: the search page's first requests (the first
// page of events and the histogram) and the dashboards' overview over
// -console.events events spread over 30 days.
func BenchmarkConsoleSearch(b *testing.B) {
	n := *benchConsoleEvents
	now := time.Now().UTC()
	h, tok := consoleBenchServer(b, func(ctx context.Context, st *store.Store) error {
		r := rand.New(rand.NewPCG(1, 2))
		users := []string{"app", "postgres", "nguyenvana", "tranthib", "backup", "report"}
		ops := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "COPY"}
		step := 30 * 24 * time.Hour / time.Duration(n)
		start := now.Add(-30 * 24 * time.Hour)
		batch := make([]event.Event, 0, 5000)
		for i := range n {
			at := start.Add(time.Duration(i) * step)
			host := fmt.Sprintf("db%02d", r.IntN(20))
			e := event.Event{ID: event.NewID(at), Time: at, Received: at, Source: event.LogSource{Product: []string{"postgresql", "mysql"}[r.IntN(2)], Category: "database"}}
			e.Fields.SetString("host.name", host)
			e.Fields.SetString("user.name", users[r.IntN(len(users))])
			e.Fields.SetString("source.ip", fmt.Sprintf("10.0.%d.%d", r.IntN(4), r.IntN(250)))
			if r.IntN(20) == 0 {
				e.Fields.SetString("event.outcome", "failure")
				e.Fields.SetString("message", "password authentication failed for user \""+users[r.IntN(len(users))]+"\"")
			} else {
				op := ops[r.IntN(len(ops))]
				e.Fields.SetString("event.outcome", "success")
				e.Fields.SetString("db.operation", op)
				e.Fields.SetString("db.name", []string{"citizens", "tax", "hr"}[r.IntN(3)])
				e.Fields.SetString("db.statement", fmt.Sprintf("%s * FROM t_%d WHERE id = %d", op, r.IntN(100), r.IntN(100000)))
				e.Fields.Set("db.response.rows", event.Int(int64(r.IntN(5000))))
			}
			batch = append(batch, e)
			if len(batch) == cap(batch) || i == n-1 {
				if _, err := st.WriteEvents(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		return nil
	})
	day := url.Values{"from": {now.Add(-24 * time.Hour).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}}.Encode()
	hour := url.Values{"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}}.Encode()
	// The fleet list folds the stored events in over its first calls:
	// measure that catching up once, then the steady state.
	start := time.Now()
	for calls := 1; ; calls++ {
		req := httptest.NewRequest("GET", "/api/v1/overview?"+hour, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var o struct {
			FleetComplete bool `json:"fleet_complete"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &o); err != nil || w.Code != 200 {
			b.Fatalf("overview: %d %s", w.Code, w.Body.String())
		}
		if o.FleetComplete {
			b.Logf("the fleet list caught up with %d events in %d calls, %v", n, calls, time.Since(start).Round(time.Millisecond))
			break
		}
	}
	for _, tc := range []struct{ name, path string }{
		{"page all", "/api/v1/events?limit=50&" + day},
		{"page host", "/api/v1/events?limit=50&q=host.name:db07&" + day},
		{"page phrase", "/api/v1/events?limit=50&q=" + url.QueryEscape(`message:"password authentication failed"`) + "&" + day},
		{"page fields", "/api/v1/events?limit=50&q=" + url.QueryEscape("user.name:nguyenvana AND db.name:citizens AND NOT source.ip:10.0.1.*") + "&" + day},
		{"histogram all", "/api/v1/events/histogram?buckets=60&" + day},
		{"histogram host", "/api/v1/events/histogram?buckets=60&q=host.name:db07&" + day},
		{"histogram phrase", "/api/v1/events/histogram?buckets=60&q=" + url.QueryEscape(`message:"password authentication failed"`) + "&" + day},
		{"overview hour", "/api/v1/overview?buckets=60&" + hour},
		{"fields", "/api/v1/events/fields"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				consoleBenchGet(b, h, tok, tc.path)
			}
		})
	}
}
