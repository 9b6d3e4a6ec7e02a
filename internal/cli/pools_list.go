package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newPoolsListCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List pools",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Pools.List(cmd.Context())
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(l.Pools) == 0 {
					fmt.Fprintln(w, "No pools.")
					return
				}
				fmt.Fprintln(w, "ID\tNAME\tPOINTS\tRUNNING\tRANGE\tPROVIDER\tAUTOSCALE")
				for _, p := range l.Pools {
					auto := "off"
					if p.Autoscale.Enabled {
						auto = "on"
					}
					fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%d..%d\t%s\t%s\n", p.ID, p.Name, p.Points, p.Running, p.MinPoints, p.MaxPoints, p.Provider, auto)
				}
			})
		},
	}
}
