package scale

import (
	"context"
	"errors"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// ReconcileResult says what one pass did, for logs and tests.
type ReconcileResult struct {
	Launched int // workers started
	Drained  int // drains begun
	Released int // tasks handed back at a drain deadline
	Removed  int // workers disposed of after their drain
}

// Reconcile makes one pass over every pool: it finishes drains (handing
// back what runs past the deadline, then removing the worker), starts the
// workers a pool lacks and drains those it has too many of. It reads
// everything it acts on from the store, in three queries whatever the
// number of pools, so a pass over pools that need nothing is cheap.
func (s *Service) Reconcile(ctx context.Context) (ReconcileResult, error) {
	var res ReconcileResult
	if s.stopped.Load() {
		return res, nil
	}
	pools, err := s.store.PoolList(ctx, &store.PoolListParams{})
	if err != nil {
		return res, err
	}
	live, err := s.store.PoolWorkerList(ctx, &store.PoolWorkerListParams{Live: true})
	if err != nil {
		return res, err
	}
	drains, err := s.store.PoolDrainList(ctx, 0)
	if err != nil {
		return res, err
	}
	byID := make(map[int64]*domain.Pool, len(pools))
	for _, p := range pools {
		byID[p.ID] = p
	}
	byPool := map[int64][]*domain.Worker{}
	liveByID := make(map[string]*domain.Worker, len(live))
	for _, w := range live {
		byPool[w.PoolID] = append(byPool[w.PoolID], w)
		liveByID[w.ID] = w
	}
	draining := make(map[string]bool, len(drains))
	now := s.now()
	var errs []error
	for _, d := range drains {
		draining[d.WorkerID] = true
		if err := s.finishDrain(ctx, d, byID[d.PoolID], liveByID[d.WorkerID], now, &res); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range pools {
		if err := s.reconcilePool(ctx, p, byPool[p.ID], draining, now, &res); err != nil {
			errs = append(errs, err)
		}
	}
	// Workers of pools that no longer exist leave.
	for poolID, ws := range byPool {
		if byID[poolID] != nil {
			continue
		}
		for _, w := range ws {
			if !draining[w.ID] {
				errs = append(errs, s.drain(ctx, nil, poolID, w, now, &res))
			}
		}
	}
	return res, errors.Join(errs...)
}

// reconcilePool brings one pool's count of online workers, plus its
// launches under way, to its desired size.
func (s *Service) reconcilePool(ctx context.Context, p *domain.Pool, ws []*domain.Worker, draining map[string]bool, now time.Time, res *ReconcileResult) error {
	var active []*domain.Worker
	for _, w := range ws {
		if w.State == domain.WorkerOnline && !draining[w.ID] {
			active = append(active, w)
		}
	}
	pending := s.pendingLaunches(p.ID, ws, now)
	switch {
	case len(active)+pending < p.Points:
		return s.launch(ctx, p, p.Points-len(active)-pending, now, res)
	case len(active) > p.Points:
		var errs []error
		for _, w := range victims(active, len(active)-p.Points) {
			errs = append(errs, s.drain(ctx, p, p.ID, w, now, res))
		}
		return errors.Join(errs...)
	}
	return nil
}

// pendingLaunches forgets the launches of pool that registered (a worker
// asked for its name) or timed out, and counts the rest.
func (s *Service) pendingLaunches(pool int64, ws []*domain.Worker, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.pending[pool]
	if len(ls) == 0 {
		return 0
	}
	kept := ls[:0]
	for _, l := range ls {
		registered := false
		for _, w := range ws {
			if w.ID == l.name || w.Name == l.name {
				registered = true
				break
			}
		}
		if !registered && now.Sub(l.at) < s.startTTL {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		delete(s.pending, pool)
	} else {
		s.pending[pool] = kept
	}
	return len(kept)
}

func (s *Service) launch(ctx context.Context, p *domain.Pool, n int, now time.Time, res *ReconcileResult) error {
	prov, ok := s.providers[p.Provider]
	if !ok {
		return errors.New("pool " + p.Name + ": provider " + p.Provider + " is not available on this server")
	}
	names := make([]string, n)
	for i := range names {
		names[i] = workerName(p.ID)
	}
	if err := prov.Launch(ctx, p, names, p.Points); err != nil {
		s.log.Error("pool: launching workers failed", "pool_id", p.ID, "count", n, "err", err)
		return err
	}
	s.mu.Lock()
	for _, name := range names {
		s.pending[p.ID] = append(s.pending[p.ID], launch{name: name, at: now})
	}
	s.mu.Unlock()
	res.Launched += n
	s.log.Info("pool: workers launched", "pool_id", p.ID, "names", names, "points", p.Points)
	return nil
}

// drain begins the removal of w: it takes no new task from now on, and
// what it runs may finish until the pool's drain deadline.
func (s *Service) drain(ctx context.Context, p *domain.Pool, poolID int64, w *domain.Worker, now time.Time, res *ReconcileResult) error {
	err := s.store.PoolDrainStart(ctx, &store.PoolDrainStartParams{WorkerID: w.ID, PoolID: poolID, Deadline: now.Add(drainTimeout(p)), Now: s.storeNow()})
	if errors.Is(err, domain.ErrNotFound) {
		return nil // it left meanwhile
	}
	if err != nil {
		return err
	}
	res.Drained++
	s.log.Info("pool: draining worker", "pool_id", poolID, "worker_id", w.ID, "running", w.TasksActive, "deadline", drainTimeout(p).String())
	return nil
}

// finishDrain moves one drain on: a worker that left is removed; one past
// its deadline has its leases handed back (it is told to stop them at its
// next heartbeat), and one that is still there RemoveGrace later is
// removed anyway.
func (s *Service) finishDrain(ctx context.Context, d store.PoolDrain, p *domain.Pool, w *domain.Worker, now time.Time, res *ReconcileResult) error {
	want := 0
	if p != nil {
		want = p.Points
	}
	if w == nil || w.State != domain.WorkerDraining {
		// It left (deregistered, or was found offline), or was re-registered.
		gone, err := s.store.WorkerGet(ctx, d.WorkerID)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		if gone != nil && gone.State == domain.WorkerOnline {
			// Registered again after its drain began: drain it again.
			return s.store.PoolDrainStart(ctx, &store.PoolDrainStartParams{WorkerID: d.WorkerID, PoolID: d.PoolID, Deadline: d.Deadline, Now: s.storeNow()})
		}
		return s.remove(ctx, d, p, gone, want, res)
	}
	if now.Before(d.Deadline) {
		return nil
	}
	if w.TasksActive > 0 {
		ids, err := s.store.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: w.ID, Reason: "drain deadline passed", Now: s.storeNow()})
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			res.Released += len(ids)
			s.log.Warn("pool: drain deadline passed; tasks handed back", "pool_id", d.PoolID, "worker_id", w.ID, "tasks", ids)
			s.wake(nil) // any queue: a released task may be pinned
		}
	}
	if now.Before(d.Deadline.Add(s.grace)) {
		return nil
	}
	// It did not leave on its own: make it.
	if _, err := s.store.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: w.ID, Reason: "worker removed", Now: s.storeNow()}); err != nil {
		return err
	}
	if err := s.store.WorkerSetState(ctx, &store.WorkerSetStateParams{ID: w.ID, State: domain.WorkerOffline, Now: s.storeNow()}); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return s.remove(ctx, d, p, w, want, res)
}

func (s *Service) remove(ctx context.Context, d store.PoolDrain, p *domain.Pool, w *domain.Worker, want int, res *ReconcileResult) error {
	if w != nil && p != nil {
		if prov, ok := s.providers[p.Provider]; ok {
			if err := prov.Remove(ctx, p, w, want); err != nil {
				s.log.Error("pool: removing worker failed; will retry", "pool_id", d.PoolID, "worker_id", w.ID, "err", err)
				return err
			}
		}
	} else if w != nil {
		// The pool is gone, and its provider settings with it: every
		// provider that can stop a worker by itself does.
		for _, prov := range s.providers {
			if r, ok := prov.(interface {
				Forget(ctx context.Context, w *domain.Worker) error
			}); ok {
				_ = r.Forget(ctx, w)
			}
		}
	}
	if err := s.store.PoolDrainEnd(ctx, d.WorkerID); err != nil {
		return err
	}
	res.Removed++
	s.log.Info("pool: worker removed", "pool_id", d.PoolID, "worker_id", d.WorkerID)
	return nil
}

// WorkerExited is told by a provider that the process of the worker it
// launched as name, with process id pid, has ended. If that worker is still
// recorded as live, its leases go back to their queues at once (rather than
// at their expiry) and it is marked offline, so that the next pass replaces
// it.
func (s *Service) WorkerExited(ctx context.Context, name string, pid int) {
	w, err := s.store.WorkerGet(ctx, name)
	if err != nil || w.PID != pid || !w.State.Live() {
		s.kickReconciler()
		return
	}
	ids, err := s.store.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: w.ID, Reason: "worker process exited", Now: s.storeNow()})
	if err == nil {
		err = s.store.WorkerSetState(ctx, &store.WorkerSetStateParams{ID: w.ID, State: domain.WorkerOffline, Now: s.storeNow()})
	}
	if err != nil {
		s.log.Error("pool: recording a worker's exit failed", "worker_id", w.ID, "err", err)
	}
	if len(ids) > 0 {
		s.wake(nil) // any queue: a released task may be pinned
	}
	s.log.Warn("pool: worker process exited", "pool_id", w.PoolID, "worker_id", w.ID, "tasks_handed_back", len(ids))
	s.kickReconciler()
}
