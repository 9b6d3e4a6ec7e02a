package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

func newMonitorCommand(m *meta) *cobra.Command {
	var (
		opts  client.StreamOptions
		types string
	)
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Follow the cluster's events as they happen (Ctrl-C to stop)",
		Long: "Follow GET /api/v1/monitor/stream: device, task and log events, one per line.\n" +
			"A broken connection is resumed after the last event seen. With -o json, each\n" +
			"event is printed as the JSON object the stream sends.",
		Example: "  drover monitor\n  drover monitor --types tasks\n  drover monitor --types devices,logs --device android-001",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			if types != "" {
				opts.Types = strings.Split(types, ",")
			}
			out := cmd.OutOrStdout()
			asJSON := m.output == formatJSON
			return c.Monitor.StreamWith(cmd.Context(), opts, func(ev api.StreamEvent) error {
				if asJSON {
					b, err := json.Marshal(ev.Fields)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(out, "%s\n", b)
					return err
				}
				_, err := fmt.Fprintln(out, eventLine(ev))
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&types, "types", "", "comma list of groups (devices, tasks, logs, pools, runs) or event types (default all)")
	f.StringVar(&opts.DeviceID, "device", "", "only this device's events")
	f.Int64Var(&opts.LastEventID, "since-id", 0, "start after this event id (default: from now)")
	return cmd
}

// eventLine is one event for a terminal: time, type, who, what.
func eventLine(ev api.StreamEvent) string {
	who := ev.DeviceID
	if ev.TaskID != "" {
		who = strings.TrimSpace(ev.TaskID + " " + ev.DeviceID)
	}
	msg := ev.Message
	if ev.Type == "device_update" {
		msg = fmt.Sprintf("cpu %v%%  memory %v%%  tasks %v", ev.Fields["cpu_usage"], ev.Fields["memory_usage"], ev.Fields["active_tasks"])
	}
	return fmt.Sprintf("%s  %-15s %-7s %-28s %s", ev.Timestamp.Local().Format("15:04:05.000"), ev.Type, ev.Level, who, msg)
}
