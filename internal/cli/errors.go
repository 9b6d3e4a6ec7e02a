package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/drover-run/drover/api"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the API refused, the server was unreachable, a task failed
	exitUsage = 2 // the command line itself was wrong
)

// usageError is a mistake on the command line: a bad flag, argument or
// command. It exits 2, so scripts can tell it from a failure of the call.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exactArgs accepts exactly the named positional arguments, as a usage error
// otherwise (cobra's own validators return plain errors).
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		switch len(names) {
		case 0:
			return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
		case 1:
			return usageErrorf("%s takes 1 argument, %s; got %d", cmd.CommandPath(), names[0], len(args))
		default:
			return usageErrorf("%s takes %d arguments, %v; got %d", cmd.CommandPath(), len(names), names, len(args))
		}
	}
}

// maxArgs accepts at most n positional arguments.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErrorf("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// taskError is a task that ended without completing, reported by the
// commands that wait for one so that their exit code says so.
type taskError struct{ task *api.Task }

func (e *taskError) Error() string {
	t := e.task
	msg := fmt.Sprintf("task %s %s", t.TaskID, t.Status)
	reason := t.Error
	if reason == "" && t.Result != nil {
		reason = t.Result.Error
	}
	if reason != "" {
		msg += ": " + reason
	}
	if t.Result != nil && t.Result.ExitCode != 0 {
		msg += fmt.Sprintf(" (exit code %d)", t.Result.ExitCode)
	}
	return msg
}

// report prints err for the person at the terminal and returns the exit
// code it deserves.
func (m *meta) report(cmd *cobra.Command, err error) int {
	if ue, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprintf(m.errOut, "Error: %s\nRun '%s --help' for usage.\n", ue.msg, cmd.CommandPath())
		return exitUsage
	}
	if te, ok := errors.AsType[*taskError](err); ok {
		// A task's own exit code is the command's, as if it had run here
		// (1..125: the shell keeps 126 and above for itself).
		fmt.Fprintf(m.errOut, "Error: %v\n", err)
		if r := te.task.Result; r != nil && r.ExitCode > 0 && r.ExitCode < 126 {
			return r.ExitCode
		}
		return exitError
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(m.errOut, "Error: interrupted")
		return exitError
	case errors.Is(err, syscall.ECONNREFUSED):
		fmt.Fprintf(m.errOut, "Error: %v\nIs the server running? Start one with 'drover dev', or point --api-url or $%s at it.\n", err, envAPIURL)
		return exitError
	}
	// An API error prints as "CODE: message"; its details follow, one per
	// line (document 001's DEVICE_NOT_FOUND lists the available devices).
	fmt.Fprintf(m.errOut, "Error: %v\n", err)
	if ae, ok := errors.AsType[*api.Error](err); ok {
		for _, k := range slices.Sorted(maps.Keys(ae.Details)) {
			v, _ := json.Marshal(ae.Details[k])
			fmt.Fprintf(m.errOut, "  %s: %s\n", k, v)
		}
	}
	return exitError
}
