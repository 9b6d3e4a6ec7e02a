package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/workflow"
)

// Cron fires the workflows' schedules (workflow.Engine.FireDue). It sleeps
// until the earliest next tick (at most MaxSleep, so a clock jump or a
// schedule made on another server is noticed), or until a schedule is
// added here. Ten thousand idle schedules cost one indexed query per tick.
type Cron struct {
	Engine   *workflow.Engine
	MaxSleep time.Duration // default 30s
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now
}

// Name names the duty.
func (c *Cron) Name() string { return "cron" }

// Run works until ctx ends.
func (c *Cron) Run(ctx context.Context) error {
	maxSleep := c.MaxSleep
	if maxSleep <= 0 {
		maxSleep = 30 * time.Second
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-c.Engine.CronChanged():
		}
		wait := maxSleep
		_, next, err := c.Engine.FireDue(ctx, now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("firing cron schedules", "error", err)
			wait = time.Second
		case !next.IsZero():
			wait = min(max(time.Until(next), 0), maxSleep)
		}
		timer.Reset(wait)
	}
}
