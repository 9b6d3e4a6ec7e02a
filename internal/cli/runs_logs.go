package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

func newRunsLogsCommand(m *meta) *cobra.Command {
	var (
		follow bool
		o      client.RunLogOptions
	)
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print a run's log (every step's lines, in step order)",
		Long: `Print the log of a run, or of one of its actions (--action), page by
page; with -f follow it until the run ends. --level error keeps error
lines (and standard error), --level debug the debug lines. With -o json,
one JSON object per line.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := intArg("run id", args[0])
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			var werr error
			emit := func(l api.RunLogLine) {
				if werr != nil {
					return
				}
				if m.output == formatJSON {
					b, _ := json.Marshal(l)
					_, werr = fmt.Fprintf(m.out, "%s\n", b)
					return
				}
				_, werr = fmt.Fprintf(m.out, "[%s] %s\n", l.Step, l.Message)
			}
			if follow {
				if err := c.Runs.FollowLogs(cmd.Context(), id, o, emit); err != nil {
					return err
				}
				return werr
			}
			for {
				page, err := c.Runs.Logs(cmd.Context(), id, o)
				if err != nil {
					return err
				}
				for _, l := range page.Logs {
					emit(l)
				}
				if len(page.Logs) == 0 {
					return werr
				}
				o.Cursor = page.Cursor
			}
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the log until the run ends")
	cmd.Flags().Int64Var(&o.ActionID, "action", 0, "one action's lines")
	cmd.Flags().StringVar(&o.Level, "level", "", "all, debug or error")
	return cmd
}
