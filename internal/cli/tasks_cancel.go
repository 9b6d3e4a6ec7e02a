package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newTasksCancelCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:               "cancel ID",
		Short:             "Cancel a pending or running task",
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeTaskIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			r, err := c.Tasks.Cancel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				was := "pending"
				if r.WasRunning {
					was = "running"
				}
				fmt.Fprintf(w, "Cancelled task %s (it was %s)\n", r.CancelledTask, was)
			})
		},
	}
}
