package cli

import "github.com/spf13/cobra"

func newClusterCommand(m *meta) *cobra.Command {
	return newGroup("cluster", "Show the state and health of the whole cluster",
		newClusterStatusCommand(m),
		newClusterHealthCommand(m),
		newClusterConfigCommand(m),
	)
}
