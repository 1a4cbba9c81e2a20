package identity

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Session is a console login. ID is the secret that goes in the cookie; the
// database keeps only its SHA-256 hash.
type Session struct {
	ID string
	// CSRF is the synchronizer token of the session: forms and scripts send
	// it back (form field CSRFField or header CSRFHeader) on every
	// state-changing request.
	CSRF    string
	User    User
	Created time.Time
	// Expires is the sooner of the idle and the absolute expiry, as of now.
	Expires time.Time
}

// Names of the CSRF token in requests.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// sessionTouch is how stale last_seen may get before a request refreshes
// it: the idle expiry is exact to within this.
const sessionTouch = time.Minute

// CreateSession starts a session for user (after Authenticate).
func (s *Store) CreateSession(ctx context.Context, user User) (Session, error) {
	id, csrf := randomSecret(32), randomSecret(32)
	now := s.now()
	h := sha256.Sum256([]byte(id))
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, csrf, created, last_seen) VALUES (?, ?, ?, ?, ?)`,
		h[:], user.ID, csrf, ms(now), ms(now)); err != nil {
		return Session{}, fmt.Errorf("creating a session for %q: %w", user.Name, err)
	}
	return Session{ID: id, CSRF: csrf, User: user, Created: fromMS(ms(now)), Expires: s.expiry(now, now)}, nil
}

func (s *Store) expiry(created, lastSeen time.Time) time.Time {
	idle, abs := lastSeen.Add(s.cfg.SessionIdle), created.Add(s.cfg.SessionMax)
	if idle.Before(abs) {
		return fromMS(ms(idle))
	}
	return fromMS(ms(abs))
}

// LookupSession returns the live session with the secret id, refreshing its
// idle expiry. An unknown or expired session is ErrNotFound; an expired one
// is deleted.
func (s *Store) LookupSession(ctx context.Context, id string) (Session, error) {
	if len(id) != 43 { // 32 bytes in base64url
		return Session{}, ErrNotFound
	}
	h := sha256.Sum256([]byte(id))
	var sess Session
	var role string
	var created, lastSeen, changed, ucreated int64
	err := s.db.QueryRowContext(ctx, `SELECT s.csrf, s.created, s.last_seen, u.id, u.name, u.role, u.must_change, u.created, u.password_changed
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, h[:]).Scan(
		&sess.CSRF, &created, &lastSeen, &sess.User.ID, &sess.User.Name, &role, &sess.User.MustChangePassword, &ucreated, &changed)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("reading a session: %w", err)
	}
	now := s.now()
	sess.ID, sess.User.Role, sess.Created = id, Role(role), fromMS(created)
	sess.User.PasswordChanged, sess.User.Created = fromMS(changed), fromMS(ucreated)
	if !now.Before(s.expiry(fromMS(created), fromMS(lastSeen))) {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, h[:]); err != nil {
			return Session{}, fmt.Errorf("deleting an expired session: %w", err)
		}
		return Session{}, ErrNotFound
	}
	if ms(now)-lastSeen >= sessionTouch.Milliseconds() {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE hash = ?`, ms(now), h[:]); err != nil {
			return Session{}, fmt.Errorf("refreshing a session: %w", err)
		}
		lastSeen = ms(now)
	}
	sess.Expires = s.expiry(fromMS(created), fromMS(lastSeen))
	return sess, nil
}

// DeleteSession ends the session with the secret id (logout). Ending an
// unknown session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	h := sha256.Sum256([]byte(id))
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, h[:]); err != nil {
		return fmt.Errorf("deleting a session: %w", err)
	}
	return nil
}

// PurgeSessions deletes expired sessions; the server calls it now and then.
func (s *Store) PurgeSessions(ctx context.Context) (int64, error) {
	now := ms(s.now())
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen <= ? OR created <= ?`,
		now-s.cfg.SessionIdle.Milliseconds(), now-s.cfg.SessionMax.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("purging expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// CookieName is the name of the session cookie: with the __Host- prefix
// (Secure, no Domain, Path=/) unless Config.InsecureCookies.
func (s *Store) CookieName() string {
	if s.cfg.InsecureCookies {
		return "vigil_session"
	}
	return "__Host-vigil_session"
}

// SetCookie writes the session cookie: HttpOnly, SameSite=Strict, Secure
// unless Config.InsecureCookies, lasting until the absolute expiry (the idle
// expiry is enforced by the server).
func (s *Store) SetCookie(w http.ResponseWriter, sess Session) {
	http.SetCookie(w, &http.Cookie{
		Name: s.CookieName(), Value: sess.ID, Path: "/",
		Expires:  sess.Created.Add(s.cfg.SessionMax),
		HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

// ClearCookie removes the session cookie from the browser.
func (s *Store) ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.CookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

// SecureCookies reports whether cookies carry the Secure attribute; other
// cookies of the console follow the same setting.
func (s *Store) SecureCookies() bool { return !s.cfg.InsecureCookies }

// purgeEvery is how often Run deletes expired sessions.
const purgeEvery = 15 * time.Minute

// Run deletes expired sessions every 15 minutes until ctx ends. Expired
// sessions are refused without it; it only keeps the table small.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := s.PurgeSessions(ctx); err != nil {
				s.log.Warn("purging expired sessions failed", "err", err)
			} else if n > 0 {
				s.log.Debug("expired sessions purged", "sessions", n)
			}
		}
	}
}
