package cli

import (
	"github.com/spf13/cobra"
)

func newTasksWaitCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for a task to end and print its output",
		Long: `Wait for a task to end and print its output, streaming its log and
its progress reports ("[ 40%] copying") to stderr meanwhile. The command
fails if the task failed or was cancelled: it exits with the task's exit
code when it has one, else 1.`,
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeTaskIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			return m.wait(cmd.Context(), c, args[0])
		},
	}
}
