package dispatch

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// TaskFilter selects tasks. Empty fields do not filter.
type TaskFilter struct {
	State    domain.TaskState
	Type     string
	Queue    string
	DeviceID string // pinned to, running on, or last run on
	Since    time.Time
	Limit    int // 0: no limit
	Offset   int
}

// TaskPage is a page of tasks, newest first, and the count of every task
// the filter matches by state (over all pages, whatever its State).
type TaskPage struct {
	Tasks  []*domain.Task
	Counts map[domain.TaskState]int
}

// Tasks lists tasks.
func (s *Service) Tasks(ctx context.Context, f TaskFilter) (*TaskPage, error) {
	p := store.TaskListParams(f)
	tasks, err := s.store.TaskList(ctx, &p)
	if err != nil {
		return nil, err
	}
	counts, err := s.store.TaskCount(ctx, &p)
	if err != nil {
		return nil, err
	}
	return &TaskPage{Tasks: tasks, Counts: counts}, nil
}

// TaskLog returns a task and up to limit of its log lines after the line
// numbered after (0: from the start; limit 0: all).
func (s *Service) TaskLog(ctx context.Context, id string, after int64, limit int) (*domain.Task, []domain.LogLine, error) {
	t, err := s.Task(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	lines, err := s.store.LogList(ctx, &store.LogListParams{TaskID: t.ID, AfterSeq: after, Limit: limit})
	if err != nil {
		return nil, nil, err
	}
	return t, lines, nil
}

// Workers lists the registered workers, by id; role filters when set.
func (s *Service) Workers(ctx context.Context, role string) ([]*domain.Worker, error) {
	return s.store.WorkerList(ctx, &store.WorkerListParams{Role: role})
}

// WorkerByCredential is the registered (not removed) worker whose
// credential hashes to hash, or domain.ErrNotFound.
func (s *Service) WorkerByCredential(ctx context.Context, hash string) (*domain.Worker, error) {
	return s.store.WorkerGetByCredential(ctx, hash)
}
