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
// until ctx ends, while leader says this server leads. leader may be nil:
// always leader, as a lone server is.
//
// Failover grace (RELIABILITY rule 4): the reaper sweeps only once this
// server has led for one lease TTL. A server that just started counts as
// just elected. In that TTL every worker that is alive heartbeats and
// renews its leases, so a restart or a change of leader — during which no
// one swept, and workers may have been cut off from the servers — never
// rescues the lease of a worker that kept running; the leases of dead
// workers are rescued one TTL later than they would have been.
func (s *Service) RunReaper(ctx context.Context, leader Leader) error {
	if leader == nil {
		leader = alwaysLeader{}
	}
	var since time.Time // when this server was last seen to become leader; zero while it does not lead
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil
		}
		cfg := s.Config()
		wait := cfg.ReaperInterval
		switch {
		case !leader.IsLeader():
			if !since.IsZero() {
				s.log.Info("no longer leader: the reaper stops")
			}
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
			wait = cfg.LeaseTTL
			s.log.Info("leader: the reaper starts after the failover grace", "grace", cfg.LeaseTTL)
		case time.Since(since) < cfg.LeaseTTL:
			wait = cfg.LeaseTTL - time.Since(since)
		default:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("sweep failed", "err", err)
			}
		}
		timer.Reset(wait)
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
		s.wake.tasks(rescued)
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
