package store

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// PoolStore persists pools, their scaling history and the drains of their
// workers. A worker belongs to a pool by the pool id stored at its
// registration (Worker.PoolID).
type PoolStore interface {
	// PoolDelete deletes a pool and its events; its workers keep their
	// PoolID (the reconciler drains workers of pools that no longer exist).
	// An unknown id is domain.ErrNotFound.
	PoolDelete(ctx context.Context, id int64) error
	// PoolDrainList lists the drains in progress of a pool's workers (of
	// every pool when PoolID is 0), by worker id.
	PoolDrainList(ctx context.Context, poolID int64) ([]PoolDrain, error)
	// PoolDrainEnd forgets a worker's drain (it stopped).
	PoolDrainEnd(ctx context.Context, workerID string) error
	// PoolDrainStart moves a live worker to draining and records until when
	// its running tasks may finish. Starting a drain already started keeps
	// its first deadline. A worker neither online nor draining is
	// domain.ErrNotFound.
	PoolDrainStart(ctx context.Context, p *PoolDrainStartParams) error
	// PoolEventList lists a pool's events, newest first.
	PoolEventList(ctx context.Context, p *PoolEventListParams) ([]*domain.PoolEvent, error)
	// PoolGet returns one pool, or domain.ErrNotFound.
	PoolGet(ctx context.Context, id int64) (*domain.Pool, error)
	// PoolInsert stores a new pool and returns it with its id (Pool.ID when
	// the caller chose one, else the next free one). A taken id or name is
	// domain.ErrConflict. The pool's initial size is recorded as an event
	// from 0 to Points by Actor.
	PoolInsert(ctx context.Context, p *PoolInsertParams) (*domain.Pool, error)
	// PoolList lists pools by id.
	PoolList(ctx context.Context, p *PoolListParams) ([]*domain.Pool, error)
	// PoolQueueStats measures the backlog of some queues at Now.
	PoolQueueStats(ctx context.Context, p *PoolQueueStatsParams) (*PoolQueueStats, error)
	// PoolScale sets a pool's Points and records the change as an event in
	// the same transaction. Asking for the size the pool already has
	// changes nothing and returns a nil event. An unknown id is
	// domain.ErrNotFound. The caller validates Points against the bounds.
	PoolScale(ctx context.Context, p *PoolScaleParams) (*domain.Pool, *domain.PoolEvent, error)
	// PoolUpdate replaces a pool's settings (name, bounds, template,
	// provider, autoscale, drain timeout), never its Points. A taken name
	// is domain.ErrConflict, an unknown id domain.ErrNotFound.
	PoolUpdate(ctx context.Context, p *PoolUpdateParams) (*domain.Pool, error)
	// PoolWorkerList lists the non-removed workers whose PoolID is PoolID
	// (with PoolID 0: of every pool, never workers of none), by id.
	PoolWorkerList(ctx context.Context, p *PoolWorkerListParams) ([]*domain.Worker, error)
}

// PoolDrain is a worker of a pool being drained.
type PoolDrain struct {
	WorkerID string
	PoolID   int64
	Deadline time.Time // running tasks still held then are handed back
	Started  time.Time
}

// PoolDrainStartParams starts a drain.
type PoolDrainStartParams struct {
	WorkerID string
	PoolID   int64
	Deadline time.Time
	Now      time.Time
}

// PoolEventListParams reads a pool's history.
type PoolEventListParams struct {
	PoolID int64
	Limit  int // 0 means no limit
}

// PoolInsertParams carries a new pool, formed and validated by the caller.
type PoolInsertParams struct {
	Pool  *domain.Pool
	Actor string
	Now   time.Time
}

// PoolListParams filters pools.
type PoolListParams struct {
	Limit int // 0 means no limit
}

// PoolQueueStatsParams names the queues to measure.
type PoolQueueStatsParams struct {
	Queues []string
	Now    time.Time
}

// PoolQueueStats is the backlog of some queues.
type PoolQueueStats struct {
	Pending int // pending and available at Now
	Running int
	// OldestPending is when the longest-waiting available pending task
	// became available; zero when none waits.
	OldestPending time.Time
}

// PoolScaleParams changes a pool's desired size.
type PoolScaleParams struct {
	ID     int64
	Points int
	Actor  string
	Reason string
	Now    time.Time
}

// PoolUpdateParams carries a pool's new settings.
type PoolUpdateParams struct {
	Pool *domain.Pool
	Now  time.Time
}

// PoolWorkerListParams selects pool workers.
type PoolWorkerListParams struct {
	PoolID int64
	Live   bool // only online and draining workers
}
