package dashboards

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed web/static web/templates
var webFS embed.FS

// assets are the static files, served under /assets/<hash>/ where hash
// covers every file: a new build gets new URLs, so the files can be cached
// for a year, and relative ES module imports keep working.
type assets struct {
	hash  string
	files map[string][]byte
}

func loadAssets() (*assets, error) {
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	a := &assets{files: map[string][]byte{}}
	var names []string
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		a.files[p] = b
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded assets: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(a.files[n]))
		h.Write(a.files[n])
	}
	a.hash = hex.EncodeToString(h.Sum(nil))[:12]
	return a, nil
}

func (a *assets) prefix() string { return "/assets/" + a.hash }

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, ok := a.files[name]
	if !ok || r.PathValue("hash") != a.hash {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// catalogue is the messages of one language, from web/static/i18n/LANG.json.
type catalogue map[string]string

// languages lists the console's languages; each is named in itself.
var languages = []struct{ Code, Name string }{{"vi", "Tiếng Việt"}, {"en", "English"}}

func loadCatalogues(a *assets) (map[string]catalogue, error) {
	out := map[string]catalogue{}
	for _, l := range languages {
		var c catalogue
		if err := json.Unmarshal(a.files["i18n/"+l.Code+".json"], &c); err != nil {
			return nil, fmt.Errorf("reading the %s message catalogue: %w", l.Code, err)
		}
		out[l.Code] = c
	}
	return out, nil
}

// pageNames are the templates, one per page.
var pageNames = []string{"login", "password", "live", "error", "incidents", "incident", "search", "dashboards", "rules"}

func loadTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.ParseFS(webFS, "web/templates/layout.html", "web/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		out[name] = t.Lookup(name + ".html")
	}
	return out, nil
}

// langOf returns the language of the request: the vigil_lang cookie, else
// the default.
func (c *Console) langOf(r *http.Request) string {
	if ck, err := r.Cookie(langCookie); err == nil {
		if _, ok := c.cats[ck.Value]; ok {
			return ck.Value
		}
	}
	return c.cfg.Language
}

const langCookie = "vigil_lang"

// switchLang handles ?lang=xx on a page: it remembers the choice in a cookie
// and redirects to the same page without the parameter. It reports whether
// it answered.
func (c *Console) switchLang(w http.ResponseWriter, r *http.Request) bool {
	l := r.URL.Query().Get("lang")
	if l == "" || r.Method != http.MethodGet {
		return false
	}
	if _, ok := c.cats[l]; ok {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: c.deps.Identity.SecureCookies(), SameSite: http.SameSiteStrictMode})
	}
	http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
	return true
}

// page is what templates render.
type page struct {
	Lang, Assets, TitleKey string
	cat                    catalogue
	Langs                  []langLink
	CSRF, Username         string
	RoleKey                string
	Error                  string // a catalogue key
	First, Masked          bool
	// Nav is the console page shown, for the navigation; ID the incident
	// of the incident page.
	Nav, ID string
	// CanWork: the role may change incidents and saved searches.
	CanWork bool
	// CanManageRules: the role may enable and disable rules.
	CanManageRules bool
}

// navItem is one link of the console's navigation.
type navItem struct {
	Name, Href, Key, Shortcut string
}

// Nav lists the console's pages in the order of the navigation; the
// shortcut is the key after "g".
func (page) NavItems() []navItem {
	return []navItem{
		{"live", "/", "nav.live", "l"},
		{"incidents", "/incidents", "nav.incidents", "i"},
		{"search", "/search", "nav.search", "s"},
		{"dashboards", "/dashboards", "nav.dashboards", "d"},
		{"rules", "/rules", "nav.rules", "r"},
	}
}

type langLink struct {
	Code, Name string
	Current    bool
}

// T translates a catalogue key; a missing key shows as itself (the tests
// make sure none is missing).
func (p page) T(key string) string {
	if v, ok := p.cat[key]; ok {
		return v
	}
	return key
}

func (c *Console) newPage(r *http.Request, titleKey string) page {
	lang := c.langOf(r)
	p := page{Lang: lang, Assets: c.assets.prefix(), TitleKey: titleKey, cat: c.cats[lang]}
	for _, l := range languages {
		p.Langs = append(p.Langs, langLink{Code: l.Code, Name: l.Name, Current: l.Code == lang})
	}
	return p
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := c.tmpl[name].Execute(&buf, p); err != nil {
		c.deps.Log.Error("rendering a console page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// securityHeaders sets the headers every console response carries: a
// strict Content-Security-Policy (no inline script or style, no framing),
// no MIME sniffing, no referrer; HTML and JSON are never cached.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/assets/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// ContentSecurityPolicy is the console's policy. 'self' in connect-src
// covers the websocket on the same host (CSP level 3).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
