package app

import (
	"log/slog"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/workflow"
)

// wakeWorkflows makes the task engine's hooks also wake the workflow
// engine when a task of a run ends. The wake-up only shortens the wait:
// runs advance from stored state whether or not it happens.
func wakeWorkflows(h dispatch.Hooks, wake func()) dispatch.Hooks {
	chain := func(next func(*domain.Task)) func(*domain.Task) {
		return func(t *domain.Task) {
			if next != nil {
				next(t)
			}
			if t.Labels["run_id"] != "" && t.State.Terminal() {
				wake()
			}
		}
	}
	h.TaskFinished, h.TaskCancelled = chain(h.TaskFinished), chain(h.TaskCancelled)
	return h
}

// newWorkflows builds the workflow engine; connection secrets are sealed
// with the server key when there is one.
func newWorkflows(st store.Store, tasks *dispatch.Service, sec Security, log *slog.Logger) *workflow.Engine {
	opts := workflow.Options{Store: st, Tasks: tasks, Logger: log.With("component", "workflow")}
	if sealer, err := auth.LoadServerKey(sec.SecretKeyFile, sec.SecretKey); err == nil && sealer != nil {
		opts.Sealer = sealer
	}
	return workflow.New(opts)
}

// Workflows is the server's workflow engine.
func (s *Server) Workflows() *workflow.Engine { return s.workflows }
