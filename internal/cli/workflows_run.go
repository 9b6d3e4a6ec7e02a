package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newWorkflowsRunCommand(m *meta) *cobra.Command {
	var (
		req  api.RunWorkflowRequest
		wait bool
	)
	cmd := &cobra.Command{
		Use:   "run ID",
		Short: "Run a workflow now",
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
			r, err := c.Workflows.Run(cmd.Context(), id, req)
			if err != nil {
				return err
			}
			if wait {
				if r, err = c.Runs.Wait(context.WithoutCancel(cmd.Context()), r.ID, 0); err != nil {
					return err
				}
			}
			if err := m.show(func(w io.Writer) { writeRun(m, w, r) }); err != nil {
				return err
			}
			if wait && r.Status != "completed" {
				return &runError{run: r}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&req.DelaySeconds, "delay", 0, "seconds before it starts (0-60)")
	cmd.Flags().BoolVar(&req.IgnoreDependencies, "ignore-dependencies", false, "start without waiting for upstream workflows")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait until the run ends; exit 1 unless it completed")
	return cmd
}
