package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newDevicesSuspendCommand is `devices suspend` (suspend) or `devices resume`.
func newDevicesSuspendCommand(m *meta, suspend bool) *cobra.Command {
	use, short := "resume", "Resume a suspended device: it leases tasks again"
	if suspend {
		use, short = "suspend", "Suspend a device: it finishes what it runs and leases nothing new until resumed"
	}
	return &cobra.Command{
		Use:   use + " ID",
		Short: short,
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			call := c.Devices.Resume
			if suspend {
				call = c.Devices.Suspend
			}
			st, err := call(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintf(w, "Device %s is %s.\n", st.DeviceID, st.Status)
			})
		},
	}
}
