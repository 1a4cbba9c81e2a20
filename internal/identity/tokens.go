package identity

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// TokenPrefix starts every API token, so that secret scanners and people
// recognise one.
const TokenPrefix = "vgl_"

// tokenLen is the length of a token: the prefix and 32 random bytes in
// base64url.
const tokenLen = len(TokenPrefix) + 43

// Token describes an API token; the secret itself is shown once, by
// CreateToken, and never stored.
type Token struct {
	ID   int64
	Name string
	Role Role
	// Hint is the first characters of the secret, to tell tokens apart.
	Hint     string
	Created  time.Time
	LastUsed time.Time // zero if never used
	Revoked  time.Time // zero if live
}

// ErrBadToken: the token is malformed, unknown or revoked.
var ErrBadToken = errors.New("invalid or revoked API token")

// tokenTouch is how stale a token's last-used time may get.
const tokenTouch = time.Minute

// CreateToken makes an API token with role and returns its secret, which is
// shown this once: only its SHA-256 hash is kept.
func (s *Store) CreateToken(ctx context.Context, name string, role Role) (secret string, err error) {
	secret, _, err = s.createToken(ctx, name, role)
	return secret, err
}

func (s *Store) createToken(ctx context.Context, name string, role Role) (string, int64, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", 0, fmt.Errorf("creating token %q: %w", name, err)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = string(role) + "-" + s.now().UTC().Format("20060102T150405Z")
	}
	if len(name) > 128 {
		return "", 0, fmt.Errorf("creating token %q: name longer than 128 bytes", name[:32]+"...")
	}
	secret := TokenPrefix + randomSecret(32)
	h := sha256.Sum256([]byte(secret))
	res, err := s.db.ExecContext(ctx, `INSERT INTO tokens (name, role, hash, hint, created) VALUES (?, ?, ?, ?, ?)`,
		name, string(role), h[:], secret[:len(TokenPrefix)+6], ms(s.now()))
	if err != nil {
		return "", 0, fmt.Errorf("creating token %q: %w", name, err)
	}
	id, _ := res.LastInsertId()
	s.log.Info("api token created", "token_id", id, "token_name", name, "role", string(role))
	return secret, id, nil
}

// Tokens lists the API tokens, revoked ones included, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, role, hint, created, last_used, revoked FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var role string
		var created, used, revoked int64
		if err := rows.Scan(&t.ID, &t.Name, &role, &t.Hint, &created, &used, &revoked); err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		t.Role, t.Created, t.LastUsed, t.Revoked = Role(role), fromMS(created), fromMS(used), fromMS(revoked)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes the token with id. It stops working at once through
// this Store, and within Config.TokenCacheTTL in other processes.
func (s *Store) RevokeToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked = ? WHERE id = ? AND revoked = 0`, ms(s.now()), id)
	if err != nil {
		return fmt.Errorf("revoking token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoking token %d: %w", id, ErrNotFound)
	}
	s.tokens.dropID(id)
	s.log.Info("api token revoked", "token_id", id)
	return nil
}

// VerifyToken returns the principal of a live API token. It is on the path
// of every ingest request: verified tokens are cached for
// Config.TokenCacheTTL, and the last-used time is written at most once a
// minute per token.
func (s *Store) VerifyToken(ctx context.Context, secret string) (Principal, error) {
	if len(secret) != tokenLen || !strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, ErrBadToken
	}
	h := sha256.Sum256([]byte(secret))
	now := s.now()
	if s.cfg.TokenCacheTTL > 0 {
		if e, ok := s.tokens.get(h, now); ok {
			if now.Sub(e.lastUsed) >= tokenTouch {
				if err := s.touchToken(ctx, h, e.p.ID, now); err != nil {
					return Principal{}, err
				}
			}
			return e.p, nil
		}
	}
	var p Principal
	var role string
	var used, revoked int64
	err := s.db.QueryRowContext(ctx, `SELECT id, name, role, last_used, revoked FROM tokens WHERE hash = ?`, h[:]).
		Scan(&p.ID, &p.Name, &role, &used, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked != 0) {
		return Principal{}, ErrBadToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("verifying an API token: %w", err)
	}
	p.Kind, p.Role = KindToken, Role(role)
	lastUsed := fromMS(used)
	if now.Sub(lastUsed) >= tokenTouch {
		if _, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, ms(now), p.ID); err != nil {
			return Principal{}, fmt.Errorf("recording the use of token %d: %w", p.ID, err)
		}
		lastUsed = now
	}
	if s.cfg.TokenCacheTTL > 0 {
		s.tokens.put(h, tokenEntry{p: p, expires: now.Add(s.cfg.TokenCacheTTL), lastUsed: lastUsed})
	}
	return p, nil
}

func (s *Store) touchToken(ctx context.Context, h [32]byte, id int64, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ?`, ms(now), id); err != nil {
		return fmt.Errorf("recording the use of token %d: %w", id, err)
	}
	s.tokens.touch(h, now)
	return nil
}

type tokenEntry struct {
	p        Principal
	expires  time.Time
	lastUsed time.Time
}

// tokenCache maps the SHA-256 of a verified token to its principal. It is
// bounded: when full, an arbitrary entry is evicted.
type tokenCache struct {
	mu   sync.RWMutex
	max  int
	byID map[[32]byte]tokenEntry
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, byID: make(map[[32]byte]tokenEntry)}
}

func (c *tokenCache) get(h [32]byte, now time.Time) (tokenEntry, bool) {
	c.mu.RLock()
	e, ok := c.byID[h]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return tokenEntry{}, false
	}
	return e, true
}

func (c *tokenCache) put(h [32]byte, e tokenEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[h]; !ok && len(c.byID) >= c.max {
		for k := range c.byID {
			delete(c.byID, k)
			break
		}
	}
	c.byID[h] = e
}

func (c *tokenCache) touch(h [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[h]; ok {
		e.lastUsed = now
		c.byID[h] = e
	}
}

func (c *tokenCache) dropID(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.byID {
		if e.p.ID == id {
			delete(c.byID, k)
		}
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byID)
}
