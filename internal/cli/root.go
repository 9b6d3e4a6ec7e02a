package cli

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/internal/version"
)

// Run runs the drover command with args (without the program name) and
// returns the process's exit code: 0 success, 1 error, 2 usage error. It is
// all that main needs:
//
//	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
func Run(ctx context.Context, args []string, out, errOut io.Writer) int {
	return newMeta(out, errOut, os.Getenv).run(ctx, args)
}

// NewRoot returns the drover command tree writing to out and errOut. Errors
// are returned, not printed: Run prints them and picks the exit code.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	return newRoot(newMeta(out, errOut, os.Getenv))
}

// newRoot builds the command tree around m.
func newRoot(m *meta) *cobra.Command {
	root := &cobra.Command{
		Use:   "drover",
		Short: "Drover runs tasks on a cluster of your own machines",
		Long: `Drover runs tasks on a cluster of your own machines.

Start with "drover dev", then try:
  drover devices list
  drover tasks submit echo --payload '{"message": "hello"}' --wait`,
		Args: cobra.ArbitraryArgs,
		RunE: helpOrUnknown,
		// Run prints errors and usage hints itself, once, to pick exit codes.
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version.String(),
	}
	root.SetVersionTemplate("drover {{.Version}}\n")
	root.SetOut(m.out)
	root.SetErr(m.errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	m.addGlobalFlags(root)

	// The command tree: every drover command hangs here.
	root.AddCommand(
		newConfigCommand(m),
		newClusterCommand(m),
		newDevicesCommand(m),
		newTasksCommand(m),
		newWorkflowsCommand(m),
		newRunsCommand(m),
		newQueuesCommand(m),
		newKeysCommand(m),
		newPoolsCommand(m),
		newMonitorCommand(m),
		newVersionCommand(m),
		newBackupCommand(m),
		newRestoreCommand(m),
		newMigrateCommand(m),
		newTLSCommand(m),
		newLogsCommand(m),
		newStatsCommand(m),
		// The long-running commands: they take their flags and DROVER_*
		// environment, not the client configuration.
		newServerCommand(),
		newWorkerCommand(),
		newDevCommand(),
		newBenchCommand(),
		newChaosCommand(),
	)
	return root
}

// newGroup returns a noun command (drover tasks) that holds verbs. Run on
// its own it shows its help; with an unknown verb it is a usage error,
// where cobra would print the help and succeed.
func newGroup(use, short string, verbs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE:  helpOrUnknown,
	}
	cmd.AddCommand(verbs...)
	return cmd
}

func helpOrUnknown(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := "unknown command " + quote(args[0]) + " for " + quote(cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra applies its default only to the root
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + quote(s[0]) + "?"
	}
	return usageErrorf("%s", msg)
}

func quote(s string) string { return `"` + s + `"` }
