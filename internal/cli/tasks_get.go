package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newTasksGetCommand(m *meta) *cobra.Command {
	return &cobra.Command{
		Use:               "get ID",
		Short:             "Show a task in detail: payload, result and log",
		Args:              exactArgs("ID"),
		ValidArgsFunction: m.completeTaskIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client()
			if err != nil {
				return err
			}
			t, err := c.Tasks.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return m.show(func(w io.Writer) { m.writeTask(w, t) })
		},
	}
}

// writeTask prints a task as labelled lines, then its output and log
// indented below.
func (m *meta) writeTask(w io.Writer, t *api.Task) {
	fmt.Fprintf(w, "ID:\t%s\n", t.TaskID)
	fmt.Fprintf(w, "Type:\t%s\n", t.TaskType)
	fmt.Fprintf(w, "Status:\t%s\n", t.Status)
	fmt.Fprintf(w, "Priority:\t%s\n", orNone(t.Priority))
	fmt.Fprintf(w, "Queue:\t%s\n", orNone(t.Queue))
	fmt.Fprintf(w, "Device:\t%s\n", ptrOrNone(t.DeviceID))
	fmt.Fprintf(w, "Attempt:\t%d (max retries %d)\n", t.Attempt, t.MaxRetries)
	fmt.Fprintf(w, "Timeout:\t%ds\n", t.Timeout)
	if t.OriginalTaskID != "" {
		fmt.Fprintf(w, "Retry of:\t%s\n", t.OriginalTaskID)
	}
	if t.IdempotencyKey != "" {
		fmt.Fprintf(w, "Idempotency key:\t%s\n", t.IdempotencyKey)
	}
	if len(t.Labels) > 0 {
		fmt.Fprintf(w, "Labels:\t%s\n", labels(t.Labels))
	}
	fmt.Fprintf(w, "Created:\t%s\n", m.when(&t.CreatedAt))
	if t.AvailableAt != nil && t.Status == "pending" {
		fmt.Fprintf(w, "Runs at:\t%s\n", m.when(t.AvailableAt))
	}
	fmt.Fprintf(w, "Started:\t%s\n", m.when(t.StartedAt))
	fmt.Fprintf(w, "Completed:\t%s\n", m.when(t.CompletedAt))
	fmt.Fprintf(w, "Duration:\t%s\n", seconds(t.ExecutionTimeSeconds))
	if p := t.Progress; p != nil {
		fmt.Fprintf(w, "Progress:\t%s (attempt %d, %s)\n", progressLine(*p), p.Attempt, m.when(&p.UpdatedAt))
	}
	if t.Error != "" {
		fmt.Fprintf(w, "Error:\t%s\n", t.Error)
	}
	if r := t.Result; r != nil {
		fmt.Fprintf(w, "Exit code:\t%d\n", r.ExitCode)
		if r.Error != "" && r.Error != t.Error {
			fmt.Fprintf(w, "Result error:\t%s\n", r.Error)
		}
	}
	if u := t.ResourceUsage; u != nil {
		fmt.Fprintf(w, "Resources:\tpeak cpu %.1f%%, peak memory %.1f MB, cpu time %.2fs\n",
			u.PeakCPUPercent, u.PeakMemoryMB, u.TotalCPUTimeSeconds)
	}
	if len(t.Payload) > 0 {
		fmt.Fprintf(w, "Payload:\t%s\n", t.Payload)
	}
	// The blocks below hold free text: the tabwriter must not align it.
	if t.Result != nil && t.Result.Output != "" {
		fmt.Fprintf(w, "\nOutput:\n%s", indent(t.Result.Output))
	}
	if len(t.DetailedLog) > 0 {
		fmt.Fprintf(w, "\nLog:\n%s", indent(strings.Join(t.DetailedLog, "\n")))
	}
}

// indent prefixes every line of s with two spaces and ends it with a
// newline. Tabs become spaces, since the text passes through a tabwriter.
func indent(s string) string {
	s = strings.TrimSuffix(s, "\n")
	s = strings.ReplaceAll(s, "\t", "    ")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}
