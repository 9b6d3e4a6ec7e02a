package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newWorkflowsListCommand(m *meta) *cobra.Command {
	var limit, offset int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workflows",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			l, err := c.Workflows.List(cmd.Context(), limit, offset)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) {
				if len(l.Workflows) == 0 {
					fmt.Fprintln(w, "No workflows.")
					return
				}
				fmt.Fprintln(w, "ID\tNAME\tSTEPS\tSCHEDULE\tNEXT RUN")
				for _, wf := range l.Workflows {
					sched := orNone(wf.Schedule)
					if wf.Timezone != "" {
						sched += " (" + wf.Timezone + ")"
					}
					fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\n", wf.ID, wf.Name, len(wf.Steps), sched, m.when(wf.NextFireAt))
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many")
	return cmd
}
