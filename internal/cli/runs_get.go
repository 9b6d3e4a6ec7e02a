package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newRunsGetCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a run: each step's status, and why a step failed",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := intArg("run id", args[0])
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			r, err := c.Runs.Get(cmd.Context(), id)
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) { writeRun(m, w, r) })
		},
	}
}

func writeRun(m *meta, w io.Writer, r *api.Run) {
	fmt.Fprintf(w, "Run:\t%d\n", r.ID)
	fmt.Fprintf(w, "Workflow:\t%s (%d)\n", r.WorkflowName, r.WorkflowID)
	fmt.Fprintf(w, "Status:\t%s\n", r.Status)
	fmt.Fprintf(w, "Trigger:\t%s\n", r.Trigger)
	if r.Tick != nil {
		fmt.Fprintf(w, "Tick:\t%s\n", m.when(r.Tick))
	}
	if r.RestartOf != 0 {
		fmt.Fprintf(w, "Restart of:\t%d\n", r.RestartOf)
	}
	fmt.Fprintf(w, "Created:\t%s\n", m.when(&r.CreatedAt))
	fmt.Fprintf(w, "Finished:\t%s\n", m.when(r.FinishedAt))
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "\nACTION\tSTEP\tSTATUS\tTASK\n")
		for _, s := range r.Steps {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.ActionID, s.Name, s.Status, orNone(s.TaskID))
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "\nStep %s (action %d) failed with exit code %d", f.Step, f.ActionID, f.ExitCode)
		if f.Error != "" {
			fmt.Fprintf(w, ": %s", f.Error)
		}
		fmt.Fprintln(w)
		if len(f.LogTail) > 0 {
			fmt.Fprint(w, indent(strings.Join(f.LogTail, "\n")))
		}
	}
}

// runError is a run that did not complete, for the exit code.
type runError struct{ run *api.Run }

func (e *runError) Error() string { return fmt.Sprintf("run %d %s", e.run.ID, e.run.Status) }
