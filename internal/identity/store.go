package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"
)

// FileName is the name of the identity database inside the data directory.
const FileName = "identity.db"

// Config tunes a Store. The zero value of a field means its default.
type Config struct {
	// SessionIdle ends a session not used for this long (default 30m).
	SessionIdle time.Duration
	// SessionMax ends a session this long after login, used or not
	// (default 12h).
	SessionMax time.Duration
	// InsecureCookies drops the Secure attribute and the __Host- prefix of
	// the session cookie, for a console served over plain HTTP on loopback.
	InsecureCookies bool
	// MaxFailures is how many wrong passwords in a row lock an account
	// (default 5). Each further failure doubles the lock, from LockBase up
	// to LockMax.
	MaxFailures int
	// LockBase is the first lock's length (default 1m); LockMax the longest
	// (default 1h).
	LockBase, LockMax time.Duration
	// TokenCacheTTL is how long a verified API token is trusted without
	// asking the database (default 10s): the longest a token revoked by
	// another process keeps working. Negative disables the cache.
	TokenCacheTTL time.Duration
	// TokenCacheSize bounds the cache (default 4096 tokens). When full, an
	// arbitrary entry is evicted: the cost is one more database read.
	TokenCacheSize int
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SessionIdle, 30*time.Minute)
	def(&c.SessionMax, 12*time.Hour)
	def(&c.LockBase, time.Minute)
	def(&c.LockMax, time.Hour)
	def(&c.TokenCacheTTL, 10*time.Second)
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.TokenCacheSize == 0 {
		c.TokenCacheSize = 4096
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.SessionIdle < 0 || c.SessionMax < 0 || c.LockBase < 0 || c.LockMax < 0:
		return errors.New("identity: durations must not be negative")
	case c.SessionIdle > c.SessionMax:
		return fmt.Errorf("identity: session idle timeout %v exceeds the maximum session length %v", c.SessionIdle, c.SessionMax)
	case c.MaxFailures < 1:
		return fmt.Errorf("identity: max failures must be at least 1, got %d", c.MaxFailures)
	case c.TokenCacheSize < 1:
		return fmt.Errorf("identity: token cache size must be at least 1, got %d", c.TokenCacheSize)
	case c.LockBase > c.LockMax:
		return fmt.Errorf("identity: lock base %v exceeds lock max %v", c.LockBase, c.LockMax)
	}
	return nil
}

// Store is the identity database. Create it with Open or OpenConfig.
type Store struct {
	db     *sql.DB
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	tokens *tokenCache

	dummyOnce sync.Once
	dummy     string // a password hash to verify against for unknown users
}

// Open opens (creating and migrating when needed) the identity database at
// path with the default Config.
func Open(ctx context.Context, path string, now func() time.Time, log *slog.Logger) (*Store, error) {
	return OpenConfig(ctx, path, Config{}, now, log)
}

// OpenConfig is Open with a Config.
func OpenConfig(ctx context.Context, path string, cfg Config, now func() time.Time, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating identity directory: %w", err)
	}
	// Create the file private before SQLite does, so that its -wal and
	// -shm files, which take the database file's mode, are private too.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating identity database %s: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("restricting identity database %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening identity database %s: %w", path, err)
	}
	s := &Store{db: db, cfg: cfg, now: now, log: log, tokens: newTokenCache(cfg.TokenCacheSize)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating identity database %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// migrations are applied in order; PRAGMA user_version counts those done.
// Never edit one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE users (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE COLLATE NOCASE,
		role TEXT NOT NULL,
		password_hash TEXT NOT NULL,
		must_change INTEGER NOT NULL DEFAULT 0,
		failures INTEGER NOT NULL DEFAULT 0,
		locked_until INTEGER NOT NULL DEFAULT 0,
		created INTEGER NOT NULL,
		password_changed INTEGER NOT NULL
	);
	CREATE TABLE sessions (
		hash BLOB PRIMARY KEY,
		user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		csrf TEXT NOT NULL,
		created INTEGER NOT NULL,
		last_seen INTEGER NOT NULL
	);
	CREATE INDEX sessions_user ON sessions(user_id);
	CREATE TABLE tokens (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		role TEXT NOT NULL,
		hash BLOB NOT NULL UNIQUE,
		hint TEXT NOT NULL,
		created INTEGER NOT NULL,
		last_used INTEGER NOT NULL DEFAULT 0,
		revoked INTEGER NOT NULL DEFAULT 0
	);`,
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this vigil (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if v < len(migrations) {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ms converts a time to the stored form: Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
