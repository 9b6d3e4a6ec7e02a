package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/scale"
)

// Reconcile brings every pool to its desired size (scale.Service.Reconcile):
// on a timer, and at once when a pool changes (scale.Service.Kicked). It
// works from stored state, so a restart or a new leader picks up where the
// last one stopped.
type Reconcile struct {
	Pools *scale.Service
	Log   *slog.Logger
	// Interval between passes when nothing changes; default 2s.
	Interval time.Duration
}

func (r *Reconcile) Name() string { return "reconcile" }

func (r *Reconcile) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	return Loop(ctx, r.Log, r.Name(), 0, fixed(interval), r.Pools.Kicked(), func(ctx context.Context) error {
		res, err := r.Pools.Reconcile(ctx)
		if res != (scale.ReconcileResult{}) {
			r.Log.Debug("pools reconciled", "launched", res.Launched, "drained", res.Drained, "released", res.Released, "removed", res.Removed)
		}
		return err
	})
}
