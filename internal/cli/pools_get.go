package cli

import "github.com/spf13/cobra"

func newPoolsGetCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a pool and its workers",
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
			p, err := c.Pools.Get(cmd.Context(), id)
			if err != nil {
				return err
			}
			return m.showPool(p)
		},
	}
}
