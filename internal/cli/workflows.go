package cli

import (
	"strconv"

	"github.com/spf13/cobra"
)

func newWorkflowsCommand(m *meta) *cobra.Command {
	return newGroup("workflows", "Define, list, run and delete workflows (DAGs of steps, maybe on cron)",
		newWorkflowsCreateCommand(m),
		newWorkflowsListCommand(m),
		newWorkflowsGetCommand(m),
		newWorkflowsRunCommand(m),
		newWorkflowsDeleteCommand(m),
	)
}

func newRunsCommand(m *meta) *cobra.Command {
	return newGroup("runs", "List, inspect, restart and kill workflow runs, and read their logs",
		newRunsListCommand(m),
		newRunsGetCommand(m),
		newRunsRestartCommand(m),
		newRunsKillCommand(m),
		newRunsLogsCommand(m),
	)
}

// intArg parses a positive integer id argument.
func intArg(what, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, usageErrorf("%s %q is not a positive integer", what, s)
	}
	return n, nil
}
