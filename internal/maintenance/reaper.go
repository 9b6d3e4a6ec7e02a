package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
)

// Reaper rescues expired leases: their tasks go back to their queues, or
// fail when their retries are spent (docs/guarantees.md, "lost workers").
//
// Failover grace: it sweeps only once this server has led for one lease
// TTL. A server that just started counts as just elected. In that TTL
// every worker that is alive heartbeats and renews its leases, so a
// restart or a change of leader — during which no one swept, and workers
// may have been cut off from the servers — never rescues the lease of a
// worker that kept running; a dead worker's leases are rescued one TTL
// later than they would have been (Nomad's failover heartbeat TTL).
type Reaper struct {
	Engine *dispatch.Service
	Log    *slog.Logger
}

func (r *Reaper) Name() string { return "reaper" }

func (r *Reaper) Run(ctx context.Context) error {
	grace := r.Engine.Config().LeaseTTL
	r.Log.Info("leader: the reaper starts after the failover grace", "grace", grace)
	return Loop(ctx, r.Log, r.Name(), grace, func() time.Duration { return r.Engine.Config().ReaperInterval }, nil, r.Engine.RescueExpired)
}
