package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newWorkflowsDeleteCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Kill a workflow's runs and delete it with its runs",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := intArg("workflow id", args[0])
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			d, err := c.Workflows.Delete(cmd.Context(), id)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintf(w, "Deleted workflow %d (%d running actions interrupted).\n", d.Deleted, len(d.InterruptedActions))
			})
		},
	}
}
