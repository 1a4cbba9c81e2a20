// Package store is vigil's embedded store: one SQLite database (WAL mode)
// that holds the events, alerts, incidents (with their notes and history),
// the quarantine of lines that did not parse, and small state blobs of other
// components (the correlation snapshot, collector checkpoints). It
// answers the analyst query language of internal/query over the events,
// with full text on FTS5. Users, sessions and tokens are not here:
// internal/identity keeps its own database file.
//
// Layout: events are stored in compressed blocks of up to blockSize
// events close in time (blocks.go), with an index of every event's ID;
// the messages and db.statement of a block are indexed word by word in
// FTS5, in a second file (TextPath) that its own connection writes beside
// the events (text.go). A search chooses blocks by time and full text and
// tests each of their events with the compiled query (events.go). Back up
// both files together.
//
// Durability: the database runs with synchronous=NORMAL: a committed write
// survives the process being killed, and a power cut may lose the last
// transactions but never corrupts the file. That is safe because the
// durable bus, not the store, is the point where vigil acknowledges data,
// and every write here is idempotent (events and alerts by ID), so the bus
// replays what the store lost, provided its consumer acknowledges a run of
// batches only after Sync.
//
// Concurrency: a *Store is safe for concurrent use. Writes go through one
// connection and are serialised; reads use a bounded pool of read-only
// connections and see a consistent snapshot per call, never blocked by the
// writer. WriteEvents indexes text on a goroutine of its own and returns
// after it. A goroutine that the Store owns from Open to Close checkpoints
// the write-ahead logs on a connection of its own, beside the writers.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FileName is the store's database file inside the data directory.
const FileName = "vigil.db"

// DefaultRetention is how long events are kept: investigation logs must be
// kept at least 12 months under Vietnamese rules (Decree 85/2016 and the
// level-3+ system requirements).
const DefaultRetention = 365 * 24 * time.Hour

// readerMmap is how much of the database file each reader maps into memory:
// SQLite's maximum, 2 GiB; pages beyond are read with system calls. The
// mapping shares the operating system's page cache; it costs address space,
// not memory.
const readerMmap = 0x7fff0000

// Page bounds for listings.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Config tunes a Store. The zero value of a field means its default.
type Config struct {
	// Path is the database file (required), usually DATA/vigil.db.
	Path string
	// Retention is how long events are kept (default 365 days).
	Retention time.Duration
	// MaxBytes is the disk budget of the database: Prune deletes the oldest
	// events while the database is larger. 0 means no budget.
	MaxBytes int64
	// Readers is the number of read connections (default 4).
	Readers int
	// CacheBytes is the page cache of the writer connection (default 64 MiB);
	// each reader gets a quarter of it.
	CacheBytes int64
	// QueryTimeout bounds one event search (default 30s): a query over a
	// field without an index scans every event, and must not hold a reader
	// for ever.
	QueryTimeout time.Duration
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing (default 10s).
	BusyTimeout time.Duration
	// Now returns the current time (default time.Now); injected for tests.
	Now func() time.Time
	// Log receives the store's operational messages (default: discarded).
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Readers == 0 {
		c.Readers = 4
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 64 << 20
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 30 * time.Second
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Path == "":
		return errors.New("store: path is required")
	case strings.ContainsAny(c.Path, "?#"):
		return fmt.Errorf("store: path %q must not contain ? or #", c.Path)
	case c.Retention < 0:
		return fmt.Errorf("store: retention must not be negative, got %v", c.Retention)
	case c.Retention < 24*time.Hour:
		return fmt.Errorf("store: retention %v is shorter than a day; investigation logs must be kept 12 months", c.Retention)
	case c.MaxBytes < 0:
		return fmt.Errorf("store: max bytes must not be negative, got %d", c.MaxBytes)
	case c.MaxBytes > 0 && c.MaxBytes < 1<<20:
		return fmt.Errorf("store: max bytes %d is below 1 MiB", c.MaxBytes)
	case c.Readers < 1 || c.Readers > 64:
		return fmt.Errorf("store: readers must be between 1 and 64, got %d", c.Readers)
	case c.CacheBytes < 1<<20:
		return fmt.Errorf("store: cache bytes %d is below 1 MiB", c.CacheBytes)
	case c.QueryTimeout < 0:
		return fmt.Errorf("store: query timeout must not be negative, got %v", c.QueryTimeout)
	case c.BusyTimeout < 0:
		return fmt.Errorf("store: busy timeout must not be negative, got %v", c.BusyTimeout)
	}
	return nil
}

// Store is the embedded SQLite store.
type Store struct {
	cfg Config
	w   *sql.DB // one connection: every write
	r   *sql.DB // read-only pool
	t   *sql.DB // one connection: the text file's writer (text.go)
	ck  *sql.DB // one connection: checkpoints, beside the writers
	log *slog.Logger

	// textMu serialises WriteEvents and the text work of Prune whole, text
	// included; it guards seq, the highest seq given to an event, and
	// textBehind, set when events were stored without their text.
	textMu     sync.Mutex
	seq        int64
	textBehind bool

	// compactMu serialises compaction, which keeps its progress in the
	// state table (compact.go).
	compactMu sync.Mutex

	// kick asks the checkpointer for a checkpoint after a commit; stop
	// ends it and ckDone is closed when it has.
	kick   chan struct{}
	stop   context.CancelFunc
	ckDone chan struct{}

	insIDs, findID, insBlock, insData, insFTS *sql.Stmt
}

// Open opens or creates the database at cfg.Path and applies pending schema
// migrations in one transaction.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	w, err := openDB(cfg, modeWrite)
	if err != nil {
		return nil, err
	}
	if _, err := migrate(ctx, w, SchemaVersion(), cfg.Now()); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrating %s: %w", cfg.Path, err)
	}
	s := &Store{cfg: cfg, w: w, log: cfg.Log}
	indexed, err := s.openText(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.seq, err = s.topSeq(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.seq = max(s.seq, indexed)
	if err := s.convertRows(ctx); err != nil {
		s.Close()
		return nil, err
	}
	top, err := s.catchUpText(ctx, indexed)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.seq = max(s.seq, top)
	if s.r, err = openDB(cfg, modeRead); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := w.ExecContext(ctx, `PRAGMA optimize=0x10002`); err != nil {
		s.Close()
		return nil, fmt.Errorf("optimizing %s: %w", cfg.Path, err)
	}
	if s.ck, err = openDB(cfg, modeCheckpoint); err != nil {
		s.Close()
		return nil, err
	}
	cctx, stop := context.WithCancel(context.Background())
	s.kick, s.stop, s.ckDone = make(chan struct{}, 1), stop, make(chan struct{})
	go s.checkpointer(cctx)
	return s, nil
}

// checkpointer copies committed pages from the write-ahead log into the
// database after commits, on its own connection, so that the writer spends
// its time on writes: a checkpoint of a batch costs about a tenth of
// writing it. A passive checkpoint never blocks the writer or readers. It
// runs until stop.
func (s *Store) checkpointer(ctx context.Context) {
	defer close(s.ckDone)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		if _, err := s.ck.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && ctx.Err() == nil {
			s.log.Warn("store checkpoint failed", "err", err)
		}
	}
}

// kickCheckpoint asks the checkpointer for a checkpoint.
func (s *Store) kickCheckpoint() {
	select {
	case s.kick <- struct{}{}:
	default: // one is already asked for
	}
}

// Connection modes of openDB.
const (
	modeWrite      = iota // the writer: one connection
	modeRead              // the read-only pool, with the text file attached
	modeCheckpoint        // the checkpointer: one connection that writes nothing, with the text file attached
)

// walBackstop is the size of the write-ahead log, in pages, from which the
// writer checkpoints after its commits itself: the log is folded back and
// restarted only when a checkpoint has caught up with the writer, which the
// checkpointer alone may not do while writes follow each other closely.
const walBackstop = 8192

// openDB opens a connection or pool of the given mode.
func openDB(cfg Config, mode int) (*sql.DB, error) {
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	cache := cfg.CacheBytes
	if mode != modeWrite {
		cache /= 4
	}
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()),
		"synchronous(NORMAL)", // the bus is the durability point: see the package doc
		fmt.Sprintf("cache_size(%d)", -cache/1024),
		"temp_store(MEMORY)",
		"foreign_keys(OFF)",
	}
	switch mode {
	case modeRead:
		// Readers map the file: a scan then reads pages without a system
		// call each (2.5 times faster in BenchmarkEventsFirstPage).
		pragmas = append(pragmas, "query_only(1)", fmt.Sprintf("mmap_size(%d)", readerMmap))
	case modeWrite:
		// auto_vacuum takes effect only on a new, empty database: it must come
		// before journal_mode and before the first table.
		pragmas = append([]string{"auto_vacuum(INCREMENTAL)", "journal_mode(WAL)",
			fmt.Sprintf("wal_autocheckpoint(%d)", walBackstop), "journal_size_limit(67108864)"}, pragmas...)
	}
	dsn := "file:" + abs + "?_txlock=immediate"
	for _, p := range pragmas {
		dsn += "&_pragma=" + p
	}
	c := connector{dsn: dsn}
	switch mode {
	case modeRead:
		c.setup = attachText(abs, cache/1024, readerMmap)
	case modeCheckpoint:
		c.setup = attachText(abs, cache/1024, 0)
	}
	db := sql.OpenDB(c)
	if mode == modeRead {
		db.SetMaxOpenConns(cfg.Readers)
		db.SetMaxIdleConns(cfg.Readers)
	} else {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	}
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening store %s: %w", cfg.Path, err)
	}
	return db, nil
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	if s.insIDs, err = s.w.PrepareContext(ctx, rowsSQL(insertIDsSQL, insertIDRow, "", insertChunk)); err != nil {
		return fmt.Errorf("preparing event insert: %w", err)
	}
	if s.findID, err = s.w.PrepareContext(ctx, findIDSQL); err != nil {
		return fmt.Errorf("preparing event insert: %w", err)
	}
	if s.insBlock, err = s.w.PrepareContext(ctx, insertBlockSQL); err != nil {
		return fmt.Errorf("preparing event insert: %w", err)
	}
	if s.insData, err = s.w.PrepareContext(ctx, insertDataSQL); err != nil {
		return fmt.Errorf("preparing event insert: %w", err)
	}
	if s.insFTS, err = s.t.PrepareContext(ctx, insertFTSSQL); err != nil {
		return fmt.Errorf("preparing full-text insert: %w", err)
	}
	return nil
}

// Close closes the database. Calls in flight may fail.
func (s *Store) Close() error {
	var errs []error
	if s.stop != nil {
		s.stop()
		<-s.ckDone
	}
	if s.ck != nil {
		errs = append(errs, s.ck.Close())
	}
	for _, st := range []*sql.Stmt{s.insIDs, s.findID, s.insBlock, s.insData, s.insFTS} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	for _, db := range []*sql.DB{s.t, s.w} {
		if db == nil {
			continue
		}
		// Fold the WAL back into the database so that the file stands alone.
		if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, db.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing store: %w", err)
	}
	return nil
}

// Sync makes every committed write durable against power loss: it
// checkpoints the write-ahead log, which syncs it to disk first. A consumer
// of the bus calls it before acknowledging what it wrote.
func (s *Store) Sync(ctx context.Context) error {
	if _, err := s.ck.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		return fmt.Errorf("syncing store: %w", err)
	}
	return nil
}

// write runs fn in one write transaction.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.kickCheckpoint()
	return nil
}

// nanos is t as Unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func limit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

// Page is one page of a listing, newest first. Next is the cursor of the
// following page, empty on the last.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}
