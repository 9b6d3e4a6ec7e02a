package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newKeysRevokeCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key: every server refuses it within a second",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			r, err := c.Keys.Revoke(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) { fmt.Fprintf(w, "Revoked key %s\n", r.RevokedKey) })
		},
	}
}
