package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newWorkflowsGetCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a workflow and its steps",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := intArg("workflow id", args[0])
			if err != nil {
				return err
			}
			c, err := m.client()
			if err != nil {
				return err
			}
			w, err := c.Workflows.Get(cmd.Context(), id)
			if err != nil {
				return err
			}
			return m.show(func(out io.Writer) { writeWorkflow(m, out, w) })
		},
	}
}

func writeWorkflow(m *meta, w io.Writer, wf *api.Workflow) {
	fmt.Fprintf(w, "ID:\t%d\n", wf.ID)
	fmt.Fprintf(w, "Name:\t%s\n", wf.Name)
	fmt.Fprintf(w, "Schedule:\t%s\n", orNone(wf.Schedule))
	if wf.Schedule != "" {
		fmt.Fprintf(w, "Timezone:\t%s\n", orNone(wf.Timezone))
		fmt.Fprintf(w, "Overlap:\t%s\n", wf.Overlap)
		fmt.Fprintf(w, "Next run:\t%s\n", m.when(wf.NextFireAt))
	}
	if len(wf.DependsOn) > 0 {
		fmt.Fprintf(w, "After workflows:\t%v\n", wf.DependsOn)
	}
	fmt.Fprintf(w, "Created:\t%s\n", m.when(&wf.CreatedAt))
	fmt.Fprintf(w, "\nSTEP\tTYPE\tAFTER\n")
	for _, s := range wf.Steps {
		typ := s.TaskType
		if s.Template != "" {
			typ = "template " + s.Template
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", s.Name, typ, orNone(strings.Join(s.DependsOn, ", ")))
	}
}
