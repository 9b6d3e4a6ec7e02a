package dispatch

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// StopWorker stops a worker from the control plane (document 003's DELETE
// /worker). In this order, so that nothing is leased in between:
//   - a live worker becomes draining: the lease statement gives it nothing
//     more, and its next heartbeat tells it to drain, after which it
//     deregisters (offline) and its process exits;
//   - every lease it holds goes back to its queue at once, not counted
//     against the task's retries (the stop is no fault of the task's); the
//     same heartbeat reports those leases lost, so the worker kills their
//     processes, and any result it still sends is refused as stale.
//
// An offline worker has already stopped: only its leases, if the reaper
// has not rescued them yet, are handed back. It returns the ids of the
// tasks handed back.
func (s *Service) StopWorker(ctx context.Context, id string) ([]string, error) {
	w, err := s.Worker(ctx, id)
	if err != nil {
		return nil, err
	}
	turn := s.order.begin()
	defer turn.end()
	if w.State.Live() {
		if err := s.store.WorkerSetState(ctx, &store.WorkerSetStateParams{ID: id, State: domain.WorkerDraining, Now: s.storeNow()}); err != nil {
			return nil, notFound(err, domain.CodeDeviceNotFound, "device", id)
		}
		w.State = domain.WorkerDraining
	}
	ids, err := s.store.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: id, Reason: "worker stopped", Now: s.storeNow()})
	if err != nil {
		return nil, err
	}
	s.fleet.invalidate()
	if len(ids) > 0 {
		s.log.Info("worker stopped; its tasks were handed back", "worker_id", id, "tasks", len(ids))
		s.wake.all() // rare; the store returns only the ids
	}
	later(turn, s.hooks.WorkerChanged, w)
	return ids, nil
}

// sitOut ends the long poll of a worker that may lease nothing now
// (suspended, or stopped and draining: store.WorkerLeaseGate). Waiting as a
// waiter it would take wake-ups meant for workers that can lease, and a
// task handed to it would wait for another worker's next poll; so it
// leaves the waiters at once, passing on any wake-up it holds, and sits
// out the rest of its poll (so its worker does not poll in a loop),
// looking at the gate every second so that a resume takes effect within
// one, whichever server it was made on.
func (s *Service) sitOut(ctx context.Context, wt *waiter, left time.Duration, err error) error {
	s.wake.remove(wt)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(left)
	t := time.NewTimer(min(left, time.Second))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		if gated, err := s.store.WorkerLeaseGate(ctx, wt.worker.ID); err != nil || !gated {
			return err // resumed: the worker polls again at once
		}
		t.Reset(min(left, time.Second))
	}
}
