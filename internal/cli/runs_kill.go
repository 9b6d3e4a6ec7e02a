package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newRunsKillCommand(m *meta) *cobra.Command {
	var action bool
	cmd := &cobra.Command{
		Use:   "kill ID",
		Short: "Kill a run (or with --action, one action of a run)",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := intArg("id", args[0])
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			kill := c.Runs.Kill
			if action {
				kill = c.Runs.KillAction
			}
			ids, err := kill(cmd.Context(), id)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(ids) == 0 {
					fmt.Fprintln(w, "Nothing was running.")
					return
				}
				fmt.Fprintf(w, "Interrupted actions: %v\n", ids)
			})
		},
	}
	cmd.Flags().BoolVar(&action, "action", false, "ID is an action id: kill that action only")
	return cmd
}
