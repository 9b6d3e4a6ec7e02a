package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/drover-run/drover/internal/store"
)

var _ store.Backuper = (*Store)(nil)

// Backup copies the database to p.Dest with VACUUM INTO: one read
// transaction, so the copy is the database as of one moment, WAL included
// (copying drover.db alone loses what the WAL still holds), while the
// committer keeps writing. The copy is compact and has no WAL of its own.
func (s *Store) Backup(ctx context.Context, p *store.BackupParams) error {
	return vacuumInto(ctx, s.read, p.Dest)
}

// BackupFile copies the database at src (a path or sqlite:// URL) to dest
// without opening it as a store: no migration, no lock, so it runs beside
// the server that owns the file (`drover backup`).
func BackupFile(ctx context.Context, src, dest string) error {
	path, err := filePath(src)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	db, err := openPlain(path)
	if err != nil {
		return err
	}
	defer db.Close()
	return vacuumInto(ctx, db, dest)
}

// openPlain opens path for reading without the store's pragmas (which
// would set the journal mode of a backup being checked).
func openPlain(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func vacuumInto(ctx context.Context, db *sql.DB, dest string) error {
	if dest == "" {
		return errors.New("sqlite: backup: no destination file")
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("sqlite: backup: %s already exists", dest)
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return err
	}
	// A connection of the read pool is query_only, which refuses even the
	// new file VACUUM INTO writes: lift it on this connection for the copy.
	conn, err := db.Conn(ctx)
	if err != nil {
		return interpretError(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		return interpretError(err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only = 1`) //nolint:errcheck // back to the pool's setting
	if _, err := conn.ExecContext(ctx, `VACUUM INTO $1`, abs); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	return nil
}

// Restore replaces the database at dst (a path or sqlite:// URL) with the
// backup src, which it checks first (a SQLite file that passes
// quick_check and has Drover's schema). It refuses while a server holds
// dst; the old file is kept as dst + ".before-restore".
func Restore(ctx context.Context, src, dst string) error {
	path, err := filePath(dst)
	if err != nil {
		return err
	}
	lock, err := lockFile(path)
	if err != nil {
		return err
	}
	if lock != nil {
		defer lock.Close()
	}
	if err := checkBackup(ctx, src); err != nil {
		return err
	}
	tmp := path + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		// The old database, with its WAL folded in by whoever opens it.
		if err := os.Rename(path, path+".before-restore"); err != nil {
			return fmt.Errorf("sqlite: restore: %w", err)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Rename(path+suffix, path+".before-restore"+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("sqlite: restore: %w", err)
			}
		}
	}
	return os.Rename(tmp, path)
}

func checkBackup(ctx context.Context, src string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	db, err := openPlain(src)
	if err != nil {
		return err
	}
	defer db.Close()
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&ok); err != nil || ok != "ok" {
		return fmt.Errorf("sqlite: restore: %s is not a sound SQLite database (quick_check: %v %s)", src, err, ok)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		return fmt.Errorf("sqlite: restore: %s is not a Drover database (no schema_migrations)", src)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
