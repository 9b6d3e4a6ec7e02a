package queue

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// WorkerView is a worker with what document 003 shows of it beyond the
// stored record. Worker holds only the fields store.WorkerStatus names:
// identity, queues, pid, state, times and counters; it may be shared with
// other callers (the fleet snapshot), so it is read-only.
type WorkerView struct {
	*domain.Worker
	Status      domain.WorkerStatus
	Suspended   bool
	SuspendedAt time.Time
}

// WorkerQuery selects workers. Set fields are ANDed; a dialect with
// precedence rules resolves them before asking.
type WorkerQuery struct {
	Name  string // the worker's id
	Queue string // serving this queue
	Node  string // on this machine (hostname)
	Host  string // serving this target host's pinned queue
}

// Workers lists the registered (not removed) workers matching q, by id,
// dead ones included: a monitor counts them. It reads a snapshot of the
// fleet at most WorkerSnapshotMaxAge old (the whole fleet is one query
// however many monitors poll); this server's own suspensions and stops
// refresh it at once.
func (s *Service) Workers(ctx context.Context, q WorkerQuery) ([]WorkerView, error) {
	return s.workers(ctx, q, false)
}

// The fleet snapshot behind Workers: fresh for WorkerSnapshotTTL; up to
// WorkerSnapshotMaxAge it is still served while one background read
// replaces it (so a steady stream of monitors never waits on the store);
// older, the caller reads the store itself. Reading 1,000 workers costs
// 5–20 ms on SQLite; answering from the snapshot, well under 1 ms.
const (
	WorkerSnapshotTTL    = 500 * time.Millisecond
	WorkerSnapshotMaxAge = time.Second
)

// fleetSnapshot is the last full WorkerStatusList.
type fleetSnapshot struct {
	mu         sync.Mutex // held during a synchronous read: concurrent readers share it
	rows       []store.WorkerStatus
	at         time.Time // when rows were read; zero: none, or forgotten after a change here
	gen        int64     // bumped by forgetFleet, so a background read started before a change is dropped
	refreshing bool
}

// fleetRows returns the snapshot, reading or refreshing it as its age says.
func (s *Service) fleetRows(ctx context.Context) ([]store.WorkerStatus, error) {
	f := &s.fleet
	f.mu.Lock()
	defer f.mu.Unlock()
	age := time.Since(f.at)
	if f.at.IsZero() || age > WorkerSnapshotMaxAge {
		rows, err := s.store.WorkerStatusList(ctx, &store.WorkerStatusListParams{})
		if err != nil {
			return nil, err
		}
		f.rows, f.at = rows, time.Now()
		return rows, nil
	}
	if age > WorkerSnapshotTTL && !f.refreshing {
		f.refreshing = true
		go s.refreshFleet(f.gen) // #nosec G118 -- a refresh shared by every reader must outlive the request that started it; it has its own timeout
	}
	return f.rows, nil
}

// refreshFleet reads the fleet in the background for fleetRows.
func (s *Service) refreshFleet(gen int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := s.store.WorkerStatusList(ctx, &store.WorkerStatusListParams{})
	f := &s.fleet
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshing = false
	if err == nil && gen == f.gen {
		f.rows, f.at = rows, time.Now()
	}
}

func (s *Service) workers(ctx context.Context, q WorkerQuery, fresh bool) ([]WorkerView, error) {
	queue := q.Queue
	if q.Host != "" {
		hq := domain.PinnedQueue(q.Host)
		if queue != "" && queue != hq {
			return []WorkerView{}, nil
		}
		queue = hq
	}
	var rows []store.WorkerStatus
	if fresh {
		var err error
		if rows, err = s.store.WorkerStatusList(ctx, &store.WorkerStatusListParams{ID: q.Name, Queue: queue, Hostname: q.Node}); err != nil {
			return nil, err
		}
	} else {
		all, err := s.fleetRows(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range all {
			if (q.Name == "" || r.Worker.ID == q.Name) && (queue == "" || r.Worker.Listens(queue)) &&
				(q.Node == "" || r.Worker.Hostname == q.Node) {
				rows = append(rows, r)
			}
		}
	}
	out := make([]WorkerView, len(rows))
	for i, r := range rows {
		out[i] = WorkerView{Worker: r.Worker, Status: domain.StatusOf(r.Worker, !r.SuspendedAt.IsZero()),
			Suspended: !r.SuspendedAt.IsZero(), SuspendedAt: r.SuspendedAt}
	}
	return out, nil
}

// forgetFleet drops the snapshot after a change made here.
func (s *Service) forgetFleet() {
	s.fleet.mu.Lock()
	s.fleet.at = time.Time{}
	s.fleet.gen++
	s.fleet.mu.Unlock()
}

// SuspendWorker stops a worker from leasing until ResumeWorker; it finishes what it
// runs. The suspension is stored: it holds on every server, across server
// restarts and across the worker's own re-registration.
func (s *Service) SuspendWorker(ctx context.Context, actor domain.Actor, id string) (WorkerView, error) {
	return s.setSuspended(ctx, actor, id, true)
}

// ResumeWorker lets a suspended worker lease again.
func (s *Service) ResumeWorker(ctx context.Context, actor domain.Actor, id string) (WorkerView, error) {
	return s.setSuspended(ctx, actor, id, false)
}

func (s *Service) setSuspended(ctx context.Context, actor domain.Actor, id string, suspended bool) (WorkerView, error) {
	if _, err := s.engine.Worker(ctx, id); err != nil {
		return WorkerView{}, err
	}
	// A suspended worker's polls sit out, checking the gate every second
	// (dispatch.Service.sitOut): a resume reaches it within a second, on
	// whichever server it polls.
	if err := s.store.WorkerSetSuspended(ctx, &store.WorkerSetSuspendedParams{ID: id, Suspended: suspended, Now: s.storeNow()}); err != nil {
		return WorkerView{}, err
	}
	s.forgetFleet()
	s.audit(actor, map[bool]string{true: "worker suspended", false: "worker resumed"}[suspended], "worker_id", id)
	vs, err := s.workers(ctx, WorkerQuery{Name: id}, true)
	if err != nil {
		return WorkerView{}, err
	}
	if len(vs) == 0 {
		return WorkerView{}, domain.Errorf(domain.CodeDeviceNotFound, "device '%s' does not exist", id).With("device_id", id)
	}
	return vs[0], nil
}

// Stopped is one worker StopWorkers stopped.
type Stopped struct {
	Worker      string
	Interrupted []string // the tasks it was running, handed back to their queues
}

// StopWorkers stops every live worker matching q (see
// dispatch.Service.StopWorker): each drains and exits, and the tasks it
// was running go back to their queues at once, to run elsewhere. Workers
// already dead are not listed. A query that names nothing is refused: it
// would stop the whole fleet.
func (s *Service) StopWorkers(ctx context.Context, actor domain.Actor, q WorkerQuery) ([]Stopped, error) {
	if q == (WorkerQuery{}) {
		return nil, domain.Errorf(domain.CodeValidation, "name the workers to stop: name, queue, node or host")
	}
	vs, err := s.workers(ctx, q, true)
	if err != nil {
		return nil, err
	}
	defer s.forgetFleet()
	out := []Stopped{}
	for _, v := range vs {
		if !v.State.Live() {
			continue
		}
		ids, err := s.engine.StopWorker(ctx, v.ID)
		if domain.CodeOf(err) == domain.CodeDeviceNotFound {
			continue // removed meanwhile
		}
		if err != nil {
			return out, err
		}
		s.audit(actor, "worker stopped", "worker_id", v.ID, "handed_back", len(ids))
		out = append(out, Stopped{Worker: v.ID, Interrupted: nonNil(ids)})
	}
	slices.SortFunc(out, func(a, b Stopped) int {
		switch {
		case a.Worker < b.Worker:
			return -1
		case a.Worker > b.Worker:
			return 1
		}
		return 0
	})
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// StopWorker stops one worker by name (see StopWorkers). An unknown or
// removed worker is DEVICE_NOT_FOUND; a dead one is reported stopped with
// nothing interrupted.
func (s *Service) StopWorker(ctx context.Context, actor domain.Actor, name string) (Stopped, error) {
	w, err := s.engine.Worker(ctx, name)
	if err != nil {
		return Stopped{}, err
	}
	out := Stopped{Worker: w.ID, Interrupted: []string{}}
	if !w.State.Live() {
		return out, nil
	}
	defer s.forgetFleet()
	ids, err := s.engine.StopWorker(ctx, w.ID)
	if err != nil {
		return Stopped{}, err
	}
	s.audit(actor, "worker stopped", "worker_id", w.ID, "handed_back", len(ids))
	out.Interrupted = nonNil(ids)
	return out, nil
}
