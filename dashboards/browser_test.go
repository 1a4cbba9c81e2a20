package dashboards

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
	"github.com/danang-soc/vigil/internal/testenv"
)

// Screenshots go to t.ArtifactDir(): kept with
// `go test -run TestBrowser -artifacts -outputdir DIR ./dashboards`.

func chromium(t *testing.T) context.Context { return testenv.Chromium(t, 1280, 800, 60*time.Second) }

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100) /* 100: PNG */)
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", p)
}

func TestBrowserLiveAlertWithoutReload(t *testing.T) {
	ctx := chromium(t)
	e := newEnv(t, Config{})
	if _, err := e.ids.CreateUser(context.Background(), "lan", testPassword, identity.RoleViewer); err != nil {
		t.Fatal(err)
	}

	// Sign in through the form.
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			screenshot(t, ctx, "failure")
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("open the login page", chromedp.Navigate(e.srv.URL+"/login"))
	screenshot(t, ctx, "login")
	do("fill in the form",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "lan"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), testPassword),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)))
	do("wait until live", chromedp.WaitVisible(chromedp.CSS(`#live-status[data-state="live"]`)))
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#live-status`)))
	if err != nil || status != "Trực tiếp" {
		t.Errorf("status %q, %v; want Trực tiếp", status, err)
	}
	// Mark the page: a reload would lose the mark.
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.vigilMark = 1`))

	now := time.Date(2026, 11, 29, 9, 30, 0, 0, time.UTC)
	alert := event.Alert{ID: event.NewID(now), RuleID: "pg-brute-force", RuleTitle: "Dò mật khẩu PostgreSQL",
		Level: event.LevelCritical, Engine: "sigma", Time: now, Created: now, Host: "db-01", User: "0905123456",
		Summary: "25 lần đăng nhập sai trong 60 giây", EventIDs: []event.ID{event.NewID(now)}}
	e.feed.mu.Lock()
	e.feed.alerts = []event.Alert{alert} // stored, as the server does before publishing
	e.feed.mu.Unlock()
	if err := e.console.WriteAlerts(context.Background(), []event.Alert{alert}); err != nil {
		t.Fatal(err)
	}
	row := chromedp.CSS(`#alerts tbody tr[data-id="` + alert.ID.String() + `"]`)
	do("see the alert arrive", chromedp.WaitVisible(row))
	text, err := chromedp.Run(ctx, chromedp.Text(row))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Dò mật khẩu PostgreSQL", "Nghiêm trọng", "db-01", "0******456"} {
		if !strings.Contains(text, want) {
			t.Errorf("alert row %q lacks %q", text, want)
		}
	}
	if strings.Contains(text, "0905123456") {
		t.Errorf("a viewer sees the phone number unmasked: %q", text)
	}
	mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.vigilMark || 0`))
	if err != nil || mark != 1 {
		t.Errorf("the page was reloaded (mark %d, %v)", mark, err)
	}
	screenshot(t, ctx, "live-alert")

	// Switch to English: the same alert, in English.
	do("switch to English", chromedp.Click(chromedp.CSS(`a[hreflang="en"]`)))
	do("wait until live again", chromedp.WaitVisible(chromedp.CSS(`#live-status[data-state="live"]`)))
	do("see the alert", chromedp.WaitVisible(row))
	if text, err := chromedp.Run(ctx, chromedp.Text(row)); err != nil || !strings.Contains(text, "Critical") {
		t.Errorf("English alert row %q, %v: want Critical", text, err)
	}
	screenshot(t, ctx, "live-alert-en")
}

// TestBrowserResumesAfterDrop: the hub drops a client that falls behind
// (a send buffer of one message), the page reconnects with ?since and gets
// every alert it missed, without reloading.
func TestBrowserResumesAfterDrop(t *testing.T) {
	ctx := chromium(t)
	e := newEnv(t, Config{Hub: HubConfig{SendBuffer: 1}})
	if _, err := e.ids.CreateUser(context.Background(), "minh", testPassword, identity.RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			screenshot(t, ctx, "failure")
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("open the login page", chromedp.Navigate(e.srv.URL+"/login?lang=en"))
	do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "minh"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), testPassword),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)))
	do("wait until live", chromedp.WaitVisible(chromedp.CSS(`#live-status[data-state="live"]`)))
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.vigilMark = 1`))

	// Publish in a burst until the hub has dropped the page at least once.
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	n := 0
	for n < 150 && (n < 20 || e.console.Hub().Stats().SlowDisconnects == 0) {
		a := event.Alert{ID: event.NewID(now), RuleID: "r", RuleTitle: "burst", Level: event.LevelLow, Time: now, Created: now,
			Summary: "alert " + strconv.Itoa(n)}
		if err := e.console.WriteAlerts(context.Background(), []event.Alert{a}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if e.console.Hub().Stats().SlowDisconnects == 0 {
		t.Skipf("the page kept up with %d alerts in a burst; nothing to resume", n)
	}
	want := strconv.Itoa(n)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('alert-count').textContent === '`+want+
		`' && document.getElementById('live-status').dataset.state === 'live'`, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#alert-count`)))
		screenshot(t, ctx, "failure")
		t.Fatalf("after %d drops the page shows %s alerts, want %s: %v", e.console.Hub().Stats().SlowDisconnects, got, want, err)
	}
	mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.vigilMark || 0`))
	if err != nil || mark != 1 {
		t.Errorf("the page was reloaded (mark %d, %v)", mark, err)
	}
	t.Logf("%d alerts, %d slow disconnects, all alerts shown after resuming", n, e.console.Hub().Stats().SlowDisconnects)
	screenshot(t, ctx, "resumed")
}
