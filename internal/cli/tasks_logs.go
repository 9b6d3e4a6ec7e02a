package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newTasksLogsCommand(m *meta) *cobra.Command {
	var follow, timestamps bool
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a task's log",
		Long: `Print the log a task has written so far, or with -f follow it until the
task ends. With -o json, one JSON object per line (JSON Lines), so a
script can read the lines as they come.`,
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeTaskIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			id := args[0]
			emit := func(l api.LogLine) {
				if err == nil {
					err = m.writeLogLine(l, timestamps)
				}
			}
			if follow {
				if ferr := c.Tasks.FollowLogs(cmd.Context(), id, emit); ferr != nil {
					return ferr
				}
				return err
			}
			// Without -f, read page after page until the log has no more.
			var cursor int64
			for {
				page, lerr := c.Tasks.Logs(cmd.Context(), id, cursor, 0)
				if lerr != nil {
					return lerr
				}
				for _, l := range page.Logs {
					emit(l)
				}
				if len(page.Logs) == 0 || page.Cursor <= cursor {
					return err
				}
				cursor = page.Cursor
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the task ends")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "start each line with its time")
	return cmd
}

// writeLogLine prints one log line: its message for people (as a terminal
// would have shown it), a JSON object for scripts.
func (m *meta) writeLogLine(l api.LogLine, timestamps bool) error {
	return m.writeLogLineTo(m.out, l, timestamps)
}

func (m *meta) writeLogLineTo(out io.Writer, l api.LogLine, timestamps bool) error {
	if m.output == formatJSON {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	msg := strings.TrimSuffix(l.Message, "\n")
	if timestamps {
		msg = l.Timestamp.Format(time.RFC3339Nano) + " " + msg
	}
	_, err := fmt.Fprintln(out, msg)
	return err
}
