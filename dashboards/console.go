package dashboards

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/identity"
)

// Config is the console's part of the configuration.
type Config struct {
	// Origin is the console's origin as browsers send it, e.g.
	// "https://soc.example.gov.vn" or "http://127.0.0.1:8080". Websockets
	// opened with a session cookie must come from it. Empty: the origin
	// must match the request's Host.
	Origin string `yaml:"origin"`
	// Language is the default language, "vi" (default) or "en".
	Language string `yaml:"language"`
	// Recent is how many alerts and incidents the live view starts with
	// (default 100).
	Recent int `yaml:"recent"`
	// Hub tunes the websocket hub.
	Hub HubConfig `yaml:"hub"`
}

func (c Config) withDefaults() Config {
	if c.Language == "" {
		c.Language = "vi"
	}
	if c.Recent == 0 {
		c.Recent = 100
	}
	c.Origin = strings.TrimSuffix(c.Origin, "/")
	c.Hub = c.Hub.withDefaults()
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Origin != "" {
		u, err := url.Parse(c.Origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("dashboards: origin %q must look like https://host[:port]", c.Origin)
		}
	}
	if c.Language != "" && c.Language != "vi" && c.Language != "en" {
		return fmt.Errorf("dashboards: language %q is not vi or en", c.Language)
	}
	if c.Recent < 0 || c.Recent > 1000 {
		return fmt.Errorf("dashboards: recent must be between 1 and 1000, got %d", c.Recent)
	}
	return c.Hub.Validate()
}

// Identity is what the console needs from internal/identity; *identity.Store
// implements it.
type Identity interface {
	// Middleware authenticates requests and checks CSRF tokens.
	Middleware(next http.Handler) http.Handler
	Authenticate(ctx context.Context, name, password string) (identity.User, error)
	ChangePassword(ctx context.Context, name, oldPassword, newPassword string) error
	CreateSession(ctx context.Context, user identity.User) (identity.Session, error)
	// LookupSession re-checks the session of a long-lived websocket.
	LookupSession(ctx context.Context, id string) (identity.Session, error)
	DeleteSession(ctx context.Context, id string) error
	SetCookie(w http.ResponseWriter, s identity.Session)
	ClearCookie(w http.ResponseWriter)
	SecureCookies() bool
}

// Feed gives the live view its starting point: the most recent alerts and
// incidents, newest first. The server implements it from its store.
type Feed interface {
	RecentAlerts(ctx context.Context, limit int) ([]event.Alert, error)
	RecentIncidents(ctx context.Context, limit int) ([]event.Incident, error)
}

// Deps are the console's collaborators.
type Deps struct {
	Identity Identity
	Feed     Feed
	Now      func() time.Time // default time.Now
	Log      *slog.Logger     // default: discard
}

// Console is the web console. Mount Handler at the root of the server; it
// serves the pages, the assets, /console/live.json and /api/v1/stream.
type Console struct {
	cfg    Config
	deps   Deps
	hub    *Hub
	assets *assets
	cats   map[string]catalogue
	tmpl   map[string]*template.Template
}

var _ event.AlertSink = (*Console)(nil)

// New returns a console. Call Run to let it shut its websockets down.
func New(cfg Config, deps Deps) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if deps.Identity == nil || deps.Feed == nil {
		return nil, errors.New("dashboards: Identity and Feed are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	hub, err := NewHub(cfg.Hub, deps.Now, deps.Log)
	if err != nil {
		return nil, err
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	cats, err := loadCatalogues(a)
	if err != nil {
		return nil, err
	}
	tmpl, err := loadTemplates()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, deps: deps, hub: hub, assets: a, cats: cats, tmpl: tmpl}, nil
}

// Hub returns the websocket hub, to publish to and read counters from.
func (c *Console) Hub() *Hub { return c.hub }

// Run runs the hub until ctx ends.
func (c *Console) Run(ctx context.Context) error { return c.hub.Run(ctx) }

// WriteAlerts publishes alerts to the live view (event.AlertSink).
func (c *Console) WriteAlerts(_ context.Context, alerts []event.Alert) error {
	for _, a := range alerts {
		if _, err := c.hub.Publish(Message{Type: TypeAlert, Data: a}); err != nil {
			return err
		}
	}
	return nil
}

// PublishIncident publishes a new or changed incident to the live view.
func (c *Console) PublishIncident(inc event.Incident) error {
	_, err := c.hub.Publish(Message{Type: TypeIncident, Data: inc})
	return err
}

// Handler returns the console's routes:
//
//	GET  /                    the live view (a session; else to /login)
//	GET  /incidents           the incident queue
//	GET  /incidents/{id}      one incident
//	GET  /search              event search
//	GET  /dashboards          charts for the wall screen
//	GET  /rules               the loaded rules and the rejected ones
//	GET  /login, POST /login  sign in
//	POST /logout              sign out
//	GET  /password, POST /password   change the password (forced at first login)
//	GET  /console/live.json   recent alerts and incidents and the stream position
//	GET  /api/v1/stream       the websocket
//	GET  /assets/{hash}/...   embedded static files
func (c *Console) Handler() http.Handler {
	open := http.NewServeMux()
	open.HandleFunc("GET /login", c.loginPage)
	open.HandleFunc("POST /login", c.login)
	open.HandleFunc("GET /assets/{hash}/{file...}", c.assets.serve)

	authed := http.NewServeMux()
	authed.HandleFunc("GET /{$}", c.consolePage("live", "live.title"))
	authed.HandleFunc("GET /incidents", c.consolePage("incidents", "incidents.title"))
	authed.HandleFunc("GET /incidents/{id}", c.consolePage("incident", "incident.title"))
	authed.HandleFunc("GET /search", c.consolePage("search", "search.title"))
	authed.HandleFunc("GET /dashboards", c.consolePage("dashboards", "dashboards.title"))
	authed.HandleFunc("GET /rules", c.consolePage("rules", "rules.title"))
	authed.HandleFunc("POST /logout", c.logout)
	authed.HandleFunc("GET /password", c.passwordPage)
	authed.HandleFunc("POST /password", c.changePassword)
	authed.Handle("GET /console/live.json", identity.Require(identity.PermRead, http.HandlerFunc(c.snapshot)))
	authed.HandleFunc("GET /api/v1/stream", c.serveStream)
	authed.HandleFunc("/", c.notFound)
	open.Handle("/", c.deps.Identity.Middleware(authed))
	return securityHeaders(open)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/console/") {
		identity.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	p := c.newPage(r, "error.title")
	p.Error = "error.notfound"
	c.render(w, http.StatusNotFound, "error", p)
}

// loginCookie holds the login form's CSRF token (double submit): there is no
// session yet to keep it in.
const loginCookie = "vigil_login"

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.switchLang(w, r) {
		return
	}
	c.renderLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, errKey, username string) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/login", MaxAge: 3600,
		HttpOnly: true, Secure: c.deps.Identity.SecureCookies(), SameSite: http.SameSiteStrictMode})
	p := c.newPage(r, "login.title")
	p.CSRF, p.Error, p.Username = token, errKey, username
	c.render(w, status, "login", p)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	ck, err := r.Cookie(loginCookie)
	form := r.PostFormValue(identity.CSRFField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		c.renderLogin(w, r, http.StatusForbidden, "login.expired", "")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("username"))
	u, err := c.deps.Identity.Authenticate(r.Context(), name, r.PostFormValue("password"))
	switch {
	case errors.Is(err, identity.ErrBadCredentials):
		c.deps.Log.Info("console login failed", "user", name, "remote", r.RemoteAddr)
		c.renderLogin(w, r, http.StatusUnauthorized, "login.bad", name)
		return
	case errors.Is(err, identity.ErrLocked):
		c.renderLogin(w, r, http.StatusTooManyRequests, "login.locked", name)
		return
	case err != nil:
		c.deps.Log.Error("console login failed", "err", err)
		c.renderLogin(w, r, http.StatusInternalServerError, "error.internal", name)
		return
	}
	sess, err := c.deps.Identity.CreateSession(r.Context(), u)
	if err != nil {
		c.deps.Log.Error("creating a console session failed", "err", err)
		c.renderLogin(w, r, http.StatusInternalServerError, "error.internal", name)
		return
	}
	c.deps.Identity.SetCookie(w, sess)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HttpOnly: true,
		Secure: c.deps.Identity.SecureCookies(), SameSite: http.SameSiteStrictMode})
	c.deps.Log.Info("console login", "user", u.Name, "role", string(u.Role))
	next := "/"
	if u.MustChangePassword {
		next = "/password"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// session returns the principal of a page request made with a session, or
// redirects to the login page.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (identity.Principal, bool) {
	p, ok := identity.FromContext(r.Context())
	if !ok || p.Kind != identity.KindSession {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return p, false
	}
	return p, true
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if p, ok := identity.FromContext(r.Context()); ok && p.Kind == identity.KindSession {
		if err := c.deps.Identity.DeleteSession(r.Context(), p.SessionID); err != nil {
			c.deps.Log.Error("ending a console session failed", "err", err)
		}
	}
	c.deps.Identity.ClearCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) {
	if c.switchLang(w, r) {
		return
	}
	p, ok := c.session(w, r)
	if !ok {
		return
	}
	c.renderPassword(w, r, p, http.StatusOK, "")
}

func (c *Console) renderPassword(w http.ResponseWriter, r *http.Request, p identity.Principal, status int, errKey string) {
	pg := c.newPage(r, "password.title")
	pg.CSRF, pg.Username, pg.First, pg.Error = p.CSRF, p.Name, p.MustChangePassword, errKey
	c.render(w, status, "password", pg)
}

func (c *Console) changePassword(w http.ResponseWriter, r *http.Request) {
	p, ok := c.session(w, r)
	if !ok {
		return
	}
	cur, next, confirm := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	if next != confirm {
		c.renderPassword(w, r, p, http.StatusBadRequest, "password.mismatch")
		return
	}
	if next == cur {
		c.renderPassword(w, r, p, http.StatusBadRequest, "password.same")
		return
	}
	err := c.deps.Identity.ChangePassword(r.Context(), p.Name, cur, next)
	switch {
	case errors.Is(err, identity.ErrBadCredentials):
		c.renderPassword(w, r, p, http.StatusUnauthorized, "password.bad")
		return
	case errors.Is(err, identity.ErrLocked):
		c.renderPassword(w, r, p, http.StatusTooManyRequests, "login.locked")
		return
	case errors.Is(err, identity.ErrWeakPassword):
		c.renderPassword(w, r, p, http.StatusBadRequest, "password.weak")
		return
	case err != nil:
		c.deps.Log.Error("changing a password failed", "user", p.Name, "err", err)
		c.renderPassword(w, r, p, http.StatusInternalServerError, "error.internal")
		return
	}
	// The change ended every session of the user: start a fresh one.
	u, err := c.deps.Identity.Authenticate(r.Context(), p.Name, next)
	if err == nil {
		var sess identity.Session
		if sess, err = c.deps.Identity.CreateSession(r.Context(), u); err == nil {
			c.deps.Identity.SetCookie(w, sess)
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
	}
	c.deps.Log.Error("signing in after a password change failed", "user", p.Name, "err", err)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// consolePage serves one page of the console to a session that may read:
// the page is a shell that its script fills from the API. What the role
// may do decides which controls the page shows; the API refuses the rest.
func (c *Console) consolePage(name, titleKey string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.switchLang(w, r) {
			return
		}
		p, ok := c.session(w, r)
		if !ok {
			return
		}
		if p.MustChangePassword {
			http.Redirect(w, r, "/password", http.StatusSeeOther)
			return
		}
		if !p.Can(identity.PermRead) {
			pg := c.newPage(r, "error.title")
			pg.Error = "error.forbidden"
			c.render(w, http.StatusForbidden, "error", pg)
			return
		}
		pg := c.newPage(r, titleKey)
		pg.Nav = name
		pg.CSRF, pg.Username, pg.RoleKey = p.CSRF, p.Name, "role."+string(p.Role)
		pg.Masked = !p.Can(identity.PermSeePersonalData)
		pg.CanWork = p.Can(identity.PermWorkIncidents)
		pg.CanManageRules = p.Can(identity.PermManageRules)
		pg.ID = r.PathValue("id")
		c.render(w, http.StatusOK, name, pg)
	}
}

// snapshot is GET /console/live.json: the stream position, then the recent
// alerts and incidents (newest first), masked for the caller's role. The
// position is read first, so a message published meanwhile may be in both;
// the page merges by id.
func (c *Console) snapshot(w http.ResponseWriter, r *http.Request) {
	p, _ := identity.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	seq, epoch := c.hub.Seq()
	alerts, err := c.deps.Feed.RecentAlerts(r.Context(), c.cfg.Recent)
	if err != nil {
		c.deps.Log.Error("reading recent alerts failed", "err", err)
		identity.WriteError(w, http.StatusInternalServerError, "internal", "recent alerts are unavailable")
		return
	}
	incidents, err := c.deps.Feed.RecentIncidents(r.Context(), c.cfg.Recent)
	if err != nil {
		c.deps.Log.Error("reading recent incidents failed", "err", err)
		identity.WriteError(w, http.StatusInternalServerError, "internal", "recent incidents are unavailable")
		return
	}
	if alerts == nil {
		alerts = []event.Alert{}
	}
	if incidents == nil {
		incidents = []event.Incident{}
	}
	var body = struct {
		Seq       uint64 `json:"seq"`
		Epoch     string `json:"epoch"`
		User      string `json:"user"`
		Role      string `json:"role"`
		Masked    bool   `json:"masked"`
		Alerts    any    `json:"alerts"`
		Incidents any    `json:"incidents"`
	}{seq, epoch, p.Name, string(p.Role), !p.Can(identity.PermSeePersonalData), alerts, incidents}
	if body.Masked {
		body.Alerts, body.Incidents = maskData(alerts), maskData(incidents)
	}
	json.NewEncoder(w).Encode(body)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
