package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/client"
)

func newKeysListCommand(m *meta) *cobra.Command {
	var opts client.KeyListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys and join tokens (never their tokens)",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Keys.List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(l.Keys) == 0 {
					fmt.Fprintln(w, "No keys.")
					return
				}
				fmt.Fprintln(w, "ID\tNAME\tKIND\tSTATUS\tSCOPES\tSIGNED\tCREATED\tEXPIRES")
				for _, k := range l.Keys {
					expires := none
					if k.ExpiresAt != nil {
						expires = k.ExpiresAt.Format("2006-01-02 15:04")
					}
					signed := "no"
					if k.Signed {
						signed = "yes"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Kind, k.Status,
						strings.Join(k.Scopes, ","), signed, m.ago(k.CreatedAt), expires)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Kind, "kind", "", "only api keys or join tokens: api, join or all")
	f.BoolVar(&opts.IncludeRevoked, "all", false, "include revoked keys")
	return cmd
}
