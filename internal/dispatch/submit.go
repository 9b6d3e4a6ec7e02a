package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Submitted is the fate of one submitted task.
type Submitted struct {
	Task      *domain.Task
	Duplicate bool // an earlier submit with the same idempotency key; Task is that one
}

// Submit admits and stores tasks, all or none: if any task is refused, none
// is stored and the error names its index. The caller fills the spec fields
// (type, payload, priority, queue, pin, requirements, timeout, retries,
// AvailableAt, idempotency key and request hash); Submit fills the rest.
func (s *Service) Submit(ctx context.Context, specs []*domain.Task) ([]Submitted, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	now := s.now()
	for _, t := range specs {
		s.prepare(t, now)
	}
	if err := s.admitAll(ctx, specs); err != nil {
		return nil, err
	}
	turn := s.order.begin()
	defer turn.end()
	outs, err := s.store.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: specs})
	if err != nil {
		return nil, err
	}
	res := make([]Submitted, len(outs))
	fresh := make([]*domain.Task, 0, len(outs))
	for i, o := range outs {
		res[i] = Submitted{Task: o.Task, Duplicate: o.Existing}
		if !o.Existing {
			fresh = append(fresh, o.Task)
			later(turn, s.hooks.TaskSubmitted, o.Task)
		}
	}
	s.wake.tasks(fresh)
	return res, nil
}

// prepare fills what the engine decides for a new task.
func (s *Service) prepare(t *domain.Task, now time.Time) {
	cfg := s.Config()
	t.ID = domain.NewTaskID(now)
	t.State = domain.TaskPending
	t.CreatedAt = now
	if t.AvailableAt.IsZero() || t.AvailableAt.Before(now) {
		t.AvailableAt = now
	}
	if t.Queue == "" {
		t.Queue = domain.DefaultQueue
	}
	if t.TimeoutSeconds == 0 {
		t.TimeoutSeconds = int(cfg.DefaultTimeout / time.Second)
	}
	if t.MaxRetries < 0 {
		t.MaxRetries = cfg.DefaultMaxRetries
	}
	if t.RetryBackoff <= 0 {
		t.RetryBackoff = cfg.RetryBackoff
	}
}

// admitAll checks every task against the fleet, reloading the snapshot once
// before refusing anything.
func (s *Service) admitAll(ctx context.Context, specs []*domain.Task) error {
	ws, err := s.fleet.get(ctx, false)
	if err != nil {
		return err
	}
	for fresh := false; ; fresh = true {
		var refusal error
		for i, t := range specs {
			if err := admit(ws, t); err != nil {
				if e, ok := err.(*domain.Error); ok && len(specs) > 1 {
					e.With("index", i)
				}
				refusal = err
				break
			}
		}
		if refusal == nil || fresh {
			return refusal
		}
		if ws, err = s.fleet.get(ctx, true); err != nil {
			return err
		}
	}
}

// Retry submits a new task with the spec of a finished one (failed,
// cancelled, or completed: rerunning a success is sometimes the point), on
// behalf of actor. priority, when not nil, replaces the original's.
func (s *Service) Retry(ctx context.Context, actor domain.Actor, id string, priority *domain.Priority) (*domain.Task, error) {
	orig, err := s.store.TaskGet(ctx, id)
	if err != nil {
		return nil, notFound(err, domain.CodeTaskNotFound, "task", id)
	}
	if err := actor.MayRun(orig.Type); err != nil {
		return nil, err
	}
	if !orig.State.Terminal() {
		return nil, domain.Errorf(domain.CodeTaskNotRetryable, "task '%s' is %s; only a finished task can be retried", id, orig.State).
			With("task_id", id).With("status", orig.State)
	}
	t := &domain.Task{
		Type:           orig.Type,
		Payload:        orig.Payload,
		Priority:       orig.Priority,
		Queue:          orig.Queue,
		DeviceID:       orig.DeviceID,
		Requirements:   orig.Requirements,
		TimeoutSeconds: orig.TimeoutSeconds,
		MaxRetries:     orig.MaxRetries,
		RetryBackoff:   orig.RetryBackoff,
		Labels:         orig.Labels,
		OriginalTaskID: orig.ID,
	}
	if priority != nil {
		t.Priority = *priority
	}
	out, err := s.Submit(ctx, []*domain.Task{t})
	if err != nil {
		return nil, err
	}
	s.auditShell(actor, out[0])
	return out[0].Task, nil
}

// Cancel cancels a pending or running task. A running task's worker learns
// at its next heartbeat and kills the attempt; any result it sends after is
// refused as stale.
func (s *Service) Cancel(ctx context.Context, id, reason string) (task *domain.Task, wasRunning bool, err error) {
	if reason == "" {
		reason = "cancelled by request"
	}
	turn := s.order.begin()
	defer turn.end()
	t, wasRunning, err := s.store.TaskCancel(ctx, &store.TaskCancelParams{ID: id, Reason: reason, Now: s.storeNow()})
	if err != nil {
		return nil, false, notFound(err, domain.CodeTaskNotFound, "task", id)
	}
	later(turn, s.hooks.TaskCancelled, t)
	return t, wasRunning, nil
}

// Task returns one task.
func (s *Service) Task(ctx context.Context, id string) (*domain.Task, error) {
	t, err := s.store.TaskGet(ctx, id)
	if err != nil {
		return nil, notFound(err, domain.CodeTaskNotFound, "task", id)
	}
	return t, nil
}

// DetailLogLines is how many of a task's last log lines TaskDetail returns.
const DetailLogLines = 200

// TaskDetail returns one task and the last DetailLogLines lines of its log,
// oldest first, read by a bounded query however long the log.
func (s *Service) TaskDetail(ctx context.Context, id string) (*domain.Task, []domain.LogLine, error) {
	t, err := s.Task(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	lines, err := s.store.LogList(ctx, &store.LogListParams{TaskID: id, Tail: DetailLogLines})
	if err != nil {
		return nil, nil, notFound(err, domain.CodeTaskNotFound, "task", id)
	}
	return t, lines, nil
}

// Worker returns one registered worker (not a removed one).
func (s *Service) Worker(ctx context.Context, id string) (*domain.Worker, error) {
	w, err := s.store.WorkerGet(ctx, id)
	if err == nil && w.State == domain.WorkerRemoved {
		err = domain.ErrNotFound
	}
	if err != nil {
		e := notFound(err, domain.CodeDeviceNotFound, "device", id)
		if de, ok := e.(*domain.Error); ok {
			if ws, lerr := s.fleet.get(ctx, false); lerr == nil {
				de.With("available_devices", workerIDs(ws))
			}
		}
		return nil, e
	}
	return w, nil
}

// RemoveWorker removes a device from the cluster. Tasks pinned to it can
// never run and are cancelled; a device still running tasks is removed only
// with force, and those tasks are cancelled too (document 001 reports them
// as cancelled_tasks). Its credential is void from then on.
func (s *Service) RemoveWorker(ctx context.Context, id string, force bool) (cancelled int, err error) {
	w, err := s.Worker(ctx, id)
	if err != nil {
		return 0, err
	}
	if !force {
		n, err := s.runningOn(ctx, id)
		if err != nil {
			return 0, err
		}
		if n > 0 {
			return 0, domain.Errorf(domain.CodeDeviceBusy, "device '%s' is running %d task(s); remove it with force=true to cancel them", id, n).
				With("device_id", id).With("active_tasks", n)
		}
	}
	turn := s.order.begin()
	defer turn.end()
	ids, err := s.store.TaskCancelMany(ctx, &store.TaskCancelManyParams{
		DeviceID: id, IncludeRunning: true, Reason: fmt.Sprintf("device %s was removed", id), Now: s.storeNow(),
	})
	if err != nil {
		return 0, err
	}
	if err := s.store.WorkerDelete(ctx, id); err != nil {
		return 0, notFound(err, domain.CodeDeviceNotFound, "device", id)
	}
	s.fleet.invalidate()
	w.State = domain.WorkerRemoved
	later(turn, s.hooks.WorkerChanged, w)
	return len(ids), nil
}

// runningOn counts the tasks running on worker id. (The store's device
// filter also matches tasks pinned to it, so check the lease owner.)
func (s *Service) runningOn(ctx context.Context, id string) (int, error) {
	ts, err := s.store.TaskList(ctx, &store.TaskListParams{DeviceID: id, State: domain.TaskRunning})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range ts {
		if t.LeaseOwner == id {
			n++
		}
	}
	return n, nil
}
