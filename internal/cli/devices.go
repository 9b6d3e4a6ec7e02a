package cli

import "github.com/spf13/cobra"

func newDevicesCommand(m *meta) *cobra.Command {
	return newGroup("devices", "List, inspect and remove devices, the workers of the cluster",
		newDevicesListCommand(m),
		newDevicesGetCommand(m),
		newDevicesRemoveCommand(m),
		newDevicesSuspendCommand(m, true),
		newDevicesSuspendCommand(m, false),
		newDevicesPingCommand(m),
	)
}
