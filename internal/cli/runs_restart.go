package cli

import (
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func newRunsRestartCommand(m *meta) *cobra.Command {
	var (
		mode    string
		actions []int64
	)
	cmd := &cobra.Command{
		Use:   "restart ID",
		Short: "Restart a run: whole (a new run), failed steps on, or from given actions",
		Long: `Restart a run:
  --mode whole    a new run of the same workflow (the default)
  --mode failed   rerun the failed (and killed) steps and what depends on them, in the same run
  --from 12,13    rerun these actions and what depends on them, whatever their state, in the same run`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := intArg("run id", args[0])
			if err != nil {
				return err
			}
			if len(actions) > 0 {
				mode = "steps"
			}
			switch strings.ToLower(mode) {
			case "whole", "failed", "exceptional", "steps":
			default:
				return usageErrorf("--mode %q is not whole or failed (or use --from)", mode)
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			r, err := c.Runs.Restart(cmd.Context(), id, strings.ToLower(mode), actions)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) { writeRun(m, w, r) })
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "whole", "whole or failed")
	cmd.Flags().Int64SliceVar(&actions, "from", nil, "action ids to rerun from (same run)")
	return cmd
}
