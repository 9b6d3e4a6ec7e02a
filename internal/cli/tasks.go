package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
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

// wait waits for task id to end and reports it as finish does. For people
// it streams the task's log and progress to errOut as they come (out keeps
// only the task's output, for pipes); scripts (-o json) get only the final
// task.
func (m *meta) wait(ctx context.Context, c *client.Client, id string) error {
	if m.output != formatJSON {
		// The log ends when the task does; a failure to follow it is not
		// the task's, so the wait below still reports the end.
		_ = c.Tasks.Follow(ctx, id, client.Follower{
			Log:      func(l api.LogLine) { _ = m.writeLogLineTo(m.errOut, l, false) },
			Progress: func(p api.TaskProgress) { fmt.Fprintln(m.errOut, progressLine(p)) },
		})
	}
	t, err := c.Tasks.Wait(ctx, id, 0)
	if err != nil {
		return err
	}
	return m.finish(t)
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

// progressLine shows a progress report: "[ 40%] copying files".
func progressLine(p api.TaskProgress) string {
	return strings.TrimSpace(fmt.Sprintf("[%3.0f%%] %s", p.Percent, p.Message))
}
