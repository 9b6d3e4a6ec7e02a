package dispatch

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/store"
)

// Leader reports whether this server should run the singleton duties now.
// With one server it always should; with several on PostgreSQL, a lease row
// in the database decides.
type Leader interface {
	IsLeader() bool
}

type alwaysLeader struct{}

func (alwaysLeader) IsLeader() bool { return true }

// RunReaper sweeps expired leases and silent workers every ReaperInterval
// until ctx ends. It waits one lease TTL after the engine started before the
// first sweep, so leases of workers that kept running through a server
// restart are renewed, not rescued. leader may be nil (always leader).
func (s *Service) RunReaper(ctx context.Context, leader Leader) error {
	if leader == nil {
		leader = alwaysLeader{}
	}
	grace := time.Until(s.start.Add(s.Config().LeaseTTL))
	if s.clock != nil {
		grace = 0 // tests drive Sweep directly
	}
	select {
	case <-time.After(grace):
	case <-ctx.Done():
		return nil
	}
	tick := time.NewTicker(s.Config().ReaperInterval)
	defer tick.Stop()
	for {
		if leader.IsLeader() {
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("sweep failed", "err", err)
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// Sweep runs one pass of the reaper: leases that expired go back to their
// queues (or fail when their retries are spent), and workers not seen for
// the offline threshold are marked offline.
func (s *Service) Sweep(ctx context.Context) error {
	cfg := s.Config()
	for {
		rescued, err := s.store.TaskRescueExpired(ctx, &store.TaskRescueExpiredParams{Backoff: s.backoff, LostRetries: cfg.LostRetries, Limit: 1000, Now: s.storeNow()})
		if err != nil {
			return err
		}
		for _, t := range rescued {
			s.log.Warn("lease expired", "task_id", t.ID, "state", t.State, "attempt", t.Attempt)
			call(s.hooks.TaskFinished, t)
		}
		if len(rescued) > 0 {
			s.wake.notify()
		}
		if len(rescued) < 1000 {
			break
		}
	}
	before := s.now().Add(-cfg.OfflineThreshold)
	gone, err := s.store.WorkerMarkOffline(ctx, &store.WorkerMarkOfflineParams{Before: before, Now: s.storeNow()})
	if err != nil {
		return err
	}
	for _, w := range gone {
		s.log.Warn("worker offline", "worker_id", w.ID, "last_seen", w.LastSeen)
		call(s.hooks.WorkerChanged, w)
	}
	if len(gone) > 0 {
		s.fleet.invalidate()
	}
	return nil
}

// Now is the engine's clock, for callers that compute with it.
func (s *Service) Now() time.Time { return s.now() }

var _ Leader = alwaysLeader{}
