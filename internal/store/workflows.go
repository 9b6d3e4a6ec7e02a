package store

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// WorkflowStore persists workflows, their runs and actions, cron fire
// records, and the named objects (variables, connections, templates) steps
// use. Ids are integers, assigned by the store.
type WorkflowStore interface {
	// WorkflowInsert stores a new workflow and sets its ID and CreatedAt; a
	// name already taken is domain.ErrConflict.
	WorkflowInsert(ctx context.Context, w *domain.Workflow) error
	// WorkflowGet returns one workflow, or domain.ErrNotFound.
	WorkflowGet(ctx context.Context, id int64) (*domain.Workflow, error)
	// WorkflowList lists workflows by id.
	WorkflowList(ctx context.Context, p *WorkflowListParams) ([]*domain.Workflow, error)
	// WorkflowDelete removes a workflow with its runs, actions and fire
	// records (their tasks stay); unknown: domain.ErrNotFound.
	WorkflowDelete(ctx context.Context, id int64) error
	// WorkflowNextFire is the earliest NextFireAt among scheduled workflows,
	// or the zero time when none is scheduled.
	WorkflowNextFire(ctx context.Context) (time.Time, error)

	// RunInsert stores a run with one action per step (Run.Actions, whose
	// IDs it sets), in one transaction with the cron fire record when Fire
	// is set. A fire record already taken (the tick fired elsewhere), or a
	// workflow whose NextFireAt is no longer Fire.Expect, is
	// domain.ErrConflict and nothing is stored. Run may be nil with Fire
	// set: the tick is recorded as skipped.
	RunInsert(ctx context.Context, p *RunInsertParams) error
	// RunGet returns one run with its actions (by id), each carrying its
	// task's current state; unknown: domain.ErrNotFound.
	RunGet(ctx context.Context, id int64) (*domain.Run, error)
	// RunList lists runs (without actions), newest first.
	RunList(ctx context.Context, p *RunListParams) ([]*domain.Run, error)
	// RunUpdate changes a run's state and some of its actions in one
	// transaction; an action update applies only while the action still has
	// its Expect generation (a concurrent restart wins). Unknown run:
	// domain.ErrNotFound.
	RunUpdate(ctx context.Context, p *RunUpdateParams) error
	// ActionGet returns one action, or domain.ErrNotFound.
	ActionGet(ctx context.Context, id int64) (*domain.Action, error)

	// ObjectPut creates or replaces the named object of its kind and sets
	// its ID (kept across replacements) and UpdatedAt.
	ObjectPut(ctx context.Context, o *domain.Object) error
	// ObjectGet returns the object of kind named name (or with id, when
	// name is ""), or domain.ErrNotFound.
	ObjectGet(ctx context.Context, kind, name string, id int64) (*domain.Object, error)
	// ObjectList lists the objects of one kind by name.
	ObjectList(ctx context.Context, kind string) ([]*domain.Object, error)
	// ObjectDelete removes an object; unknown: domain.ErrNotFound.
	ObjectDelete(ctx context.Context, kind, name string) error
}

// WorkflowListParams filters workflows.
type WorkflowListParams struct {
	DueBefore time.Time // when set: only scheduled workflows with NextFireAt at or before it
	Limit     int       // 0: no limit
	Offset    int
}

// RunInsertParams is a new run and, for a cron tick, its fire record.
type RunInsertParams struct {
	Run  *domain.Run // State, Trigger, ... filled by the caller; nil: a skipped tick
	Fire *CronFire
	Now  time.Time
}

// CronFire is one tick of a workflow's schedule, fired at most once.
type CronFire struct {
	WorkflowID int64
	Tick       time.Time
	Expect     time.Time // the workflow's NextFireAt the firing server read
	Next       time.Time // its NextFireAt afterwards
}

// RunListParams filters runs. Empty fields do not filter.
type RunListParams struct {
	WorkflowID int64
	States     []domain.RunState
	Tick       *time.Time // only runs of this tick (zero time: manual runs)
	Limit      int        // 0: no limit
	Offset     int
}

// RunUpdateParams carries a run's new state and its actions' changes.
type RunUpdateParams struct {
	RunID      int64
	State      domain.RunState // "" leaves it
	FinishedAt *time.Time      // nil leaves it; zero clears it
	Actions    []ActionUpdate
	Now        time.Time
}

// ActionUpdate is the new state of one action.
type ActionUpdate struct {
	ID         int64
	Expect     int // the generation the change was decided on
	State      domain.ActionState
	TaskID     *string // nil leaves it
	Generation int     // the generation after the change (Expect, or Expect+1 for a restart)
}
