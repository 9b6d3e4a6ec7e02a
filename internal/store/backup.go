package store

import "context"

// Backuper is a store that can copy itself while it serves: SQLite does
// (VACUUM INTO); PostgreSQL is backed up with its own tools (pg_dump).
type Backuper interface {
	// Backup writes a consistent copy of the whole database, as of one
	// moment (every write committed before the call began is in it), to
	// the new file p.Dest. It does not stop writers.
	Backup(ctx context.Context, p *BackupParams) error
}

// BackupParams are Backup's.
type BackupParams struct {
	Dest string // a file that must not exist yet
}
