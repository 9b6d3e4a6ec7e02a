package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// notifier wakes every goroutine waiting for work. A waiter takes the
// channel before it looks for work and waits on it after finding none, so a
// notify that lands in between is never lost.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// Register admits a worker: a new one, or one coming back (same id, its
// state and counters kept by the store).
func (s *Service) Register(ctx context.Context, w *domain.Worker) (*domain.Worker, error) {
	w.State = domain.WorkerOnline
	out, err := s.store.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: w, Now: s.storeNow()})
	if err != nil {
		return nil, err
	}
	s.fleet.invalidate()
	call(s.hooks.WorkerChanged, out)
	s.wake.notify() // its pinned tasks may now be leasable
	return out, nil
}

// HeartbeatResult tells a worker what to stop and whether to drain.
type HeartbeatResult struct {
	Worker *domain.Worker
	Stop   []Stop
}

// Stop orders a worker to abandon one lease.
type Stop struct {
	Ref    domain.TaskRef
	Reason string // "cancelled" or "lease_lost"
}

// Heartbeat records a worker's resources, renews all its leases, and returns
// the leases it believes it holds but no longer does.
func (s *Service) Heartbeat(ctx context.Context, workerID string, res domain.Resources, held []domain.TaskRef) (*HeartbeatResult, error) {
	w, err := s.store.WorkerHeartbeat(ctx, &store.WorkerHeartbeatParams{ID: workerID, Resources: res, Now: s.storeNow()})
	if err != nil {
		return nil, err
	}
	lost, err := s.store.TaskLeaseExtend(ctx, &store.TaskLeaseExtendParams{
		WorkerID: workerID, Held: held, TTL: s.Config().LeaseTTL, Now: s.storeNow(),
	})
	if err != nil {
		return nil, err
	}
	call(s.hooks.WorkerHeartbeat, w)
	out := &HeartbeatResult{Worker: w}
	for _, ref := range lost {
		reason := "lease_lost"
		if t, err := s.store.TaskGet(ctx, ref.TaskID); err == nil && t.State == domain.TaskCancelled {
			reason = "cancelled"
		}
		out.Stop = append(out.Stop, Stop{Ref: ref, Reason: reason})
	}
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
	for {
		woken := s.wake.wait()
		tasks, err := s.store.TaskLease(ctx, &store.TaskLeaseParams{Worker: w, Max: limit, TTL: cfg.LeaseTTL, Now: s.storeNow()})
		if err != nil || len(tasks) > 0 {
			for _, t := range tasks {
				call(s.hooks.TaskStarted, t)
			}
			return tasks, err
		}
		left := time.Until(deadline)
		if left <= 0 || ctxDone(ctx) {
			return nil, nil
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
		case <-woken:
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
	outs, err := s.store.TaskFinishMany(ctx, &store.TaskFinishManyParams{
		WorkerID: workerID, Results: results, Backoff: s.backoff, Now: s.storeNow(),
	})
	if err != nil {
		return nil, err
	}
	requeued := false
	for _, o := range outs {
		if o.StaleLease || o.Task == nil {
			continue
		}
		requeued = requeued || o.State == domain.TaskPending
		s.observeDuration(o.Task)
		call(s.hooks.TaskFinished, o.Task)
	}
	if requeued {
		s.wake.notify()
	}
	return outs, nil
}

// AppendLogs stores log lines from worker workerID. Lines for leases the
// worker no longer holds are dropped: a zombie must not write into its
// successor's log.
func (s *Service) AppendLogs(ctx context.Context, workerID string, lines []domain.LogLine, epochs []int64) error {
	kept := lines[:0]
	valid := map[string]bool{}
	for i, l := range lines {
		key := l.TaskID
		ok, seen := valid[key]
		if !seen {
			t, err := s.store.TaskGet(ctx, l.TaskID)
			ok = err == nil && t.State == domain.TaskRunning && t.LeaseOwner == workerID && t.LeaseEpoch == epochs[i]
			valid[key] = ok
		}
		if ok {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return s.store.LogAppend(ctx, kept)
}

// Deregister ends a worker's session cleanly: its leases go back to their
// queues at once (no waiting for expiry) and it is offline until it returns.
func (s *Service) Deregister(ctx context.Context, workerID string) error {
	ids, err := s.store.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: workerID, Reason: "worker left", Now: s.storeNow()})
	if err != nil {
		return err
	}
	if err := s.store.WorkerSetState(ctx, &store.WorkerSetStateParams{ID: workerID, State: domain.WorkerOffline, Now: s.storeNow()}); err != nil {
		return err
	}
	if len(ids) > 0 {
		s.log.Info("worker left; its tasks were handed back", "worker_id", workerID, "tasks", len(ids))
		s.wake.notify()
	}
	if w, err := s.store.WorkerGet(ctx, workerID); err == nil {
		call(s.hooks.WorkerChanged, w)
	}
	return nil
}
