// Package sqlite is the SQLite backend of store.Store, built on the pure-Go
// driver modernc.org/sqlite (no cgo), so a Drover server is one static binary
// and one database file.
//
// # Connections
//
// The database runs in WAL mode. All writes go through one connection (a
// *sql.DB with MaxOpenConns=1, every transaction BEGIN IMMEDIATE), so writers
// never meet SQLITE_BUSY among themselves; reads use a separate pool of
// query-only connections that WAL lets run beside the writer.
//
// # Group commit
//
// A single committer goroutine owns the writer connection. Write calls queue
// a request and wait; the committer takes every request waiting, runs them in
// one transaction, each inside its own savepoint so that one failing request
// rolls back alone, commits once and then answers each caller. Under
// concurrent load this turns many small commits into few large ones, which is
// where SQLite's write throughput lies. A call returns only after the commit
// that holds its write: a nil error means committed.
//
// # Durability
//
// Options.Synchronous chooses it. The default, NORMAL, makes every
// acknowledged write survive a crash of the process (kill -9) but not
// necessarily a power loss or OS crash; FULL survives those too, at a few
// times the cost of a commit.
//
// # Schema
//
// Times are integer unix microseconds (0 for unset), lists and maps JSON text.
// Migrations are embedded SQL files applied at Open (see migrate.go). Pending
// tasks are indexed by partial indexes in the order the lease query reads
// them, so leasing from a backlog of a million tasks reads only the rows it
// takes.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/drover-run/drover/internal/store"
)

var _ store.Store = (*Store)(nil)

// Options tunes a Store. The zero value is the production default.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "NORMAL" (default) is
	// durable across process crashes, "FULL" across power loss too.
	Synchronous string
	// BusyTimeout is how long a connection waits on a lock held by another
	// process before failing (default 5s). Within one process the single
	// writer never waits on itself.
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool (default 4).
	ReadConns int
	// WriteCacheMB bounds the writer's page cache (default 32); ReadCacheMB
	// bounds each reader's (default 8). They cap the memory the database
	// takes, whatever its size.
	WriteCacheMB int
	ReadCacheMB  int
	// MaxBatch is the most write calls the committer runs in one transaction
	// (default 256). 1 turns group commit off: one transaction per call.
	MaxBatch int
	// Exclusive holds a lock on the database for as long as the store is
	// open, refusing a second Exclusive opener: what a server asks for.
	Exclusive bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Synchronous == "" {
		o.Synchronous = "NORMAL"
	}
	switch s := strings.ToUpper(o.Synchronous); s {
	case "OFF", "NORMAL", "FULL", "EXTRA":
		o.Synchronous = s
	default:
		return o, fmt.Errorf("sqlite: synchronous %q is not one of OFF, NORMAL, FULL, EXTRA", o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.WriteCacheMB <= 0 {
		o.WriteCacheMB = 32
	}
	if o.ReadCacheMB <= 0 {
		o.ReadCacheMB = 8
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	return o, nil
}

// Store is a store.Store on one SQLite database file.
type Store struct {
	write     *sql.DB // one connection, used only by the committer
	read      *sql.DB // query-only pool
	committer *committer
	hot       map[string]*sql.Stmt // prepared on write (stmt.go)
	hotRead   map[string]*sql.Stmt // prepared on read (stmt.go)
	lock      *os.File             // Options.Exclusive
	schema    []store.Migration    // as of Open, after migrating
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if need be) the database at dsnOrPath, which is a file
// path or a "sqlite://" URL ("sqlite:///var/lib/drover/drover.db"), and
// migrates it to the current schema.
func Open(ctx context.Context, dsnOrPath string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	path, err := filePath(dsnOrPath)
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}

	var lock *os.File
	if opts.Exclusive {
		if lock, err = lockFile(path); err != nil {
			return nil, err
		}
	}
	s, err := open(ctx, path, opts)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func open(ctx context.Context, path string, opts Options) (*Store, error) {
	write, err := openDB(path, opts, true)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		write.Close()
		return nil, err
	}
	schema, err := schemaStatus(ctx, write, ms, true)
	if err != nil {
		write.Close()
		return nil, err
	}
	read, err := openDB(path, opts, false)
	if err != nil {
		write.Close()
		return nil, err
	}
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: open read pool: %w", err)
	}
	hot, err := prepareHot(ctx, write, hotStatements)
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	hotRead, err := prepareHot(ctx, read, hotReads)
	if err != nil {
		closeStmts(hot)
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return &Store{
		write:     write,
		read:      read,
		hot:       hot,
		hotRead:   hotRead,
		committer: startCommitter(write, opts.MaxBatch),
		schema:    schema,
	}, nil
}

// filePath extracts the database file's path from a path or sqlite:// URL.
func filePath(dsnOrPath string) (string, error) {
	p := dsnOrPath
	if rest, ok := strings.CutPrefix(p, "sqlite:"); ok {
		u, err := url.Parse("sqlite:" + rest)
		if err != nil {
			return "", fmt.Errorf("sqlite: bad store URL %q: %w", dsnOrPath, err)
		}
		p = u.Host + u.Path
		if u.Opaque != "" {
			p = u.Opaque
		}
	}
	if p == "" || strings.ContainsAny(p, "?#") || strings.HasPrefix(p, ":memory:") {
		return "", fmt.Errorf("sqlite: %q is not a database file path", dsnOrPath)
	}
	return p, nil
}

// openDB opens the writer (one connection, immediate transactions) or the
// read pool (query-only) on path, every connection with the same pragmas.
func openDB(path string, opts Options, writer bool) (*sql.DB, error) {
	q := url.Values{}
	cacheMB := opts.ReadCacheMB
	if writer {
		cacheMB = opts.WriteCacheMB
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+opts.Synchronous+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheMB*1024)) // negative: KiB, not pages
	q.Add("_pragma", "temp_store(MEMORY)")

	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if writer {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	} else {
		db.SetMaxOpenConns(opts.ReadConns)
		db.SetMaxIdleConns(opts.ReadConns)
	}
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return interpretError(s.read.PingContext(ctx))
}

// Close waits for queued writes to commit, then closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.committer.stop()
		// A last checkpoint leaves the WAL empty, so the file alone is the database.
		_, _ = s.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		s.closeErr = errors.Join(closeStmts(s.hot), closeStmts(s.hotRead), s.read.Close(), s.write.Close())
		if s.lock != nil {
			s.lock.Close() // after the last write: the next server may start
		}
	})
	return s.closeErr
}
