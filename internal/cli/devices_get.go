package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newDevicesGetCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:               "get ID",
		Short:             "Show a device in detail",
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeDeviceIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			d, err := c.Devices.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				r := d.Resources
				fmt.Fprintf(w, "ID:\t%s\n", d.ID)
				fmt.Fprintf(w, "Hostname:\t%s\n", orNone(d.Hostname))
				fmt.Fprintf(w, "Status:\t%s\n", d.Status)
				fmt.Fprintf(w, "Role:\t%s\n", orNone(d.Role))
				fmt.Fprintf(w, "Platform:\t%s\n", platform(d.Platform))
				fmt.Fprintf(w, "Version:\t%s\n", orNone(d.Version))
				fmt.Fprintf(w, "CPU:\t%s\n", cpu(r))
				fmt.Fprintf(w, "Memory:\t%s\n", memory(r))
				fmt.Fprintf(w, "Storage:\t%.1f/%.1f GB\n", r.StorageUsedGB, r.StorageTotalGB)
				if b := d.DetailedInfo.Battery; b != nil {
					fmt.Fprintf(w, "Battery:\t%.0f%% (charging: %t)\n", b.Level, b.Charging)
				}
				fmt.Fprintf(w, "Tasks:\t%d active, %d completed, %d failed\n", d.Tasks.Active, d.Tasks.Completed, d.Tasks.Failed)
				fmt.Fprintf(w, "Concurrency:\t%d\n", d.Concurrency)
				fmt.Fprintf(w, "Queues:\t%s\n", list(d.Queues))
				fmt.Fprintf(w, "Task types:\t%s\n", list(d.TaskTypes))
				fmt.Fprintf(w, "Labels:\t%s\n", orNone(labels(d.Labels)))
				fmt.Fprintf(w, "Capabilities:\t%s\n", list(d.DetailedInfo.Capabilities))
				fmt.Fprintf(w, "Network:\t%s\n", list(d.DetailedInfo.NetworkInterfaces))
				fmt.Fprintf(w, "Sensors:\t%s\n", list(d.DetailedInfo.Sensors))
				fmt.Fprintf(w, "Last seen:\t%s\n", m.when(&d.LastSeen))
				fmt.Fprintf(w, "Uptime:\t%s\n", seconds(new(float64(d.UptimeSeconds))))
			})
		},
	}
}
