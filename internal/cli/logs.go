package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/client"
)

// newLogsCommand is `drover logs`: the cluster's own log (GET /logs), the
// server's, the workers' and the task lifecycle's, newest first.
func newLogsCommand(m *meta) *cobra.Command {
	var opts client.LogOptions
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print the cluster's own log: server, workers, task lifecycle",
		Example: `  drover logs --level warning --limit 20
  drover logs --device vm-1 --since 1h
  drover logs --task task-01m7… -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			list, err := c.Cluster.Logs(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintln(w, "TIME\tLEVEL\tCOMPONENT\tDEVICE\tTASK\tMESSAGE")
				for _, e := range list.Logs {
					dev := "-"
					if e.DeviceID != nil {
						dev = *e.DeviceID
					}
					task := e.TaskID
					if task == "" {
						task = "-"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Timestamp.Local().Format(time.DateTime), e.Level, e.Component, dev, task, e.Message)
				}
				if list.HasMore {
					fmt.Fprintf(w, "(more: --cursor %d)\n", list.Cursor)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Level, "level", "", "this level and above: debug, info, warning, error")
	f.StringVar(&opts.DeviceID, "device", "", "only this device's entries")
	f.StringVar(&opts.TaskID, "task", "", "only this task's entries")
	f.StringVar(&opts.Component, "component", "", "only this component's entries (server, worker, task, …)")
	f.StringVar(&opts.Since, "since", "", "since a time (RFC 3339) or a duration back from now (1h)")
	f.IntVar(&opts.Limit, "limit", 50, "entries per page")
	f.Int64Var(&opts.Cursor, "cursor", 0, "continue from an earlier page's cursor")
	cmd.RegisterFlagCompletionFunc("level", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"debug", "info", "warning", "error"}, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.RegisterFlagCompletionFunc("device", func(cmd *cobra.Command, _ []string, p string) ([]string, cobra.ShellCompDirective) {
		return m.completeDeviceIDs(cmd, nil, p)
	})
	cmd.RegisterFlagCompletionFunc("task", func(cmd *cobra.Command, _ []string, p string) ([]string, cobra.ShellCompDirective) {
		return m.completeTaskIDs(cmd, nil, p)
	})
	return cmd
}
