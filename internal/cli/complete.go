package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/client"
)

// Shell completion of what only the server knows: task ids (the most
// recent first) and device ids, asked of the configured server in a second
// at most; with no server, no suggestions rather than an error.

// completeStates offers the states --status takes.
func completeStates(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return append(slices.Clone(taskStates), "all"), cobra.ShellCompDirectiveNoFileComp
}

func (m *meta) completeTaskIDs(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var ids []string
	m.completing(cmd, func(ctx context.Context, c *client.Client) {
		list, err := c.Tasks.List(ctx, client.TaskListOptions{Status: "all", Limit: 100})
		if err != nil {
			return
		}
		for _, t := range list.Tasks {
			if strings.HasPrefix(t.TaskID, prefix) {
				ids = append(ids, t.TaskID+"\t"+t.TaskType+" "+t.Status)
			}
		}
	})
	return ids, cobra.ShellCompDirectiveNoFileComp
}

func (m *meta) completeDeviceIDs(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var ids []string
	m.completing(cmd, func(ctx context.Context, c *client.Client) {
		list, err := c.Devices.List(ctx, client.DeviceListOptions{})
		if err != nil {
			return
		}
		for _, d := range list.Devices {
			if strings.HasPrefix(d.ID, prefix) {
				ids = append(ids, d.ID+"\t"+d.Role+" "+d.Status)
			}
		}
	})
	return ids, cobra.ShellCompDirectiveNoFileComp
}

func (m *meta) completing(cmd *cobra.Command, f func(ctx context.Context, c *client.Client)) {
	c, err := m.client()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Second)
	defer cancel()
	f(ctx, c)
}
