package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newClusterStatusCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Summarize devices, resources and tasks",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			s, err := c.Cluster.Status(cmd.Context())
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintf(w, "Devices:\t%d total, %d online, %d offline (%.1f%% healthy)\n",
					s.TotalDevices, s.OnlineDevices, s.OfflineDevices, s.HealthPercentage)
				fmt.Fprintf(w, "Resources:\t%d CPU cores, %.1f GB memory, %.1f GB storage\n",
					s.TotalResources.CPUCores, s.TotalResources.MemoryGB, s.TotalResources.StorageGB)
				fmt.Fprintf(w, "By role:\t%s\n", counts(s.ByRole))
				fmt.Fprintf(w, "Tasks:\t%s\n", counts(s.Tasks, taskStates...))
				fmt.Fprintf(w, "Uptime:\t%s\n", orNone(s.Uptime))
			})
		},
	}
}
