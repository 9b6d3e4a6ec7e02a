package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newTasksRetryCommand(m *meta) *cobra.Command {
	var priority string
	cmd := &cobra.Command{
		Use:               "retry ID",
		Short:             "Submit a finished task again, as a new task",
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeTaskIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			r, err := c.Tasks.Retry(cmd.Context(), args[0], priority)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintf(w, "Retried task %s as %s\n", r.OriginalTaskID, r.NewTaskID)
			})
		},
	}
	cmd.Flags().StringVar(&priority, "priority", "", "priority of the new task (default: the original's)")
	return cmd
}
