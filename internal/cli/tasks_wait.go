package cli

import (
	"github.com/spf13/cobra"
)

func newTasksWaitCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for a task to end and print its output",
		Long: `Wait for a task to end and print its output. The command fails (exit
code 1) if the task failed or was cancelled.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			t, err := c.Tasks.Wait(cmd.Context(), args[0], 0)
			if err != nil {
				return err
			}
			return m.finish(t)
		},
	}
}
