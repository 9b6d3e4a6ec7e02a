package cli

import "github.com/spf13/cobra"

func newConfigCommand(m *meta) *cobra.Command {
	return newGroup("config", "Read and change the CLI's settings: which server, which key",
		newConfigSetCommand(m),
		newConfigGetCommand(m),
		newConfigPathCommand(m),
	)
}
