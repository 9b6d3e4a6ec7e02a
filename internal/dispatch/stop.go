package dispatch

import (
	"context"

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
		s.wake.notify()
	}
	call(s.hooks.WorkerChanged, w)
	return ids, nil
}
