// Package postgres is the PostgreSQL backend of store.Store, built on pgx and
// pgxpool. It is the backend for clusters: any number of servers may share one
// database, because every decision that must be unique is taken by the
// database in one statement.
//
// How it keeps the store contract:
//
//   - Leasing is one statement: a SELECT … FOR UPDATE SKIP LOCKED of the
//     eligible pending tasks in lease order, feeding an UPDATE that makes them
//     running. Placement (queues, task types, pin, resources, platform, role,
//     labels) is part of that SELECT, so two servers never lease the same task
//     and never lease a task to a worker that cannot run it.
//   - Every write about a running task is fenced: it applies only WHERE the
//     task is running with the same lease_epoch and lease_owner.
//   - A zero Now in the params means the database clock: coalesce($n, now()).
//     Deadlines are then computed by the one clock all servers share
//     (docs/guarantees.md, G9), never by a server's own.
//   - Batches are one statement over unnest() arrays, so one call is one round
//     trip on the hot paths (insert, lease, finish, heartbeat).
//   - Times are timestamptz, so they carry microsecond precision; durations
//     are intervals. Values read back are in UTC.
//   - pgx errors are translated at the edge (see errors.go): no pgx type leaves
//     the package.
//
// The schema is created by the embedded migrations in migrations/, run by
// Open under an advisory lock, so several servers may start at once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/drover-run/drover/internal/store"
)

var _ store.Store = (*Store)(nil)

// Options tune the store. The zero value is ready to use.
type Options struct {
	// Schema, if set, is the schema the store keeps its tables in: it becomes
	// every connection's search_path and Open creates it if it is missing.
	// Empty (the default) uses the URL's search_path, usually "public".
	Schema string
	// MaxConns caps the connection pool. Zero (the default) takes pgxpool's
	// default, or the URL's pool_max_conns.
	MaxConns int32
	// Logger receives what the store does on its own (the work listener
	// reconnecting). Default: discard.
	Logger *slog.Logger
}

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	pool   *pgxpool.Pool
	log    *slog.Logger
	schema []store.Migration // as of Open, after migrating

	// Cross-server wake-ups (notify.go).
	listenConfig *pgx.ConnConfig // the pool's connection settings, for the listener's own connection
	channel      string          // the schema's work channel
	origin       string          // this store in its notifications' payload
}

// Open connects to the database at url (postgres://…, or a key=value DSN),
// brings its schema up to date and returns the store.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The message may quote the URL; pgx redacts the password in it.
		return nil, fmt.Errorf("postgres: parse url: %w", translate(err))
	}
	if opts.Schema != "" {
		// A startup parameter, not a SET after connecting: it holds on every
		// connection from the first statement, and survives DISCARD ALL.
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", translate(err))
	}
	if err := migrate(ctx, pool, opts.Schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", translate(err))
	}
	applied, err := readSchema(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{
		pool:         pool,
		log:          opts.Logger,
		listenConfig: cfg.ConnConfig.Copy(),
		channel:      workChannel(schema),
		origin:       newOrigin(),
		schema:       applied,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Named so an operator (or a test) can tell it in pg_stat_activity.
	s.listenConfig.RuntimeParams["application_name"] = "drover listener " + s.origin
	return s, nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return translate(s.pool.Ping(ctx))
}

// Close waits for every connection in use to be released, then closes them
// all. Every write has committed by the time its method returned, so there is
// nothing to flush.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// exec runs a statement that returns no rows and reports how many it changed.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}

// errNoRows reports whether err is pgx's "no rows"; the caller decides what
// an empty answer means.
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
