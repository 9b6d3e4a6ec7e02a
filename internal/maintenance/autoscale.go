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
	return Every(ctx, a.Log, a.Name(), fixed(interval), func(ctx context.Context) error {
		_, err := a.Pools.Autoscale(ctx)
		return err
	})
}
