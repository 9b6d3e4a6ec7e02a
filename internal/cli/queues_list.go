package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func newQueuesListCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List queues with their task counts and workers",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Queues.List(cmd.Context())
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintln(w, "QUEUE\tSTATE\tPENDING\tRUNNING\tCOMPLETED\tFAILED\tCANCELLED\tOLDEST PENDING\tWORKERS")
				for _, q := range l.Queues {
					state := "running"
					if q.Paused {
						state = "paused"
					}
					oldest := none
					if q.OldestPendingAgeSeconds > 0 {
						oldest = roughly(time.Duration(q.OldestPendingAgeSeconds * float64(time.Second)))
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%d/%d\n", q.Name, state,
						q.Counts["pending"], q.Counts["running"], q.Counts["completed"], q.Counts["failed"], q.Counts["cancelled"],
						oldest, q.LiveWorkers, q.Workers)
				}
			})
		},
	}
}
