package identity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Kind says how a principal authenticated.
type Kind string

const (
	KindSession Kind = "session" // console login, session cookie
	KindToken   Kind = "token"   // API token, Authorization: Bearer
)

// Principal is who makes a request.
type Principal struct {
	Kind Kind
	// ID is the user's id for a session, the token's id for a token.
	ID   int64
	Name string
	Role Role
	// MustChangePassword: the session may do nothing but change the password.
	MustChangePassword bool
	// CSRF is the session's CSRF token, for pages to embed; empty for tokens.
	CSRF string
	// SessionID is the session's secret, for logout; empty for tokens.
	SessionID string
	// Expires is when the session ends at the latest (its absolute expiry),
	// for long-lived connections; zero for tokens.
	Expires time.Time
}

// Can reports whether the principal may do perm: its role may, and it is
// not waiting for a password change.
func (p Principal) Can(perm Permission) bool {
	return !p.MustChangePassword && Can(p.Role, perm)
}

type ctxKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal that Middleware put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// AuthenticateRequest returns the principal of r, if any: by API token when the
// request has an Authorization header (a bad token is ErrBadToken, never a
// fallback to the cookie), else by session cookie (none or an expired one is
// ok=false).
func (s *Store) AuthenticateRequest(r *http.Request) (p Principal, ok bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, false, ErrBadToken
		}
		p, err := s.VerifyToken(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			return Principal{}, false, err
		}
		return p, true, nil
	}
	c, err := r.Cookie(s.CookieName())
	if err != nil {
		return Principal{}, false, nil
	}
	sess, err := s.LookupSession(r.Context(), c.Value)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, false, nil
	}
	if err != nil {
		return Principal{}, false, err
	}
	return Principal{
		Kind: KindSession, ID: sess.User.ID, Name: sess.User.Name, Role: sess.User.Role,
		MustChangePassword: sess.User.MustChangePassword, CSRF: sess.CSRF, SessionID: sess.ID,
		Expires: sess.Created.Add(s.cfg.SessionMax),
	}, true, nil
}

// Middleware authenticates every request by API token (Authorization:
// Bearer vgl_...) or session cookie and puts the principal in the request's
// context (FromContext). A bad token answers 401 at once; a request without
// credentials passes on without a principal, for Require to refuse. A
// state-changing request (any method but GET, HEAD, OPTIONS) made with a
// session cookie must carry the session's CSRF token in the X-CSRF-Token
// header or the csrf_token form field, or it is answered 403.
func (s *Store) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := s.AuthenticateRequest(r)
		switch {
		case errors.Is(err, ErrBadToken):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, "invalid_token", "the API token is invalid or revoked")
			return
		case err != nil:
			s.log.Error("authenticating a request failed", "err", err)
			WriteError(w, http.StatusInternalServerError, "internal", "authentication is unavailable")
			return
		case !ok:
			next.ServeHTTP(w, r)
			return
		}
		if p.Kind == KindSession && !safeMethod(r.Method) && !CheckCSRF(r, p.CSRF) {
			WriteError(w, http.StatusForbidden, "csrf", "missing or wrong CSRF token")
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// CheckCSRF reports whether r carries want in the X-CSRF-Token header or the
// csrf_token form field, comparing in constant time.
func CheckCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct := r.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
			got = r.PostFormValue(CSRFField)
		}
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Require answers 401 to a request without a principal and 403 to one whose
// principal may not do perm (or must first change its password), with a
// JSON error; otherwise it calls next. Use it behind Middleware.
func Require(perm Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		switch {
		case !ok:
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			WriteError(w, http.StatusUnauthorized, "unauthenticated", "log in or send an API token")
		case p.MustChangePassword:
			WriteError(w, http.StatusForbidden, "password_change_required", "change the one-time password first")
		case !Can(p.Role, perm):
			WriteError(w, http.StatusForbidden, "forbidden", "role "+string(p.Role)+" may not "+string(perm))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// WriteError writes the JSON error body vigil's API answers with:
// {"error":"code","message":"..."}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{code, message})
}
