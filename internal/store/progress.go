package store

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// ProgressStore keeps the last progress report of each task's attempt,
// apart from the task rows: a report rewrites one small row, never the
// task's.
type ProgressStore interface {
	// TaskProgressGet returns the last progress reported for task ID, or
	// domain.ErrNotFound when none was (the task may still exist). The
	// report's Epoch says which attempt made it.
	TaskProgressGet(ctx context.Context, id string) (*domain.Progress, error)
	// TaskProgressSet records progress reports of WorkerID, in one
	// transaction. Each is fenced by its lease, as log lines are: it
	// replaces its task's last report only if the task is running under
	// WorkerID and the report's Epoch. It returns, in input order, whether
	// each was kept; a dropped report (stale lease, finished or unknown
	// task) is not an error.
	TaskProgressSet(ctx context.Context, p *TaskProgressSetParams) ([]bool, error)
}

// TaskProgressSetParams carries one worker's progress reports.
type TaskProgressSetParams struct {
	WorkerID string
	Reports  []domain.Progress
	Now      time.Time // a report's time when it has none
}
