package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newQueuesPauseCommand is `queues pause` (pause) or `queues resume`.
func newQueuesPauseCommand(m *meta, pause bool) *cobra.Command {
	use, short, done := "resume", "Resume a paused queue: its tasks are leased again", "resumed"
	if pause {
		use, short, done = "pause", "Pause a queue: it admits tasks but leases none until resumed", "paused"
	}
	return &cobra.Command{
		Use:   use + " QUEUE",
		Short: short,
		Args:  exactArgs("QUEUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			call := c.Queues.Resume
			if pause {
				call = c.Queues.Pause
			}
			q, err := call(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintf(w, "Queue %s %s (%d pending).\n", q.Name, done, q.Counts["pending"])
			})
		},
	}
}
