package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/client"
)

func newTasksListCommand(m *meta) *cobra.Command {
	var opts client.TaskListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, newest first",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Tasks.List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(l.Tasks) == 0 {
					fmt.Fprintln(w, "No tasks.")
					return
				}
				fmt.Fprintln(w, "ID\tTYPE\tSTATUS\tPRIORITY\tQUEUE\tDEVICE\tCREATED\tDURATION")
				for _, t := range l.Tasks {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
						t.TaskID, t.TaskType, t.Status, orNone(t.Priority), orNone(t.Queue),
						ptrOrNone(t.DeviceID), m.ago(t.CreatedAt), seconds(t.ExecutionTimeSeconds))
				}
				fmt.Fprintf(w, "\n%d of %d tasks: %d pending, %d running, %d completed, %d failed, %d cancelled\n",
					len(l.Tasks), l.Total, l.Pending, l.Running, l.Completed, l.Failed, l.Cancelled)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Status, "status", "", "only tasks in this state: pending, running, completed, failed, cancelled or all")
	cmd.RegisterFlagCompletionFunc("status", completeStates)
	f.StringVar(&opts.DeviceID, "device", "", "only tasks of this device")
	f.StringVar(&opts.TaskType, "type", "", "only tasks of this type")
	f.StringVar(&opts.Queue, "queue", "", "only tasks in this queue")
	f.IntVar(&opts.Limit, "limit", 0, "at most this many tasks (default: the server's)")
	f.IntVar(&opts.Offset, "offset", 0, "skip this many tasks, to page")
	return cmd
}
