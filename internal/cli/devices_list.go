package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

func newDevicesListCommand(m *meta) *cobra.Command {
	var opts client.DeviceListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List devices",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Devices.List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(l.Devices) == 0 {
					fmt.Fprintln(w, "No devices.")
					return
				}
				fmt.Fprintln(w, "ID\tHOSTNAME\tSTATUS\tROLE\tPLATFORM\tCPU\tMEMORY\tTASKS\tLAST SEEN")
				for _, d := range l.Devices {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
						d.ID, orNone(d.Hostname), d.Status, orNone(d.Role), platform(d.Platform),
						cpu(d.Resources), memory(d.Resources), d.Tasks.Active, m.ago(d.LastSeen))
				}
				fmt.Fprintf(w, "\n%d devices: %d online, %d offline\n", l.Total, l.Online, l.Offline)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Status, "status", "", "only devices in this state: online, offline or all")
	f.StringVar(&opts.Role, "role", "", "only devices of this role, e.g. compute, mobile, storage")
	f.IntVar(&opts.Limit, "limit", 0, "at most this many devices (default: the server's)")
	return cmd
}

func platform(p api.Platform) string {
	if p.OS == "" && p.Arch == "" {
		return none
	}
	return p.OS + "/" + p.Arch
}

// cpu prints use and cores: "45% of 8".
func cpu(r api.Resources) string {
	if r.CPUCores == 0 {
		return none
	}
	return fmt.Sprintf("%.0f%% of %d", r.CPUUsage, r.CPUCores)
}

// memory prints use of total: "2.1/4.0 GB".
func memory(r api.Resources) string {
	if r.MemoryTotalGB == 0 {
		return none
	}
	return fmt.Sprintf("%.1f/%.1f GB", r.MemoryUsedGB, r.MemoryTotalGB)
}
