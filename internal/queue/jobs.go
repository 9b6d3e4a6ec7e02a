package queue

import (
	"context"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// The most tasks one job query answers; a caller pages with Offset.
const (
	DefaultJobLimit = 100
	MaxJobLimit     = 1000
)

// JobQuery selects tasks. Set fields are ANDed; a dialect with precedence
// rules (document 003: id first) resolves them before asking.
type JobQuery struct {
	ID     string             // one task; the other fields are ignored
	Queue  string             // tasks of this queue
	Host   string             // tasks for this target host: its pinned queue
	Node   string             // tasks run on a worker of this machine (hostname)
	States []domain.TaskState // any of these states
	Limit  int                // 0: DefaultJobLimit; at most MaxJobLimit
	Offset int
}

// Jobs answers q, newest first. An unknown ID is TASK_NOT_FOUND; a query
// that matches nothing is an empty list.
func (s *Service) Jobs(ctx context.Context, q JobQuery) ([]*domain.Task, error) {
	if q.ID != "" {
		t, err := s.engine.Task(ctx, q.ID)
		if err != nil {
			return nil, err
		}
		return []*domain.Task{t}, nil
	}
	p := &store.TaskFindParams{Queue: q.Queue, States: q.States, Offset: q.Offset, Limit: q.Limit}
	if p.Limit <= 0 {
		p.Limit = DefaultJobLimit
	}
	p.Limit = min(p.Limit, MaxJobLimit)
	if q.Host != "" {
		hq := domain.PinnedQueue(q.Host)
		if p.Queue != "" && p.Queue != hq {
			return nil, nil // a task is in one queue
		}
		p.Queue = hq
	}
	if q.Node != "" {
		ws, err := s.workersOn(ctx, q.Node)
		if err != nil {
			return nil, err
		}
		if len(ws) == 0 {
			return nil, nil
		}
		p.Workers = ws
	}
	return s.store.TaskFind(ctx, p)
}

// workersOn lists the ids of the workers (any state but removed) on machine node.
func (s *Service) workersOn(ctx context.Context, node string) ([]string, error) {
	ws, err := s.store.WorkerStatusList(ctx, &store.WorkerStatusListParams{Hostname: node})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.Worker.ID
	}
	return ids, nil
}

// CancelQuery selects the tasks to cancel: one of ID, Queue or Host.
type CancelQuery struct {
	ID    string
	Queue string
	Host  string
}

// CancelQueued cancels tasks that have not started (pending: queued,
// delayed or waiting for a retry) and returns their ids. Started tasks are
// never cancelled here (document 003): by ID, a task that is running or
// has ended is TASK_NOT_CANCELLABLE; by queue or host, they are left alone.
func (s *Service) CancelQueued(ctx context.Context, actor domain.Actor, q CancelQuery) ([]string, error) {
	const reason = "cancelled before it started"
	if q.ID != "" {
		// One conditional write: a task leased a moment ago stays running.
		ids, err := s.store.TaskCancelMany(ctx, &store.TaskCancelManyParams{IDs: []string{q.ID}, Reason: reason, Now: s.storeNow()})
		if err != nil {
			return nil, err
		}
		if len(ids) == 1 {
			s.audit(actor, "queued tasks cancelled", "task_id", q.ID, "count", 1)
			return ids, nil
		}
		t, err := s.engine.Task(ctx, q.ID)
		if err != nil {
			return nil, err
		}
		return nil, notCancellable(t)
	}
	queue := q.Queue
	if q.Host != "" {
		queue = domain.PinnedQueue(q.Host)
	}
	if queue == "" {
		return nil, domain.Errorf(domain.CodeValidation, "name the tasks to cancel: id, queue or host")
	}
	ids, err := s.store.TaskCancelMany(ctx, &store.TaskCancelManyParams{Queue: queue, Reason: reason, Now: s.storeNow()})
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []string{}
	}
	s.audit(actor, "queued tasks cancelled", "queue", queue, "count", len(ids))
	return ids, nil
}

func notCancellable(t *domain.Task) error {
	return domain.Errorf(domain.CodeTaskNotCancellable, "task '%s' is %s; only a task that has not started can be cancelled", t.ID, t.State).
		With("task_id", t.ID).With("status", t.State)
}
