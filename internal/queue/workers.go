package queue

import (
	"context"
	"slices"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// WorkerView is a worker with what document 003 shows of it beyond the
// stored record.
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
// dead ones included: a monitor counts them.
func (s *Service) Workers(ctx context.Context, q WorkerQuery) ([]WorkerView, error) {
	queue := q.Queue
	if q.Host != "" {
		hq := domain.PinnedQueue(q.Host)
		if queue != "" && queue != hq {
			return []WorkerView{}, nil
		}
		queue = hq
	}
	var ws []*domain.Worker
	if q.Name != "" {
		w, err := s.engine.Worker(ctx, q.Name)
		if err != nil {
			if domain.CodeOf(err) == domain.CodeDeviceNotFound {
				return []WorkerView{}, nil
			}
			return nil, err
		}
		if queue != "" && !w.Listens(queue) {
			return []WorkerView{}, nil
		}
		ws = []*domain.Worker{w}
	} else {
		var err error
		if ws, err = s.store.WorkerList(ctx, &store.WorkerListParams{Queue: queue}); err != nil {
			return nil, err
		}
	}
	suspended, err := s.store.WorkerSuspendedList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]WorkerView, 0, len(ws))
	for _, w := range ws {
		if q.Node != "" && w.Hostname != q.Node {
			continue
		}
		out = append(out, view(w, suspended))
	}
	return out, nil
}

func view(w *domain.Worker, suspended map[string]time.Time) WorkerView {
	at, sus := suspended[w.ID]
	return WorkerView{Worker: w, Status: domain.StatusOf(w, sus), Suspended: sus, SuspendedAt: at}
}

// SuspendWorker stops a worker from leasing until ResumeWorker; it finishes what it
// runs. The suspension is stored: it holds on every server, across server
// restarts and across the worker's own re-registration.
func (s *Service) SuspendWorker(ctx context.Context, id string) (WorkerView, error) {
	return s.setSuspended(ctx, id, true)
}

// ResumeWorker lets a suspended worker lease again.
func (s *Service) ResumeWorker(ctx context.Context, id string) (WorkerView, error) {
	return s.setSuspended(ctx, id, false)
}

func (s *Service) setSuspended(ctx context.Context, id string, suspended bool) (WorkerView, error) {
	if _, err := s.engine.Worker(ctx, id); err != nil {
		return WorkerView{}, err
	}
	if err := s.store.WorkerSetSuspended(ctx, &store.WorkerSetSuspendedParams{ID: id, Suspended: suspended, Now: s.storeNow()}); err != nil {
		return WorkerView{}, err
	}
	if !suspended {
		s.engine.Wake()
	}
	vs, err := s.Workers(ctx, WorkerQuery{Name: id})
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
func (s *Service) StopWorkers(ctx context.Context, q WorkerQuery) ([]Stopped, error) {
	if q == (WorkerQuery{}) {
		return nil, domain.Errorf(domain.CodeValidation, "name the workers to stop: name, queue, node or host")
	}
	vs, err := s.Workers(ctx, q)
	if err != nil {
		return nil, err
	}
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
