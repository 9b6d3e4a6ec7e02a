package cli

import "github.com/spf13/cobra"

func newQueuesCommand(m *meta) *cobra.Command {
	return newGroup("queues", "List, pause and resume queues",
		newQueuesListCommand(m),
		newQueuesPauseCommand(m, true),
		newQueuesPauseCommand(m, false),
	)
}
