package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigPathCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "path",
		Short: "Print where the settings are stored",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := m.configPath()
			if err != nil {
				return err
			}
			fmt.Fprintln(m.out, path)
			return nil
		},
	}
}
