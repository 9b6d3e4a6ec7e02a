package dispatch

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/store"
)

// Sweep runs one pass of both leader duties of the task engine: leases
// that expired go back to their queues, and silent workers go offline.
func (s *Service) Sweep(ctx context.Context) error {
	if err := s.RescueExpired(ctx); err != nil {
		return err
	}
	return s.MarkOffline(ctx)
}

// RescueExpired sends every lease that expired back to its queue (or fails
// its task when its retries are spent).
func (s *Service) RescueExpired(ctx context.Context) error {
	cfg := s.Config()
	for {
		turn := s.order.begin()
		rescued, err := s.store.TaskRescueExpired(ctx, &store.TaskRescueExpiredParams{Backoff: s.backoff, LostRetries: cfg.LostRetries, Limit: 1000, Now: s.storeNow()})
		for _, t := range rescued {
			s.log.Warn("lease expired", "task_id", t.ID, "state", t.State, "attempt", t.Attempt)
			later(turn, s.hooks.TaskFinished, t)
		}
		turn.end()
		if err != nil {
			return err
		}
		s.wake.tasks(rescued)
		if len(rescued) < 1000 {
			return nil
		}
	}
}

// MarkOffline marks workers not seen for the offline threshold offline.
func (s *Service) MarkOffline(ctx context.Context) error {
	cfg := s.Config()
	before := s.now().Add(-cfg.OfflineThreshold)
	turn := s.order.begin()
	defer turn.end()
	gone, err := s.store.WorkerMarkOffline(ctx, &store.WorkerMarkOfflineParams{Before: before, Now: s.storeNow()})
	if err != nil {
		return err
	}
	for _, w := range gone {
		s.log.Warn("worker offline", "worker_id", w.ID, "last_seen", w.LastSeen)
		later(turn, s.hooks.WorkerChanged, w)
	}
	if len(gone) > 0 {
		s.fleet.invalidate()
	}
	return nil
}

// Now is the engine's clock, for callers that compute with it.
func (s *Service) Now() time.Time { return s.now() }
