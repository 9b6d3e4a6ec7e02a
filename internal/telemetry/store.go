package telemetry

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// InstrumentStore wraps the engine's hot store calls to record their
// latency (drover_store_operation_duration_seconds{op}). Every other call
// passes through untouched. Give the wrapper to the engine only: optional
// interfaces of the store (WorkNotifier, EventNotifier) are not promoted.
func InstrumentStore(st store.Store, m *Metrics) store.Store {
	return &instrumentedStore{Store: st, m: m}
}

type instrumentedStore struct {
	store.Store
	m *Metrics
}

func (s *instrumentedStore) observe(op string, start time.Time) {
	s.m.ObserveStore(op, time.Since(start))
}

func (s *instrumentedStore) TaskInsertMany(ctx context.Context, p *store.TaskInsertManyParams) ([]store.TaskInsertOutcome, error) {
	defer s.observe("TaskInsertMany", time.Now())
	return s.Store.TaskInsertMany(ctx, p)
}

func (s *instrumentedStore) TaskLease(ctx context.Context, p *store.TaskLeaseParams) ([]*domain.Task, error) {
	defer s.observe("TaskLease", time.Now())
	return s.Store.TaskLease(ctx, p)
}

func (s *instrumentedStore) TaskFinishMany(ctx context.Context, p *store.TaskFinishManyParams) ([]store.TaskFinishOutcome, error) {
	defer s.observe("TaskFinishMany", time.Now())
	return s.Store.TaskFinishMany(ctx, p)
}

func (s *instrumentedStore) TaskCancel(ctx context.Context, p *store.TaskCancelParams) (*domain.Task, bool, error) {
	defer s.observe("TaskCancel", time.Now())
	return s.Store.TaskCancel(ctx, p)
}

func (s *instrumentedStore) TaskRescueExpired(ctx context.Context, p *store.TaskRescueExpiredParams) ([]*domain.Task, error) {
	defer s.observe("TaskRescueExpired", time.Now())
	return s.Store.TaskRescueExpired(ctx, p)
}

func (s *instrumentedStore) WorkerHeartbeatMany(ctx context.Context, p *store.WorkerHeartbeatManyParams) ([]store.WorkerHeartbeatResult, error) {
	defer s.observe("WorkerHeartbeatMany", time.Now())
	return s.Store.WorkerHeartbeatMany(ctx, p)
}

func (s *instrumentedStore) LogAppend(ctx context.Context, p *store.LogAppendParams) (int, error) {
	defer s.observe("LogAppend", time.Now())
	return s.Store.LogAppend(ctx, p)
}

func (s *instrumentedStore) TaskProgressSet(ctx context.Context, p *store.TaskProgressSetParams) ([]bool, error) {
	defer s.observe("TaskProgressSet", time.Now())
	return s.Store.TaskProgressSet(ctx, p)
}
