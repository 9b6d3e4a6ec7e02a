package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/internal/app"
)

// storeFlag adds --store as drover server has it (and DROVER_STORE).
func storeFlag(cmd *cobra.Command, url *string) {
	cmd.Flags().StringVar(url, "store", app.DefaultStore, "the server's store: sqlite:///path/drover.db or postgres://… (default: $DROVER_STORE, then "+app.DefaultStore+")")
}

func newBackupCommand(m *meta) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the SQLite store to FILE, consistently, while the server runs",
		Long: `Copy the SQLite store to FILE while the server keeps running: one
consistent moment of the database (what the WAL holds included, which a
copy of drover.db alone would lose), every task acknowledged before it
began is in it. FILE must not exist. Restore it with drover restore.

A PostgreSQL store is backed up with pg_dump (docs/deploy.md).`,
		Example: `  drover backup drover-$(date +%F).db
  drover backup --store sqlite:///var/lib/drover/drover.db /backups/drover.db`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return usageErrorf("%v", err)
			}
			if err := app.Backup(cmd.Context(), url, args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(m.out, "Backed up %s to %s\n", url, args[0])
			return err
		},
	}
	storeFlag(cmd, &url)
	return cmd
}

func newRestoreCommand(m *meta) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the SQLite store with a backup (the server stopped)",
		Long: `Replace the SQLite store with FILE, a backup made by drover backup. The
server must be stopped (restore refuses while one holds the store); the
database it replaces is kept beside it as drover.db.before-restore. Start
the server again afterwards: it migrates the backup if it is older.

A PostgreSQL store is restored with pg_restore (docs/deploy.md).`,
		Example: `  drover restore /backups/drover.db --store sqlite:///var/lib/drover/drover.db`,
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return usageErrorf("%v", err)
			}
			if err := app.Restore(cmd.Context(), args[0], url); err != nil {
				return err
			}
			_, err := fmt.Fprintf(m.out, "Restored %s from %s\n", url, args[0])
			return err
		},
	}
	storeFlag(cmd, &url)
	return cmd
}
