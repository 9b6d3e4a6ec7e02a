package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

func newTasksCommand(m *meta) *cobra.Command {
	return newGroup("tasks", "Submit, list, follow and control tasks",
		newTasksSubmitCommand(m),
		newTasksListCommand(m),
		newTasksGetCommand(m),
		newTasksCancelCommand(m),
		newTasksRetryCommand(m),
		newTasksLogsCommand(m),
		newTasksWaitCommand(m),
	)
}

// finish reports a task that has ended, for the commands that wait: its
// output for people, or the task as the server sent it for scripts. A task
// that did not complete is an error, so the exit code tells.
func (m *meta) finish(t *api.Task) error {
	if m.output == formatJSON {
		if err := m.printData(); err != nil {
			return err
		}
	} else if t.Result != nil && t.Result.Output != "" {
		out := t.Result.Output
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		fmt.Fprint(m.out, out)
	}
	if t.Status != "completed" {
		return &taskError{task: t}
	}
	return nil
}
