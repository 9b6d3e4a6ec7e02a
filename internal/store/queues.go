package store

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// QueueStore persists what queues and workers carry beyond their tasks:
// paused queues and suspended workers, both honoured by TaskLease in the
// same statement that leases (so a pause or a suspension holds on every
// server sharing the store, and across restarts), and the task queries of
// the queue views (document 003's job API).
type QueueStore interface {
	// QueuePauseList returns every paused queue with when it was paused, by name.
	QueuePauseList(ctx context.Context) ([]QueuePause, error)
	// QueueSetPaused pauses or resumes queue Name. Pausing a paused queue
	// keeps its first pause time; resuming a running one changes nothing.
	QueueSetPaused(ctx context.Context, p *QueueSetPausedParams) error
	// TaskFind lists tasks matching the filter, newest first. It differs
	// from TaskList in that it matches any of several workers (a node's)
	// and any of several states.
	TaskFind(ctx context.Context, p *TaskFindParams) ([]*domain.Task, error)
	// WorkerSetSuspended suspends or resumes a non-removed worker (unknown or
	// removed: domain.ErrNotFound). A suspended worker leases nothing until
	// it is resumed, even after it re-registers.
	WorkerSetSuspended(ctx context.Context, p *WorkerSetSuspendedParams) error
	// WorkerStatusList lists the non-removed workers matching the filter, by
	// id, with only what their statuses need (no resources, labels or
	// descriptions): the worker views of document 003, read often and for
	// the whole fleet.
	WorkerStatusList(ctx context.Context, p *WorkerStatusListParams) ([]WorkerStatus, error)
	// WorkerLeaseGate reports whether worker ID may lease nothing now: it is
	// suspended or draining (the gate TaskLease applies). An unknown or
	// removed worker is not gated here (TaskLease finds nothing for it).
	WorkerLeaseGate(ctx context.Context, id string) (bool, error)
	// WorkerSuspendedList returns the suspended non-removed workers' ids with
	// when each was suspended.
	WorkerSuspendedList(ctx context.Context) (map[string]time.Time, error)
}

// WorkerStatusListParams filters WorkerStatusList. Empty fields do not filter.
type WorkerStatusListParams struct {
	ID       string
	Queue    string // serving this queue
	Hostname string
}

// WorkerStatus is a worker as WorkerStatusList reads it: Worker has ID,
// Name, Hostname, Queues, PID, State, RegisteredAt, LastSeen and the
// counters (TasksActive included) set, nothing else.
type WorkerStatus struct {
	Worker      *domain.Worker
	SuspendedAt time.Time // zero: not suspended
}

// QueuePause is one paused queue.
type QueuePause struct {
	Queue    string
	PausedAt time.Time
}

// QueueSetPausedParams pauses (Paused) or resumes a queue.
type QueueSetPausedParams struct {
	Name   string
	Paused bool
	Now    time.Time
}

// TaskFindParams filters tasks. Empty fields do not filter.
type TaskFindParams struct {
	Queue   string
	States  []domain.TaskState
	Workers []string // tasks running on, or last run by, any of these workers
	Limit   int      // 0 means no limit
	Offset  int
}

// WorkerSetSuspendedParams suspends (Suspended) or resumes a worker.
type WorkerSetSuspendedParams struct {
	ID        string
	Suspended bool
	Now       time.Time
}
