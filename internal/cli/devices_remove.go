package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newDevicesRemoveCommand(m *meta) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a device from the cluster",
		Long: `Remove a device from the cluster. The server refuses a device that is
running tasks unless --force is given, which cancels them.`,
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeDeviceIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			r, err := c.Devices.Remove(cmd.Context(), args[0], force)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				fmt.Fprintf(w, "Removed device %s; cancelled %d tasks\n", r.RemovedDevice, r.CancelledTasks)
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove the device even while it runs tasks, cancelling them")
	return cmd
}
