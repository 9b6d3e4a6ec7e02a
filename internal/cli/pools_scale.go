package cli

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
)

func newPoolsScaleCommand(m *meta) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "scale ID N",
		Short: "Set a pool's desired number of workers",
		Long: `Set a pool's desired number of workers (document 000's change_points). The
server starts or drains workers in the background; a drained worker takes no
new task and finishes (or hands back) what it runs. Asking for the size the
pool has changes nothing.`,
		Example: `  drover pools scale 3000 2`,
		Args:    exactArgs("ID", "N"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				return usageErrorf("N %q: use a number of workers, 0 or more", args[1])
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			p, changed, err := c.Pools.Scale(cmd.Context(), id, n, reason)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if changed {
					fmt.Fprintf(w, "Pool %d (%s) scaled to %d workers; %d running now.\n", p.ID, p.Name, p.Points, p.Running)
				} else {
					fmt.Fprintf(w, "Pool %d (%s) already has %d workers as its size; nothing changed.\n", p.ID, p.Name, p.Points)
				}
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, kept in the pool's events")
	return cmd
}
