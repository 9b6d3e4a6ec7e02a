package cli

import (
	"io"
	"time"

	"github.com/spf13/cobra"
)

func newKeysRotateCommand(m *meta) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Replace a key by a new one; the old one works on for --grace",
		Long: `Replace a key by a new one with the same name, scopes and mode. The old
key keeps working for --grace, so clients can move to the new one without
an outage; then it expires.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if grace < 0 {
				return usageErrorf("--grace must not be negative")
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			secs := int64(grace.Seconds())
			created, err := c.Keys.Rotate(cmd.Context(), args[0], &secs)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) { printCreated(w, created) })
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", time.Hour, "how long the old key keeps working (0: stop it now)")
	return cmd
}
