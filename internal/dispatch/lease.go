package dispatch

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Register admits a worker under an id the store picks (see
// store.WorkerJoin): the one it proves it had with returningID and the hash
// of that registration's credential, else the first free one of w.Name,
// w.Name-2, …. Servers sharing a store never hand out one id twice.
func (s *Service) Register(ctx context.Context, w *domain.Worker, returningID, returningCredentialHash string) (*domain.Worker, error) {
	if err := CheckWorker(w); err != nil {
		return nil, err
	}
	w.State = domain.WorkerOnline
	turn := s.order.begin()
	defer turn.end()
	out, err := s.store.WorkerJoin(ctx, &store.WorkerJoinParams{
		Worker: w, ReturningID: returningID, ReturningCredentialHash: returningCredentialHash, Now: s.storeNow(),
	})
	if err != nil {
		return nil, err
	}
	s.fleet.invalidate()
	later(turn, s.hooks.WorkerChanged, out)
	s.wake.keys(pinKey(out.ID)) // a poll of its earlier session may wait for its pinned tasks
	return out, nil
}

// Lease hands worker w up to limit tasks it may run, waiting up to wait for
// some to appear. It returns early, with none, when ctx ends.
func (s *Service) Lease(ctx context.Context, w *domain.Worker, limit int, wait time.Duration) ([]*domain.Task, error) {
	if w.State == domain.WorkerDraining || limit <= 0 {
		return nil, nil
	}
	cfg := s.Config()
	wait = min(wait, cfg.MaxLeaseWait)
	deadline := time.Now().Add(wait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	wt := s.wake.add(w)
	defer s.wake.remove(wt)
	for {
		turn := s.order.begin()
		tasks, err := s.store.TaskLease(ctx, &store.TaskLeaseParams{Worker: w, Max: limit, TTL: cfg.LeaseTTL, Now: s.storeNow()})
		for _, t := range tasks {
			later(turn, s.hooks.TaskStarted, t)
		}
		turn.end()
		if err != nil || len(tasks) > 0 {
			for _, t := range tasks {
				s.resolveSecrets(ctx, t)
			}
			return tasks, err
		}
		left := time.Until(deadline)
		if left <= 0 || ctxDone(ctx) {
			return nil, nil
		}
		if gated, err := s.store.WorkerLeaseGate(ctx, w.ID); err != nil || gated {
			return nil, s.sitOut(ctx, wt, left, err)
		}
		// Sleep until woken, until delayed work comes due, or until the wait ends.
		next, err := s.store.TaskNextAvailable(ctx, &store.TaskNextAvailableParams{Queues: w.Queues, Now: s.storeNow()})
		if err != nil {
			return nil, err
		}
		if !next.IsZero() {
			left = min(left, max(time.Until(next), time.Millisecond))
		}
		if timer == nil {
			timer = time.NewTimer(left)
		} else {
			timer.Reset(left)
		}
		select {
		case <-wt.ch:
			s.wake.rearm(wt) // before looking again, so no wake-up falls between
		case <-timer.C:
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// Finish records attempt results from worker workerID. Each is fenced by its
// lease: a result for a lease no longer held changes nothing and comes back
// with StaleLease set.
func (s *Service) Finish(ctx context.Context, workerID string, results []domain.AttemptResult) ([]domain.AttemptOutcome, error) {
	turn := s.order.begin()
	defer turn.end()
	outs, err := s.store.TaskFinishMany(ctx, &store.TaskFinishManyParams{
		WorkerID: workerID, Results: results, Backoff: s.backoff, Now: s.storeNow(),
	})
	if err != nil {
		return nil, err
	}
	var requeued []*domain.Task
	for _, o := range outs {
		if o.StaleLease || o.Task == nil {
			continue
		}
		if o.State == domain.TaskPending {
			requeued = append(requeued, o.Task)
		}
		s.observeDuration(o.Task)
		later(turn, s.hooks.TaskFinished, o.Task)
	}
	if len(requeued) > 0 {
		s.wake.tasks(requeued)
	}
	return outs, nil
}

// AppendLogs stores log lines from worker workerID, lines[i] written under
// the lease epoch epochs[i]. Lines for leases the worker no longer holds are
// dropped by the store, in the append's own transaction: a zombie must not
// write into its successor's log.
func (s *Service) AppendLogs(ctx context.Context, workerID string, lines []domain.LogLine, epochs []int64) error {
	_, err := s.store.LogAppend(ctx, &store.LogAppendParams{WorkerID: workerID, Lines: lines, Epochs: epochs})
	return err
}

// Deregister ends a worker's session cleanly: its leases go back to their
// queues at once (no waiting for expiry) and it is offline until it returns.
func (s *Service) Deregister(ctx context.Context, workerID string) error {
	turn := s.order.begin()
	defer turn.end()
	ids, err := s.store.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: workerID, Reason: "worker left", Now: s.storeNow()})
	if err != nil {
		return err
	}
	if err := s.store.WorkerSetState(ctx, &store.WorkerSetStateParams{ID: workerID, State: domain.WorkerOffline, Now: s.storeNow()}); err != nil {
		return err
	}
	if len(ids) > 0 {
		s.log.Info("worker left; its tasks were handed back", "worker_id", workerID, "tasks", len(ids))
		s.wake.all() // rare; the store returns only the ids
	}
	if w, err := s.store.WorkerGet(ctx, workerID); err == nil {
		later(turn, s.hooks.WorkerChanged, w)
	}
	return nil
}

// resolveSecrets puts the secrets an engine-made task refers to into the
// payload its worker gets (and nowhere else). Only the engine's own tasks
// are resolved: their idempotency keys carry a prefix clients may not use,
// so no client can name a secret into a task of its own.
func (s *Service) resolveSecrets(ctx context.Context, t *domain.Task) {
	if s.secrets == nil || !strings.HasPrefix(t.IdempotencyKey, domain.EngineKeyPrefix) ||
		!bytes.Contains(t.Payload, []byte(SecretRef)) {
		return
	}
	p, err := s.secrets(ctx, t)
	if err != nil {
		s.log.Warn("a task's secrets could not be resolved; it runs without them", "task_id", t.ID, "err", err)
		return
	}
	t.Payload = p
}
