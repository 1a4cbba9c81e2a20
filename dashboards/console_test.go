package dashboards

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
)

var _ Identity = (*identity.Store)(nil)

// feed is a Feed over fixed slices.
type feed struct {
	mu        sync.Mutex
	alerts    []event.Alert
	incidents []event.Incident
}

func (f *feed) RecentAlerts(_ context.Context, limit int) ([]event.Alert, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alerts[:min(limit, len(f.alerts))], nil
}

func (f *feed) RecentIncidents(_ context.Context, limit int) ([]event.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.incidents[:min(limit, len(f.incidents))], nil
}

type env struct {
	srv     *httptest.Server
	console *Console
	ids     *identity.Store
	feed    *feed
	cancel  context.CancelFunc
}

const testPassword = "mật khẩu thử nghiệm dài"

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	ids, err := identity.OpenConfig(ctx, filepath.Join(t.TempDir(), identity.FileName), identity.Config{InsecureCookies: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &feed{}
	c, err := New(cfg, Deps{Identity: ids, Feed: f})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		ids.Close()
	})
	return &env{srv: srv, console: c, ids: ids, feed: f, cancel: cancel}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func (e *env) browser(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t testing.TB, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func post(t testing.TB, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%s", body)
	}
	return m[1]
}

// login signs in through the form and returns the page it lands on.
func (e *env) login(t testing.TB, c *http.Client, name, password string) *http.Response {
	t.Helper()
	_, body := get(t, c, e.srv.URL+"/login")
	resp, _ := post(t, c, e.srv.URL+"/login", url.Values{"csrf_token": {csrfOf(t, body)}, "username": {name}, "password": {password}})
	return resp
}

func checkPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("Content-Security-Policy %q allows inline code", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v: want nosniff and no-store", h)
	}
}

var inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)

func checkNoInlineScript(t *testing.T, body string) {
	t.Helper()
	for _, tag := range inlineScript.FindAllString(body, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("inline script tag %s", tag)
		}
	}
	if strings.Contains(body, " style=") || strings.Contains(body, " onclick=") || strings.Contains(body, "<style") {
		t.Error("inline style or event handler in page")
	}
}

func TestLoginFlowAndFirstPasswordChange(t *testing.T) {
	e := newEnv(t, Config{})
	otp, created, err := e.ids.EnsureAdmin(context.Background())
	if err != nil || !created {
		t.Fatal(err)
	}
	b := e.browser(t)

	resp, _ := get(t, b, e.srv.URL+"/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET / without a session: %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(t, b, e.srv.URL+"/login")
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>Đăng nhập</h1>") || !strings.Contains(body, `lang="vi"`) {
		t.Fatalf("login page: %d, want 200 in Vietnamese:\n%s", resp.StatusCode, body)
	}
	checkPageHeaders(t, resp)
	checkNoInlineScript(t, body)

	// Without the form's CSRF token (as a cross-site form would post).
	resp, body = post(t, b, e.srv.URL+"/login", url.Values{"username": {"admin"}, "password": {otp}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Biểu mẫu đã hết hạn") {
		t.Errorf("login without CSRF token: %d, want 403 with the expired-form message", resp.StatusCode)
	}
	if resp := e.login(t, b, "admin", "wrong password here"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", resp.StatusCode)
	}

	resp = e.login(t, b, "admin", otp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/password" {
		t.Fatalf("one-time password login: %d to %q, want 303 to /password", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == "vigil_session" && (!c.HttpOnly || c.SameSite != http.SameSiteStrictMode) {
			t.Errorf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
		}
	}
	resp, _ = get(t, b, e.srv.URL+"/")
	if resp.Header.Get("Location") != "/password" {
		t.Errorf("live view before the password change: %d to %q, want /password", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := get(t, b, e.srv.URL+"/console/live.json"); resp.StatusCode != 403 || !strings.Contains(body, "password_change_required") {
		t.Errorf("API before the password change: %d %s", resp.StatusCode, body)
	}

	_, body = get(t, b, e.srv.URL+"/password")
	csrf := csrfOf(t, body)
	if !strings.Contains(body, "mật khẩu dùng một lần") {
		t.Error("password page does not say this is the first login")
	}
	const newPassword = "một cụm mật khẩu mới thật dài"
	for _, tc := range []struct {
		name       string
		form       url.Values
		wantStatus int
		wantText   string
	}{
		{"no CSRF token", url.Values{"current": {otp}, "new": {newPassword}, "confirm": {newPassword}}, 403, `"error":"csrf"`},
		{"mismatch", url.Values{"csrf_token": {csrf}, "current": {otp}, "new": {newPassword}, "confirm": {newPassword + "x"}}, 400, "không khớp"},
		{"too short", url.Values{"csrf_token": {csrf}, "current": {otp}, "new": {"ngắn"}, "confirm": {"ngắn"}}, 400, "từ 12 đến 256"},
		{"wrong current", url.Values{"csrf_token": {csrf}, "current": {"not it at all"}, "new": {newPassword}, "confirm": {newPassword}}, 401, "không đúng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, b, e.srv.URL+"/password", tc.form)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantText) {
				t.Errorf("status %d, want %d with %q:\n%s", resp.StatusCode, tc.wantStatus, tc.wantText, body)
			}
		})
	}
	resp, _ = post(t, b, e.srv.URL+"/password", url.Values{"csrf_token": {csrf}, "current": {otp}, "new": {newPassword}, "confirm": {newPassword}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("password change: %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, body = get(t, b, e.srv.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "Cảnh báo và sự cố trực tiếp") {
		t.Fatalf("live view: %d\n%s", resp.StatusCode, body)
	}
	checkPageHeaders(t, resp)
	checkNoInlineScript(t, body)
	script := regexp.MustCompile(`<script type="module" src="(/assets/[0-9a-f]{12}/live\.js)">`).FindStringSubmatch(body)
	if script == nil {
		t.Fatalf("live view loads no hashed live.js module:\n%s", body)
	}
	resp, js := get(t, b, e.srv.URL+script[1])
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(js, "from './stream.js'") {
		t.Errorf("live.js: %d %v", resp.StatusCode, resp.Header)
	}
	// Relative module imports resolve under the same hashed folder.
	if resp, js := get(t, b, e.srv.URL+strings.TrimSuffix(script[1], "live.js")+"stream.js"); resp.StatusCode != 200 || !strings.Contains(js, "/api/v1/stream") {
		t.Errorf("stream.js: %d", resp.StatusCode)
	}
	if resp, _ := get(t, b, e.srv.URL+"/assets/000000000000/live.js"); resp.StatusCode != 404 {
		t.Errorf("asset under a stale hash: %d, want 404", resp.StatusCode)
	}

	// Switch to English and back.
	resp, _ = get(t, b, e.srv.URL+"/?lang=en")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("?lang=en: %d, want a redirect", resp.StatusCode)
	}
	if _, body := get(t, b, e.srv.URL+"/"); !strings.Contains(body, "Live alerts and incidents") || !strings.Contains(body, `lang="en"`) {
		t.Errorf("after switching to English:\n%s", body)
	}

	// Sign out: needs the CSRF token, then the session is gone.
	_, body = get(t, b, e.srv.URL+"/")
	if resp, _ := post(t, b, e.srv.URL+"/logout", nil); resp.StatusCode != 403 {
		t.Errorf("logout without CSRF token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := post(t, b, e.srv.URL+"/logout", url.Values{"csrf_token": {csrfOf(t, body)}}); resp.Header.Get("Location") != "/login" {
		t.Errorf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, b, e.srv.URL+"/"); resp.Header.Get("Location") != "/login" {
		t.Errorf("after logout GET /: %d to %q, want /login", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSnapshotMasksByRole(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.feed.alerts = []event.Alert{{RuleID: "r1", RuleTitle: "Mass export", Level: event.LevelHigh, User: "0905123456", Summary: "by lan@example.vn"}}
	for _, tc := range []struct {
		role     identity.Role
		wantCode int
		wantUser string
	}{
		{identity.RoleAnalyst, 200, "0905123456"},
		{identity.RoleViewer, 200, "0******456"},
		{identity.RoleAgent, 403, ""},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			tok, err := e.ids.CreateToken(ctx, "", tc.role)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", e.srv.URL+"/console/live.json", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantCode)
			}
			if tc.wantCode != 200 {
				return
			}
			var snap struct {
				Alerts []event.Alert `json:"alerts"`
				Masked bool          `json:"masked"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
				t.Fatal(err)
			}
			if len(snap.Alerts) != 1 || snap.Alerts[0].User != tc.wantUser {
				t.Errorf("alerts %+v, want user %q", snap.Alerts, tc.wantUser)
			}
			if snap.Masked != (tc.role == identity.RoleViewer) {
				t.Errorf("masked = %v for %s", snap.Masked, tc.role)
			}
		})
	}
	if e.feed.alerts[0].User != "0905123456" {
		t.Error("masking modified the feed's alert")
	}
}

func TestCatalogues(t *testing.T) {
	a, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	cats, err := loadCatalogues(a)
	if err != nil {
		t.Fatal(err)
	}
	vi, en := cats["vi"], cats["en"]
	for k, v := range vi {
		if strings.TrimSpace(v) == "" {
			t.Errorf("vi: %s is empty", k)
		}
		if _, ok := en[k]; !ok {
			t.Errorf("en lacks %s", k)
		}
	}
	for k, v := range en {
		if strings.TrimSpace(v) == "" {
			t.Errorf("en: %s is empty", k)
		}
		if _, ok := vi[k]; !ok {
			t.Errorf("vi lacks %s", k)
		}
	}
	// Every key the templates and the script use.
	used := map[string]bool{}
	tkey := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	files, _ := webFS.ReadDir("web/templates")
	for _, f := range files {
		b, _ := webFS.ReadFile("web/templates/" + f.Name())
		for _, m := range tkey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	jsKey := regexp.MustCompile(`(?:^|[^\w.])t\('([a-z_.]+)'\)`)
	for name, b := range a.files {
		if strings.HasSuffix(name, ".js") {
			for _, m := range jsKey.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
		}
	}
	// Keys built at run time: titles, errors, roles, levels, statuses.
	for _, k := range []string{"login.title", "password.title", "live.title", "error.title", "login.bad", "login.locked",
		"login.expired", "error.internal", "password.mismatch", "password.same", "password.weak", "password.bad",
		"error.forbidden", "error.notfound", "status.connecting", "status.live", "status.offline",
		"incidents.title", "incident.title", "search.title", "dashboards.title", "rules.title",
		"entity.host", "entity.user", "entity.database", "entity.source_ip", "history.status", "history.assignee"} {
		used[k] = true
	}
	for _, n := range (page{}).NavItems() {
		used[n.Key] = true
	}
	for _, r := range identity.Roles() {
		used["role."+string(r)] = true
	}
	for l := event.LevelInformational; l <= event.LevelCritical; l++ {
		used["level."+l.String()] = true
	}
	for _, s := range []event.Status{event.StatusNew, event.StatusAcknowledged, event.StatusInvestigating, event.StatusResolved, event.StatusFalsePositive} {
		used["incident."+string(s)] = true
	}
	for k := range used {
		if _, ok := vi[k]; !ok {
			t.Errorf("key %s is used but not in the catalogues", k)
		}
	}
	for k := range vi {
		if !used[k] {
			t.Errorf("key %s is in the catalogues but unused", k)
		}
	}
}

func TestRenderedPagesHaveNoMissingKeys(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.console
	for _, lang := range []string{"vi", "en"} {
		for _, name := range pageNames {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(&http.Cookie{Name: langCookie, Value: lang})
			p := c.newPage(r, name+".title")
			if name == "error" {
				p.TitleKey, p.Error = "error.title", "error.notfound"
			}
			p.RoleKey, p.Error = "role.viewer", "login.bad"
			w := httptest.NewRecorder()
			c.render(w, 200, name, p)
			if m := regexp.MustCompile(`>\s*[a-z_]+\.[a-z_.]+\s*<`).FindString(w.Body.String()); m != "" {
				t.Errorf("%s/%s shows an untranslated key %s", lang, name, m)
			}
		}
	}
}
