package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/internal/app"
	"github.com/drover-run/drover/internal/store"
)

func newMigrateCommand(m *meta) *cobra.Command {
	return newGroup("migrate", "Show or apply the store's schema migrations",
		newMigrateStatusCommand(m),
		newMigrateUpCommand(m),
	)
}

// printMigrations shows each migration and whether it is applied; one the
// binary does not know was applied by a newer drover.
func (m *meta) printMigrations(ms []store.Migration) error {
	if m.output == formatJSON {
		type row struct {
			Version   int        `json:"version"`
			Name      string     `json:"name"`
			AppliedAt *time.Time `json:"applied_at"`
			Known     bool       `json:"known"`
		}
		rows := make([]row, len(ms))
		for i, x := range ms {
			rows[i] = row{Version: x.Version, Name: x.Name, Known: x.Known}
			if !x.Applied.IsZero() {
				rows[i].AppliedAt = &x.Applied
			}
		}
		enc := json.NewEncoder(m.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"schema_version": store.SchemaVersion(ms), "migrations": rows})
	}
	w := m.out
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS")
	pending := 0
	for _, x := range ms {
		status := "applied " + x.Applied.Format(time.RFC3339)
		switch {
		case !x.Known:
			status += " (by a newer drover)"
		case x.Applied.IsZero():
			status = "pending"
			pending++
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", x.Version, x.Name, status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nSchema version %d; %d pending.\n", store.SchemaVersion(ms), pending)
	return err
}

func newMigrateStatusCommand(m *meta) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List the store's migrations, applied and pending, changing nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return usageErrorf("%v", err)
			}
			ms, err := app.MigrateStatus(cmd.Context(), url)
			if err != nil {
				return err
			}
			return m.printMigrations(ms)
		},
	}
	storeFlag(cmd, &url)
	return cmd
}

func newMigrateUpCommand(m *meta) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Apply the pending migrations, as a server does when it starts",
		Long: `Apply the pending migrations, as a server does when it starts. On
SQLite the server must be stopped; on PostgreSQL servers may run (the
migration takes a lock, and running servers keep running on the newer
schema). A database migrated by a newer drover is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return usageErrorf("%v", err)
			}
			ms, err := app.MigrateUp(cmd.Context(), url, "NORMAL")
			if err != nil {
				return err
			}
			return m.printMigrations(ms)
		},
	}
	storeFlag(cmd, &url)
	return cmd
}
