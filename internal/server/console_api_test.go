package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/store"
	"github.com/google/go-cmp/cmp"
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
		if len(o.Fleet) != 1 || o.Fleet[0].Host != "db-01" || o.Fleet[0].Events != 30 {
			t.Errorf("fleet %+v, want db-01 with 30 events", o.Fleet)
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
		code, b := ts.do(t, identity.RoleViewer, "POST", "/api/v1/incidents/bulk", body)
		if code != 403 {
			t.Errorf("a viewer's bulk change: %d, want 403", code)
		}
		code, b = ts.do(t, identity.RoleAnalyst, "POST", "/api/v1/incidents/bulk", body)
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
