package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change, migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, path := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		num, _, _ := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("sqlite: migration %s: name must start with a positive number", path)
		}
		body, err := fs.ReadFile(fsys, path)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlite: migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies, in order, each embedded migration the database has not
// recorded in schema_migrations, each in its own transaction with its record.
// The writer's BEGIN IMMEDIATE serializes two processes opening the same
// file: the second sees the first's record and skips.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	if _, err := schemaStatus(ctx, db, ms, true); err != nil {
		return err
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var applied int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&applied); err != nil {
		return err
	}
	if applied > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}

// schemaStatus reads what the database has applied beside what this binary
// knows. With refuseNewer, a migration the binary does not know is a
// *store.SchemaTooNewError: a newer drover changed this database.
func schemaStatus(ctx context.Context, db *sql.DB, ms []migration, refuseNewer bool) ([]store.Migration, error) {
	rows, err := db.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]store.Migration{}
	for rows.Next() {
		var m store.Migration
		var at int64
		if err := rows.Scan(&m.Version, &m.Name, &at); err != nil {
			return nil, err
		}
		m.Applied = time.UnixMicro(at).UTC()
		applied[m.Version] = m
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	known := make([]store.Migration, len(ms))
	for i, m := range ms {
		known[i] = store.Migration{Version: m.version, Name: m.name}
	}
	all, unknown := store.MergeMigrations(known, applied)
	if refuseNewer && len(unknown) > 0 {
		return nil, &store.SchemaTooNewError{Unknown: unknown}
	}
	return all, nil
}

// SchemaStatus reports the migrations of the database at dsnOrPath without
// changing it (`drover migrate status`): a database not created yet has
// every migration pending.
func SchemaStatus(ctx context.Context, dsnOrPath string) ([]store.Migration, error) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	path, err := filePath(dsnOrPath)
	if err != nil {
		return nil, err
	}
	known := make([]store.Migration, len(ms))
	for i, m := range ms {
		known[i] = store.Migration{Version: m.version, Name: m.name, Known: true}
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return known, nil
	}
	db, err := openPlain(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if n == 0 {
		return known, nil
	}
	return schemaStatus(ctx, db, ms, false)
}

// Schema is the database's migrations as of opening (after migrating).
func (s *Store) Schema() []store.Migration { return s.schema }
