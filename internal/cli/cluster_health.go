package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newClusterHealthCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Check the health of the cluster's components",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			h, err := c.Cluster.Health(cmd.Context())
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintf(w, "Overall: %s\n\n", orNone(h.OverallHealth))
				fmt.Fprintln(w, "CHECK\tSTATUS\tDETAILS")
				for _, name := range slices.Sorted(maps.Keys(h.Checks)) {
					check := h.Checks[name]
					fmt.Fprintf(w, "%s\t%s\t%s\n", name, check.Status, checkDetails(check))
				}
			})
		},
	}
}

// checkDetails prints the measurements a check carries.
func checkDetails(c api.HealthCheck) string {
	var parts []string
	if c.ResponseTimeMS != nil {
		parts = append(parts, fmt.Sprintf("response %.1f ms", *c.ResponseTimeMS))
	}
	if c.ConnectedDevices != nil {
		parts = append(parts, fmt.Sprintf("%d devices connected", *c.ConnectedDevices))
	}
	if c.CPUUsage != nil {
		parts = append(parts, fmt.Sprintf("cpu %.1f%%", *c.CPUUsage))
	}
	if c.MemoryUsage != nil {
		parts = append(parts, fmt.Sprintf("memory %.1f%%", *c.MemoryUsage))
	}
	if c.Message != "" {
		parts = append(parts, c.Message)
	}
	if len(parts) == 0 {
		return none
	}
	return strings.Join(parts, ", ")
}
