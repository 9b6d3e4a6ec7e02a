package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newPoolsDeleteCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a pool; its workers drain and stop",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parsePoolID(args[0])
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			if err := c.Pools.Delete(cmd.Context(), id); err != nil {
				return err
			}
			return m.show(func(w io.Writer) { fmt.Fprintf(w, "Pool %d deleted; its workers drain and stop.\n", id) })
		},
	}
}
