package cli

import (
	"github.com/spf13/cobra"
)

// newStatsCommand is `drover stats tasks|devices` (GET /stats/…). The
// answers are nested (groups, rankings with their scoring): both formats
// print the API's data, indented.
func newStatsCommand(m *meta) *cobra.Command {
	var period, groupBy string
	tasks := &cobra.Command{
		Use:     "tasks",
		Short:   "Task outcomes over a period, grouped by task_type, device or hour",
		Example: `  drover stats tasks --period 7d --group-by task_type`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			if _, err := c.Cluster.TaskStats(cmd.Context(), period, groupBy); err != nil {
				return err
			}
			return m.printData()
		},
	}
	tasks.Flags().StringVar(&period, "period", "", "1h, 24h, 7d or 30d (default: the server's)")
	tasks.Flags().StringVar(&groupBy, "group-by", "", "task_type, device or hour")
	tasks.RegisterFlagCompletionFunc("group-by", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"task_type", "device", "hour"}, cobra.ShellCompDirectiveNoFileComp
	})
	devices := &cobra.Command{
		Use:   "devices",
		Short: "Device utilization, uptime and their ranking over a period",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			if _, err := c.Cluster.DeviceStats(cmd.Context(), period); err != nil {
				return err
			}
			return m.printData()
		},
	}
	devices.Flags().StringVar(&period, "period", "", "1h, 24h, 7d or 30d (default: the server's)")
	for _, c := range []*cobra.Command{tasks, devices} {
		c.RegisterFlagCompletionFunc("period", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"1h", "24h", "7d", "30d"}, cobra.ShellCompDirectiveNoFileComp
		})
	}
	return newGroup("stats", "Statistics of tasks and devices", tasks, devices)
}
