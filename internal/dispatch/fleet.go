package dispatch

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// fleetCache is a snapshot of the registered workers, used to admit tasks
// without a store read per submit. It may be up to ttl stale; admission
// reloads it once before refusing anything, so a worker that just registered
// (perhaps on another server) is never missed.
type fleetCache struct {
	store store.Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	workers []*domain.Worker
	loaded  time.Time
	hold    time.Duration // how long this snapshot serves: ttl, or longer when loading is slow
	// prospective, if set, gives the workers pools may start (one per
	// pool, never registered): admission counts them, so a queue that only
	// a pool scaled to zero serves takes tasks.
	prospective func(ctx context.Context) ([]*domain.Worker, error)
}

// SetProspective adds the workers pools may start to what admission sees;
// call it before serving.
func (s *Service) SetProspective(f func(ctx context.Context) ([]*domain.Worker, error)) {
	s.fleet.prospective = f
}

// get returns the snapshot, reloading it when stale or when fresh is set.
func (f *fleetCache) get(ctx context.Context, fresh bool) ([]*domain.Worker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !fresh && !f.loaded.IsZero() && f.now().Sub(f.loaded) < f.hold {
		return f.workers, nil
	}
	began := time.Now()
	ws, err := f.store.WorkerList(ctx, &store.WorkerListParams{})
	if err != nil {
		return nil, err
	}
	if f.prospective != nil {
		ps, err := f.prospective(ctx)
		if err != nil {
			return nil, err
		}
		ws = append(ws, ps...)
	}
	// A snapshot serves at least 20 times as long as it took to load, so
	// that reloading takes at most a twentieth of the time: listing 10,000
	// workers every second was a tenth of the server's CPU.
	f.workers, f.loaded, f.hold = ws, f.now(), max(f.ttl, 20*time.Since(began))
	return ws, nil
}

// invalidate forgets the snapshot after a registration or removal here.
func (f *fleetCache) invalidate() {
	f.mu.Lock()
	f.loaded = time.Time{}
	f.mu.Unlock()
}

// admit checks t against the fleet:
//   - a type no worker has ever handled, and that is not built in, is INVALID_TASK_TYPE;
//   - a pin to an unknown worker is DEVICE_NOT_FOUND, to an offline one DEVICE_OFFLINE;
//   - when at least one registered worker serves t's queue and none of them
//     could ever run t (handler, requirements), it is INSUFFICIENT_RESOURCES.
//
// A queue no registered worker serves admits every valid task: a queue
// fills before its workers come (pinned hosts, pools scaled from zero).
func admit(ws []*domain.Worker, t *domain.Task) error {
	if !slices.Contains(domain.BuiltinTypes, t.Type) && !slices.ContainsFunc(ws, func(w *domain.Worker) bool { return w.Handles(t.Type) }) {
		return domain.Errorf(domain.CodeInvalidTaskType, "task type '%s' is not built in and no registered worker handles it", t.Type).
			With("task_type", t.Type).With("builtin_types", domain.BuiltinTypes)
	}
	if t.DeviceID != "" {
		i := slices.IndexFunc(ws, func(w *domain.Worker) bool { return w.ID == t.DeviceID })
		if i < 0 {
			return domain.Errorf(domain.CodeDeviceNotFound, "device '%s' does not exist", t.DeviceID).
				With("device_id", t.DeviceID).With("available_devices", workerIDs(ws))
		}
		w := ws[i]
		if !w.State.Live() {
			return domain.Errorf(domain.CodeDeviceOffline, "device '%s' is %s", w.ID, w.State).
				With("device_id", w.ID).With("last_seen", w.LastSeen)
		}
		if !w.CanRun(t) {
			return insufficient(t, "device '"+w.ID+"' cannot run this task (handler or requirements)")
		}
		return nil
	}
	// Only the queue's own workers judge a task: a queue no registered worker
	// serves admits it and it waits (a pinned host, a pool scaled from zero).
	serving := 0
	for _, w := range ws {
		if w.Listens(t.Queue) {
			serving++
			if w.CanRun(t) {
				return nil
			}
		}
	}
	if serving == 0 {
		return nil
	}
	return insufficient(t, "no registered device listening on queue '"+t.Queue+"' can run this task")
}

func insufficient(t *domain.Task, why string) error {
	e := domain.Errorf(domain.CodeInsufficientResources, "%s", why).With("task_type", t.Type).With("queue", t.Queue)
	if !t.Requirements.IsZero() {
		e = e.With("requirements", t.Requirements)
	}
	return e
}

func workerIDs(ws []*domain.Worker) []string {
	ids := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.ID != "" {
			ids = append(ids, w.ID)
		}
	}
	return ids
}
