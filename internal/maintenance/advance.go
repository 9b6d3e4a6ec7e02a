package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/workflow"
)

// Advance reconciles workflow runs with their tasks (workflow.Engine.Advance):
// at once when it starts (a new leader picks up what a crashed one left),
// whenever a task of a run ends (the engine's wake-up, for latency), and
// every Interval whatever happens, so that a wake-up lost with a crashed
// server delays a run by at most Interval.
type Advance struct {
	Engine   *workflow.Engine
	Interval time.Duration // default 1s
	Logger   *slog.Logger
}

// Name names the duty.
func (a *Advance) Name() string { return "workflow-advance" }

// Run works until ctx ends.
func (a *Advance) Run(ctx context.Context) error {
	interval := a.Interval
	if interval <= 0 {
		interval = time.Second
	}
	return Loop(ctx, a.Logger, a.Name(), 0, fixed(interval), a.Engine.Woken(), a.Engine.Advance)
}
