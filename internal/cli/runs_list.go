package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/client"
)

func newRunsListCommand(m *meta) *cobra.Command {
	var o client.RunListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workflow runs, newest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Runs.List(cmd.Context(), o)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(l.Runs) == 0 {
					fmt.Fprintln(w, "No runs.")
					return
				}
				fmt.Fprintln(w, "ID\tWORKFLOW\tSTATUS\tTRIGGER\tCREATED\tFINISHED")
				for _, r := range l.Runs {
					fmt.Fprintf(w, "%d\t%s (%d)\t%s\t%s\t%s\t%s\n", r.ID, r.WorkflowName, r.WorkflowID, r.Status, r.Trigger,
						m.ago(r.CreatedAt), m.when(r.FinishedAt))
				}
			})
		},
	}
	cmd.Flags().Int64Var(&o.WorkflowID, "workflow", 0, "runs of this workflow id")
	cmd.Flags().StringVar(&o.Status, "status", "", "waiting, running, completed, failed or killed")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "at most this many (server default 50)")
	cmd.Flags().IntVar(&o.Offset, "offset", 0, "skip this many")
	return cmd
}
