package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/scale"
)

// Autoscale sizes the pools that have autoscaling on from the backlog of
// their queues (scale.Decide), every Interval. Each change is an event by
// "autoscaler"; the reconciler carries it out.
type Autoscale struct {
	Pools *scale.Service
	Log   *slog.Logger
	// Interval between passes; default 5s.
	Interval time.Duration
}

func (a *Autoscale) Name() string { return "autoscale" }

func (a *Autoscale) Run(ctx context.Context) error {
	interval := a.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
		if _, err := a.Pools.Autoscale(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("maintenance pass failed", "service", a.Name(), "err", err)
		}
	}
}
