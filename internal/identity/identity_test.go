package identity

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is an injected time that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTest(t testing.TB, cfg Config) (*Store, *clock, string) {
	t.Helper()
	c := newClock()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := OpenConfig(context.Background(), path, cfg, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c, path
}

const goodPassword = "correct horse battery"

func TestCan(t *testing.T) {
	// The permission table of role.go, written out: a change there must be
	// a deliberate change here.
	want := map[Role][]Permission{
		RoleAdmin:   {PermRead, PermWorkIncidents, PermManageRules, PermManageIdentity, PermIngest, PermSeePersonalData},
		RoleAnalyst: {PermRead, PermWorkIncidents, PermManageRules, PermSeePersonalData},
		RoleViewer:  {PermRead},
		RoleAgent:   {PermIngest},
		"root":      nil,
	}
	for role, allowed := range want {
		for _, perm := range Permissions() {
			t.Run(string(role)+"/"+string(perm), func(t *testing.T) {
				wantOK := false
				for _, a := range allowed {
					wantOK = wantOK || a == perm
				}
				if got := Can(role, perm); got != wantOK {
					t.Errorf("Can(%s, %s) = %v, want %v", role, perm, got, wantOK)
				}
			})
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Role
		wantErr string
	}{
		{"admin", RoleAdmin, ""},
		{" Analyst ", RoleAnalyst, ""},
		{"agent", RoleAgent, ""},
		{"root", "", "valid roles: admin, analyst, viewer, agent"},
		{"", "", "unknown role"},
	} {
		got, err := ParseRole(tc.in)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, error containing %q", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry the argon2id parameters", h)
	}
	h2, _ := hashPassword(goodPassword)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		hash, pw string
		want     bool
		wantErr  bool
	}{
		{h, goodPassword, true, false},
		{h, goodPassword + " ", false, false},
		{h, "", false, false},
		{strings.Replace(h, "t=2", "t=3", 1), goodPassword, false, false}, // parameters are part of the hash
		{"$2y$10$abcdefghijklmnopqrstuv", goodPassword, false, true},
		{"$argon2id$v=19$m=0,t=2,p=1$AAAA$AAAA", goodPassword, false, true},
	} {
		got, err := verifyPassword(tc.hash, tc.pw)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("verifyPassword(%q, %q) = %v, %v; want %v, error %v", tc.hash, tc.pw, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCreateUserAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t, Config{})
	if _, err := s.CreateUser(ctx, "lan.nguyen", goodPassword, RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, pw, role string
		wantErr              error
		wantErrText          string
	}{
		{name: "duplicate ignoring case", user: "Lan.Nguyen", pw: goodPassword, role: "viewer", wantErr: ErrExists},
		{name: "short password", user: "minh", pw: "short", role: "viewer", wantErr: ErrWeakPassword},
		{name: "bad name", user: "a b", pw: goodPassword, role: "viewer", wantErrText: "name must be"},
		{name: "bad role", user: "minh", pw: goodPassword, role: "root", wantErrText: "valid roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateUser(ctx, tc.user, tc.pw, Role(tc.role))
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantErrText) {
				t.Errorf("CreateUser: got error %v, want %v %q", err, tc.wantErr, tc.wantErrText)
			}
		})
	}
	for _, tc := range []struct {
		name, user, pw string
		wantErr        error
	}{
		{"right password", "lan.nguyen", goodPassword, nil},
		{"name in other case", "LAN.NGUYEN", goodPassword, nil},
		{"wrong password", "lan.nguyen", "correct horse battery!", ErrBadCredentials},
		{"empty password", "lan.nguyen", "", ErrBadCredentials},
		{"unknown user", "hoa", goodPassword, ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tc.user, tc.pw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Authenticate(%q) error = %v, want %v", tc.user, err, tc.wantErr)
			}
			if err == nil && (u.Name != "lan.nguyen" || u.Role != RoleAnalyst) {
				t.Errorf("Authenticate = %+v, want lan.nguyen analyst", u)
			}
		})
	}
}

func TestLockoutAndBackoff(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t, Config{MaxFailures: 3, LockBase: time.Minute, LockMax: 3 * time.Minute})
	if _, err := s.CreateUser(ctx, "hoa", goodPassword, RoleViewer); err != nil {
		t.Fatal(err)
	}
	try := func(pw string) error { _, err := s.Authenticate(ctx, "hoa", pw); return err }
	steps := []struct {
		advance time.Duration
		pw      string
		want    error
	}{
		{0, "wrong password 1", ErrBadCredentials},
		{0, "wrong password 2", ErrBadCredentials},
		{0, "wrong password 3", ErrBadCredentials}, // third failure locks for 1m
		{0, goodPassword, ErrLocked},
		{59 * time.Second, goodPassword, ErrLocked},
		{time.Second, "wrong password 4", ErrBadCredentials}, // lock over; fourth failure locks for 2m
		{time.Minute + 59*time.Second, goodPassword, ErrLocked},
		{time.Second, "wrong password 5", ErrBadCredentials}, // 4m capped at 3m
		{3*time.Minute - time.Second, goodPassword, ErrLocked},
		{time.Second, goodPassword, nil}, // success resets the count
		{0, "wrong password 6", ErrBadCredentials},
		{0, goodPassword, nil},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if got := try(st.pw); !errors.Is(got, st.want) {
			t.Fatalf("step %d (%q after %v): got %v, want %v", i, st.pw, st.advance, got, st.want)
		}
	}
}

func TestEnsureAdminAndPasswordChange(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t, Config{})
	pw, created, err := s.EnsureAdmin(ctx)
	if err != nil || !created || len(pw) < MinPasswordLen {
		t.Fatalf("EnsureAdmin = %q, %v, %v; want a new password", pw, created, err)
	}
	if pw2, created, err := s.EnsureAdmin(ctx); err != nil || created || pw2 != "" {
		t.Fatalf("second EnsureAdmin = %q, %v, %v; want nothing created", pw2, created, err)
	}
	u, err := s.Authenticate(ctx, AdminName, pw)
	if err != nil {
		t.Fatal(err)
	}
	if !u.MustChangePassword || u.Role != RoleAdmin {
		t.Fatalf("first admin = %+v, want role admin and a password to change", u)
	}
	sess, err := s.CreateSession(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassword(ctx, AdminName, pw, pw); err == nil {
		t.Error("changing to the same password succeeded")
	}
	if err := s.ChangePassword(ctx, AdminName, "not the password", goodPassword); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("change with wrong old password: %v, want ErrBadCredentials", err)
	}
	if err := s.ChangePassword(ctx, AdminName, pw, goodPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupSession(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("session after password change: %v, want ErrNotFound", err)
	}
	u, err = s.Authenticate(ctx, AdminName, goodPassword)
	if err != nil || u.MustChangePassword {
		t.Fatalf("after change: %+v, %v; want login without a pending change", u, err)
	}
	if _, err := s.Authenticate(ctx, AdminName, pw); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("one-time password still works: %v", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t, Config{SessionIdle: 30 * time.Minute, SessionMax: 2 * time.Hour})
	u, err := s.CreateUser(ctx, "minh", goodPassword, RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		steps []time.Duration // lookups after each advance; all but the last succeed
		last  bool            // whether the last lookup succeeds
	}{
		{"idle expiry", []time.Duration{29 * time.Minute, 30 * time.Minute}, false},
		{"use keeps it alive", []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, true},
		{"absolute expiry despite use", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 20 * time.Minute}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess, err := s.CreateSession(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range tc.steps {
				clk.Advance(d)
				got, err := s.LookupSession(ctx, sess.ID)
				wantOK := i < len(tc.steps)-1 || tc.last
				if (err == nil) != wantOK {
					t.Fatalf("lookup %d after %v: error %v, want success %v", i, d, err, wantOK)
				}
				if err == nil && (got.User.Name != "minh" || got.CSRF != sess.CSRF) {
					t.Errorf("lookup %d = %+v, want minh's session", i, got)
				}
			}
		})
	}
	if _, err := s.LookupSession(ctx, "not-a-session"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s, clk, path := openTest(t, Config{TokenCacheTTL: 10 * time.Second})
	secret, err := s.CreateToken(ctx, "db-agent", RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "vgl_") || len(secret) != tokenLen {
		t.Fatalf("token %q: want vgl_ and %d characters", secret, tokenLen)
	}
	p, err := s.VerifyToken(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Principal{Kind: KindToken, ID: p.ID, Name: "db-agent", Role: RoleAgent}, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "vgl_", secret[:len(secret)-1] + "x", "Bearer " + secret, strings.Replace(secret, "vgl_", "vgx_", 1)} {
		if _, err := s.VerifyToken(ctx, bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("VerifyToken(%q) = %v, want ErrBadToken", bad, err)
		}
	}
	clk.Advance(2 * time.Minute)
	if _, err := s.VerifyToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	list, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].LastUsed.Equal(clk.Now()) || list[0].Hint != secret[:10] {
		t.Errorf("Tokens = %+v, want one used at %v with hint %q", list, clk.Now(), secret[:10])
	}

	// Revoked through this store: refused at once, cache or not.
	if err := s.RevokeToken(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyToken(ctx, secret); !errors.Is(err, ErrBadToken) {
		t.Errorf("revoked token: %v, want ErrBadToken", err)
	}
	if err := s.RevokeToken(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking twice: %v, want ErrNotFound", err)
	}

	// Another process (the CLI) on the same file, while the server runs.
	cli, err := Open(ctx, path, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	second, err := cli.CreateToken(ctx, "", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.VerifyToken(ctx, second)
	if err != nil {
		t.Fatalf("token made by another process: %v", err)
	}
	if p2.Role != RoleViewer || !strings.HasPrefix(p2.Name, "viewer-") {
		t.Errorf("default-named token = %+v", p2)
	}
	if err := cli.RevokeToken(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyToken(ctx, second); err != nil {
		t.Errorf("within the cache TTL a token revoked elsewhere still works, got %v", err)
	}
	clk.Advance(10 * time.Second)
	if _, err := s.VerifyToken(ctx, second); !errors.Is(err, ErrBadToken) {
		t.Errorf("after the cache TTL: %v, want ErrBadToken", err)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t, Config{TokenCacheSize: 3})
	for i := 0; i < 5; i++ {
		secret, err := s.CreateToken(ctx, "", RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if n := s.tokens.len(); n > 3 {
			t.Fatalf("cache holds %d tokens, bound is 3", n)
		}
	}
}

func TestMiddleware(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t, Config{InsecureCookies: true})
	tokens := map[Role]string{}
	for _, r := range Roles() {
		sec, err := s.CreateToken(ctx, "", r)
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = sec
	}
	viewer, err := s.CreateUser(ctx, "viewer1", goodPassword, RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.CreateSession(ctx, viewer)
	if err != nil {
		t.Fatal(err)
	}
	mustChange, err := s.createUser(ctx, "newbie", goodPassword, RoleAdmin, true)
	if err != nil {
		t.Fatal(err)
	}
	newbie, err := s.CreateSession(ctx, mustChange)
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		w.Write([]byte(p.Name))
	})
	mux.Handle("POST /ingest", Require(PermIngest, ok))
	mux.Handle("GET /alerts", Require(PermRead, ok))
	mux.Handle("POST /incidents", Require(PermRead, ok))
	mux.Handle("POST /users", Require(PermManageIdentity, ok))
	h := s.Middleware(mux)

	cookie := func(id string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: s.CookieName(), Value: id}) }
	}
	bearer := func(sec string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+sec) }
	}
	for _, tc := range []struct {
		name, method, path string
		auth               func(*http.Request)
		body               string
		csrfHeader         string
		wantStatus         int
		wantError          string
	}{
		{name: "no credentials", method: "GET", path: "/alerts", wantStatus: 401, wantError: "unauthenticated"},
		{name: "bad token", method: "GET", path: "/alerts", auth: bearer("vgl_nope"), wantStatus: 401, wantError: "invalid_token"},
		{name: "basic auth is not accepted", method: "GET", path: "/alerts", auth: func(r *http.Request) { r.SetBasicAuth("viewer1", goodPassword) }, wantStatus: 401, wantError: "invalid_token"},
		{name: "agent ingests", method: "POST", path: "/ingest", auth: bearer(tokens[RoleAgent]), wantStatus: 200},
		{name: "agent cannot read", method: "GET", path: "/alerts", auth: bearer(tokens[RoleAgent]), wantStatus: 403, wantError: "forbidden"},
		{name: "viewer token cannot ingest", method: "POST", path: "/ingest", auth: bearer(tokens[RoleViewer]), wantStatus: 403, wantError: "forbidden"},
		{name: "analyst cannot manage users", method: "POST", path: "/users", auth: bearer(tokens[RoleAnalyst]), wantStatus: 403, wantError: "forbidden"},
		{name: "admin manages users", method: "POST", path: "/users", auth: bearer(tokens[RoleAdmin]), wantStatus: 200},
		{name: "token needs no CSRF", method: "POST", path: "/incidents", auth: bearer(tokens[RoleViewer]), wantStatus: 200},
		{name: "session reads", method: "GET", path: "/alerts", auth: cookie(sess.ID), wantStatus: 200},
		{name: "expired or unknown session", method: "GET", path: "/alerts", auth: cookie("x"), wantStatus: 401, wantError: "unauthenticated"},
		{name: "session POST without CSRF", method: "POST", path: "/incidents", auth: cookie(sess.ID), wantStatus: 403, wantError: "csrf"},
		{name: "session POST with wrong CSRF", method: "POST", path: "/incidents", auth: cookie(sess.ID), csrfHeader: newbie.CSRF, wantStatus: 403, wantError: "csrf"},
		{name: "session POST with CSRF header", method: "POST", path: "/incidents", auth: cookie(sess.ID), csrfHeader: sess.CSRF, wantStatus: 200},
		{name: "session POST with CSRF form field", method: "POST", path: "/incidents", auth: cookie(sess.ID), body: url.Values{CSRFField: {sess.CSRF}}.Encode(), wantStatus: 200},
		{name: "pending password change", method: "GET", path: "/alerts", auth: cookie(newbie.ID), wantStatus: 403, wantError: "password_change_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tc.auth != nil {
				tc.auth(r)
			}
			if tc.csrfHeader != "" {
				r.Header.Set(CSRFHeader, tc.csrfHeader)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %s)", w.Code, tc.wantStatus, w.Body)
			}
			if tc.wantError != "" && !strings.Contains(w.Body.String(), `"error":"`+tc.wantError+`"`) {
				t.Errorf("body %s, want error %q", w.Body, tc.wantError)
			}
			if tc.wantError != "" && w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("content type %q, want JSON", w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		s, _, _ := openTest(t, Config{InsecureCookies: insecure})
		w := httptest.NewRecorder()
		s.SetCookie(w, Session{ID: "abc", Created: time.Now()})
		c := w.Result().Cookies()[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure == insecure || c.Path != "/" {
			t.Errorf("insecure=%v: cookie %+v, want HttpOnly, SameSite=Strict, Secure=%v, Path=/", insecure, c, !insecure)
		}
		if wantPrefix := !insecure; strings.HasPrefix(c.Name, "__Host-") != wantPrefix {
			t.Errorf("insecure=%v: cookie name %q", insecure, c.Name)
		}
	}
}

func BenchmarkVerifyToken(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 10 * time.Second}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			s, _, _ := openTest(b, Config{TokenCacheTTL: bc.ttl})
			secret, err := s.CreateToken(ctx, "bench", RoleAgent)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.VerifyToken(ctx, secret); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestPurgeSessions(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t, Config{SessionIdle: 30 * time.Minute, SessionMax: time.Hour})
	u, err := s.CreateUser(ctx, "minh", goodPassword, RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := s.CreateSession(ctx, u)
	clk.Advance(20 * time.Minute)
	fresh, _ := s.CreateSession(ctx, u)
	clk.Advance(15 * time.Minute) // old is idle for 35m, fresh for 15m
	n, err := s.PurgeSessions(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PurgeSessions = %d, %v; want 1", n, err)
	}
	if _, err := s.LookupSession(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("idle session survived the purge: %v", err)
	}
	if _, err := s.LookupSession(ctx, fresh.ID); err != nil {
		t.Errorf("live session purged: %v", err)
	}
}

// BenchmarkMiddlewareBearer is the authentication cost of one ingest
// request: Middleware and Require with a cached agent token.
func BenchmarkMiddlewareBearer(b *testing.B) {
	s, _, _ := openTest(b, Config{})
	secret, err := s.CreateToken(context.Background(), "agent", RoleAgent)
	if err != nil {
		b.Fatal(err)
	}
	h := s.Middleware(Require(PermIngest, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("POST", "/api/v1/events", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}

func TestDatabaseFilesArePrivate(t *testing.T) {
	s, _, path := openTest(t, Config{})
	if _, err := s.CreateToken(context.Background(), "", RoleAgent); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), mode)
		}
	}
}
