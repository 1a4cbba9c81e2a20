package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/danang-soc/vigil/event"
	"modernc.org/sqlite"
)

// The full-text index of event text (message and db.statement) is an FTS5
// table in a database file of its own, TextPath(Path), attached to every
// reader as the schema "text". A row of it is the text of one block of
// events (blocks.go), its rowid the block's first seq. Its own connection
// writes it, beside the writer of the events, on another core.
// WriteEvents returns once both have committed, so a search sees the text
// of every event written before.
//
// The two files commit one after the other, not as one: a crash in
// between leaves the index behind the events or ahead of them. The index
// records the highest event seq it holds (text_state.indexed); Open indexes
// the blocks after it from their stored documents, and the writer never
// gives an event a seq at or below it, so text indexed for a block whose
// own commit was lost never names another block. Searches read blocks by
// their first seq, so such text matches nothing.

// TextPath is the file of the full-text index of the store at path.
func TextPath(path string) string { return path + "-text" }

// textSchema is the schema of the text file; creating it is idempotent.
const textSchema = `
DROP TABLE IF EXISTS events_fts; -- the index of schema 7, one row per event
CREATE VIRTUAL TABLE IF NOT EXISTS blocks_fts USING fts5 (message, statement, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS text_state (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	pair    BLOB    NOT NULL,
	indexed INTEGER NOT NULL
);
`

// textPairKey is the key in the state table under which the events file
// keeps the pair id of its text file: a text file left from another
// database is rebuilt, not trusted.
const textPairKey = "store/text-pair"

const (
	insertFTSSQL = `INSERT INTO blocks_fts (rowid, message, statement)
		SELECT value ->> 0, value ->> 1, value ->> 2 FROM jsonb_each(?)`
	deleteFTSSQL   = `DELETE FROM blocks_fts WHERE rowid IN (SELECT value FROM json_each(?))`
	textIndexedSQL = `UPDATE text_state SET indexed = max(indexed, ?)`
)

// openText opens the text file and pairs it with the events file: it
// returns the highest seq the index holds.
func (s *Store) openText(ctx context.Context) (indexed int64, err error) {
	tcfg := s.cfg
	tcfg.Path = TextPath(s.cfg.Path)
	if s.t, err = openDB(tcfg, modeWrite); err != nil {
		return 0, err
	}
	var pair []byte
	err = s.w.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, textPairKey).Scan(&pair)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("reading the text index pair: %w", err)
	}
	tx, err := s.t.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("opening the text index: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, textSchema); err != nil {
		return 0, fmt.Errorf("creating the text index: %w", err)
	}
	var tpair []byte
	err = tx.QueryRowContext(ctx, `SELECT pair, indexed FROM text_state`).Scan(&tpair, &indexed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("reading the text index state: %w", err)
	}
	if pair == nil || string(pair) != string(tpair) {
		// A new store, one from before the text file (migration 7 dropped
		// its index), or a text file of another database: index everything
		// again from the documents.
		if err == nil {
			s.log.Warn("rebuilding the full-text index", "path", TextPath(s.cfg.Path))
		}
		pair = make([]byte, 16)
		rand.Read(pair)
		indexed = 0
		for _, q := range []string{`DROP TABLE IF EXISTS events_fts`, `DROP TABLE IF EXISTS blocks_fts`, `DELETE FROM text_state`, textSchema} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return 0, fmt.Errorf("rebuilding the text index: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO text_state (one, pair, indexed) VALUES (1, ?, 0)`, pair); err != nil {
			return 0, fmt.Errorf("rebuilding the text index: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("rebuilding the text index: %w", err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO state (key, value, updated) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
			textPairKey, pair, nanos(s.cfg.Now())); err != nil {
			return 0, fmt.Errorf("pairing the text index: %w", err)
		}
		return 0, nil
	}
	return indexed, tx.Commit()
}

// catchUpText indexes the text of the stored blocks after seq from, from
// their documents, and returns the highest seq of the store or from,
// whichever is higher.
func (s *Store) catchUpText(ctx context.Context, from int64) (int64, error) {
	const page = 100 // blocks
	for logged := false; ; {
		rows, err := s.w.QueryContext(ctx, `SELECT b.first_seq, last_seq, data FROM event_blocks b CROSS JOIN event_block_data d ON d.first_seq = b.first_seq
			WHERE b.first_seq > ? ORDER BY b.first_seq LIMIT ?`, from, page)
		if err != nil {
			return from, fmt.Errorf("indexing stored text: %w", err)
		}
		var text, buf []byte
		n := 0
		last := from
		for rows.Next() {
			var first int64
			var data []byte
			if err := rows.Scan(&first, &last, &data); err != nil {
				rows.Close()
				return from, fmt.Errorf("indexing stored text: %w", err)
			}
			n++
			var evs []blockEvent
			if evs, buf, err = decodeBlock(first, data, buf); err == nil {
				text, err = blockText(text, first, evs)
			}
			if err != nil {
				rows.Close()
				return from, fmt.Errorf("indexing stored text: %w", err)
			}
		}
		if err := rows.Close(); err != nil {
			return from, fmt.Errorf("indexing stored text: %w", err)
		}
		if n == 0 {
			return from, nil
		}
		if n == page && !logged {
			logged = true
			s.log.Info("indexing the text of stored events", "after_seq", from, "path", TextPath(s.cfg.Path))
		}
		if err := s.writeText(ctx, textBatch{texts: [][]byte{closeText(text)}, upTo: last}); err != nil {
			return from, fmt.Errorf("indexing stored text: %w", err)
		}
		from = last
		if n < page {
			return from, nil
		}
	}
}

// textBatch is what one transaction of the text file does: index texts
// (JSON arrays of [seq, message, statement]), delete the text of events
// (a JSON array of seqs), and record that the index holds every event up
// to seq upTo.
type textBatch struct {
	texts  [][]byte
	delete []byte
	upTo   int64
}

// ftsBytes bounds the text one full-text statement indexes.
const ftsBytes = 4 << 20

// textWork is text to index: a JSON array built by appendText and closed
// by closeText.
type textWork struct {
	text []byte
}

// writeText runs one textBatch.
func (s *Store) writeText(ctx context.Context, b textBatch) error {
	work := make(chan textWork, len(b.texts))
	for _, t := range b.texts {
		if t != nil {
			work <- textWork{text: t}
		}
	}
	close(work)
	commit := make(chan bool, 1)
	commit <- true
	return s.indexText(ctx, work, commit, b.delete, b.upTo)
}

// errTextAborted is the error of a text transaction that its events
// transaction told to roll back.
var errTextAborted = errors.New("indexing text: aborted")

// indexText indexes the text it receives until the channel is closed,
// deletes the text of the events in del (a JSON array of seqs, or nil),
// and, if commit says so, records upTo and commits. It drains work even
// when it fails.
func (s *Store) indexText(ctx context.Context, work <-chan textWork, commit <-chan bool, del []byte, upTo int64) (err error) {
	defer func() {
		for range work {
		}
	}()
	tx, err := s.t.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("indexing text: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	ins := tx.StmtContext(ctx, s.insFTS)
	exec := func(text []byte) error {
		if len(text) == 0 {
			return nil
		}
		if _, err := ins.ExecContext(ctx, string(closeText(text))); err != nil {
			return fmt.Errorf("indexing text: %w", err)
		}
		return nil
	}
	if del != nil {
		// Before the inserts: a block rewritten by Prune deletes and
		// inserts the same rowid.
		if _, err := tx.ExecContext(ctx, deleteFTSSQL, string(del)); err != nil {
			return fmt.Errorf("deleting indexed text: %w", err)
		}
	}
	// The text goes to FTS5 in as few statements as memory allows: FTS5
	// writes one new segment per statement, and many small segments cost
	// merges.
	text := make([]byte, 0, 64<<10)
	for w := range work {
		if len(text)+len(w.text) > ftsBytes && len(text) > 0 {
			if err := exec(text); err != nil {
				return err
			}
			text = text[:0]
		}
		if len(w.text) > 2 {
			if len(text) == 0 {
				text = append(text, '[')
			}
			text = append(text, w.text[1:len(w.text)-1]...) // the rows, without the brackets
			text = append(text, ',')
		}
	}
	if err := exec(text); err != nil {
		return err
	}
	if !<-commit {
		return errTextAborted
	}
	if upTo > 0 {
		if _, err := tx.ExecContext(ctx, textIndexedSQL, upTo); err != nil {
			return fmt.Errorf("indexing text: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("indexing text: %w", err)
	}
	s.kickCheckpoint()
	return nil
}

// repairText indexes the text of the events that a failed text
// transaction left out.
func (s *Store) repairText(ctx context.Context) error {
	var indexed int64
	if err := s.t.QueryRowContext(ctx, `SELECT indexed FROM text_state`).Scan(&indexed); err != nil {
		return fmt.Errorf("reading the text index state: %w", err)
	}
	if _, err := s.catchUpText(ctx, indexed); err != nil {
		return err
	}
	s.textBehind = false
	return nil
}

// appendText appends the [rowid, message, statement] of a block to a JSON
// array that is being built (text ends with '[' or ','), and returns text
// unchanged for a block without text.
func appendText(text []byte, rowid int64, msg, stmt string) []byte {
	if msg == "" && stmt == "" {
		return text
	}
	if len(text) == 0 {
		text = append(text, '[')
	}
	text = append(text, '[')
	text = strconv.AppendInt(text, rowid, 10)
	text = append(text, ',')
	text = event.AppendString(text, msg)
	text = append(text, ',')
	text = event.AppendString(text, stmt)
	return append(text, "],"...)
}

// closeText ends a JSON array built by appendText, or returns nil for an
// empty one.
func closeText(text []byte) []byte {
	if len(text) == 0 {
		return nil
	}
	text[len(text)-1] = ']' // over the last comma
	return text
}

// sqliteDriver opens the connections of every pool.
var sqliteDriver = &sqlite.Driver{}

// connector opens connections that run setup statements first, such as
// attaching the text file.
type connector struct {
	dsn   string
	setup []string
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := sqliteDriver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	for _, q := range c.setup {
		if _, err := conn.(driver.ExecerContext).ExecContext(ctx, q, nil); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

func (c connector) Driver() driver.Driver { return sqliteDriver }

// attachText returns the statements that attach the text file of the
// store at abs (an absolute path) as the schema "text".
func attachText(abs string, cacheKiB, mmap int64) []string {
	q := []string{
		"ATTACH DATABASE '" + strings.ReplaceAll("file:"+TextPath(abs), "'", "''") + "' AS text",
		fmt.Sprintf("PRAGMA text.cache_size=%d", -cacheKiB),
	}
	if mmap > 0 {
		q = append(q, fmt.Sprintf("PRAGMA text.mmap_size=%d", mmap))
	}
	return q
}
