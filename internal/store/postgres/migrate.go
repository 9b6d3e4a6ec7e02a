package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/drover-run/drover/internal/store"
)

// The migrations are NNNN_name.sql files, applied in order, each in its own
// transaction (PostgreSQL's DDL is transactional, so a failed migration leaves
// nothing half done). A migration, once released, is never edited: a change
// is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations reads the embedded files, sorted by version.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number", f)
		}
		sql, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(sql)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate brings the schema up to date. Several servers may start at once
// against one database: each takes a session-level advisory lock on one
// connection it holds for the whole migration, so they migrate one after the
// other and the later ones find nothing left to do. The lock is keyed on the
// search_path, so stores in different schemas (parallel tests) do not wait on
// each other.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return translate(err)
	}
	defer conn.Release()

	const lockKey = `hashtextextended('drover.migrate:' || current_setting('search_path'), 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`); err != nil {
		return translate(err)
	}
	defer func() {
		// Unlock even when ctx is done; if that fails, close the session,
		// which releases its locks, rather than return a locked connection
		// to the pool.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+lockKey+`)`); err != nil {
			conn.Conn().Close(uctx)
		}
	}()

	if schema != "" {
		// Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can race.
		if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return translate(err)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return translate(err)
	}
	if _, err := schemaStatus(ctx, conn.Conn(), ms, true); err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if err := apply(ctx, conn.Conn(), m); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

// appliedVersions reads which migrations the database has. A server that
// runs keeps running when a newer one migrates the schema during a rolling
// upgrade; one that starts on a schema newer than it knows refuses to
// (schemaStatus).
func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, translate(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, translate(err)
	}
	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}

// apply runs one migration and records it, in one transaction.
func apply(ctx context.Context, conn *pgx.Conn, m migration) error {
	return translate(pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// No arguments: pgx sends the file with the simple protocol, which
		// allows several statements in one string.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
		return err
	}))
}

// schemaStatus reads what the database has applied beside what this binary
// knows. With refuseNewer, a migration the binary does not know is a
// *store.SchemaTooNewError.
func schemaStatus(ctx context.Context, conn *pgx.Conn, ms []migration, refuseNewer bool) ([]store.Migration, error) {
	rows, err := conn.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, translate(err)
	}
	applied := map[int]store.Migration{}
	for rows.Next() {
		var v int32
		var m store.Migration
		if err := rows.Scan(&v, &m.Name, &m.Applied); err != nil {
			rows.Close()
			return nil, translate(err)
		}
		m.Version, m.Applied = int(v), m.Applied.UTC()
		applied[m.Version] = m
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	all, unknown := store.MergeMigrations(knownOf(ms), applied)
	if refuseNewer && len(unknown) > 0 {
		return nil, &store.SchemaTooNewError{Unknown: unknown}
	}
	return all, nil
}

// SchemaStatus reports the migrations of the database at url (in schema,
// if not empty) without changing it (`drover migrate status`).
func SchemaStatus(ctx context.Context, url, schema string) ([]store.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", translate(err))
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", translate(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, translate(err)
	}
	if !exists {
		all, _ := store.MergeMigrations(knownOf(ms), nil)
		return all, nil
	}
	return schemaStatus(ctx, conn, ms, false)
}

func knownOf(ms []migration) []store.Migration {
	known := make([]store.Migration, len(ms))
	for i, m := range ms {
		known[i] = store.Migration{Version: m.version, Name: m.name}
	}
	return known
}

// Schema is the database's migrations as of opening (after migrating).
func (s *Store) Schema() []store.Migration { return s.schema }

// readSchema is schemaStatus on a connection of pool.
func readSchema(ctx context.Context, pool *pgxpool.Pool) ([]store.Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, translate(err)
	}
	defer conn.Release()
	return schemaStatus(ctx, conn.Conn(), ms, false)
}
