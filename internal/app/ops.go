package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/postgres"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// Day-2 operations on a store named by a --store value: backup, restore,
// migrations. They open the database themselves, beside (backup, status)
// or instead of (restore, up) a running server.

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// errPostgresTools says where PostgreSQL's own tools take over.
var errPostgresTools = errors.New("a PostgreSQL store is backed up and restored with PostgreSQL's tools: " +
	"pg_dump -Fc -f drover.dump \"$DROVER_STORE\", and pg_restore --clean -d \"$DROVER_STORE\" drover.dump (docs/deploy.md, Backup and restore)")

// Backup writes a consistent copy of the SQLite store at url to dest while
// a server may be running on it.
func Backup(ctx context.Context, url, dest string) error {
	if isPostgres(url) {
		return errPostgresTools
	}
	return sqlite.BackupFile(ctx, url, dest)
}

// Restore replaces the SQLite store at url with the backup src; no server
// may be running on it.
func Restore(ctx context.Context, src, url string) error {
	if isPostgres(url) {
		return errPostgresTools
	}
	return sqlite.Restore(ctx, src, url)
}

// MigrateStatus lists the store's migrations, applied or pending, without
// changing it.
func MigrateStatus(ctx context.Context, url string) ([]store.Migration, error) {
	if isPostgres(url) {
		return postgres.SchemaStatus(ctx, url, schemaOf(url))
	}
	return sqlite.SchemaStatus(ctx, url)
}

// MigrateUp applies the pending migrations (as a server does at start) and
// returns the store's migrations after.
func MigrateUp(ctx context.Context, url, sync string) ([]store.Migration, error) {
	st, err := OpenStore(ctx, url, sync, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	s, ok := st.(schemaReporter)
	if !ok {
		return nil, fmt.Errorf("store %T does not report its schema", st)
	}
	return s.Schema(), nil
}

// schemaReporter is a store that knows its migrations as of opening.
type schemaReporter interface{ Schema() []store.Migration }

// schemaVersion is what /health reports of st's schema.
func schemaVersion(st store.Store) int {
	if s, ok := st.(schemaReporter); ok {
		return store.SchemaVersion(s.Schema())
	}
	return 0
}
