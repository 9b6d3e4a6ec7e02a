package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// The benchmarks mirror the SQLite backend's, so the two compare as a ratio
// on one machine. Run them with
//
//	DROVER_TEST_POSTGRES_URL=… go test -run '^$' -bench . -count 5 ./internal/store/postgres
//
// Each reports tasks/s. Now is zero throughout: the database clock, as a
// server runs.

// benchTasks makes n pending tasks with ids unique across the whole run.
func benchTasks(n int, seq *atomic.Int64) []*domain.Task {
	tasks := make([]*domain.Task, n)
	for i := range tasks {
		tasks[i] = &domain.Task{
			ID: fmt.Sprintf("task-%012d", seq.Add(1)), Type: "echo",
			Payload: []byte(`{"message":"hi"}`), Queue: domain.DefaultQueue,
			Priority: domain.PriorityNormal, TimeoutSeconds: 60, State: domain.TaskPending,
		}
	}
	return tasks
}

func reportTasksPerSecond(b *testing.B, tasks int) {
	b.ReportMetric(float64(tasks)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkTaskInsertMany100 submits batches of 100 tasks: one statement per batch.
func BenchmarkTaskInsertMany100(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	var seq atomic.Int64
	for b.Loop() {
		if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: benchTasks(100, &seq)}); err != nil {
			b.Fatal(err)
		}
	}
	reportTasksPerSecond(b, b.N*100)
}

// BenchmarkLeaseFinish100 is the worker's cycle over a full queue: lease
// 100, report 100 successes. The queue holds every task the run will need
// before the clock starts.
func BenchmarkLeaseFinish100(b *testing.B) {
	benchLeaseFinish(b, 1)
}

// BenchmarkLeaseFinish100Parallel4 runs the same cycle from 4 workers at
// once, as a server serving several workers does: their commits share WAL
// flushes, so throughput grows past one client's commit rate.
func BenchmarkLeaseFinish100Parallel4(b *testing.B) {
	benchLeaseFinish(b, 4)
}

func benchLeaseFinish(b *testing.B, workers int) {
	s := newTestStore(b)
	ctx := context.Background()
	var seq atomic.Int64
	for range b.N {
		if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: benchTasks(100, &seq)}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE tasks`); err != nil {
		b.Fatal(err)
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range workers {
		w := &domain.Worker{ID: fmt.Sprintf("w%d", i), Queues: []string{domain.DefaultQueue}, TaskTypes: []string{"echo"}}
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := leaseFinishCycle(ctx, s, w); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	reportTasksPerSecond(b, b.N*100)
}

// leaseFinishCycle leases up to 100 tasks for w and reports them all done.
func leaseFinishCycle(ctx context.Context, s *Store, w *domain.Worker) error {
	leased, err := s.TaskLease(ctx, &store.TaskLeaseParams{Worker: w, Max: 100, TTL: time.Minute})
	if err != nil {
		return err
	}
	results := make([]store.TaskFinish, len(leased))
	for i, t := range leased {
		results[i] = store.TaskFinish{Ref: domain.TaskRef{TaskID: t.ID, Epoch: t.LeaseEpoch}, Succeeded: true, Result: &domain.Result{Output: "hi"}}
	}
	_, err = s.TaskFinishMany(ctx, &store.TaskFinishManyParams{WorkerID: w.ID, Results: results})
	return err
}

// BenchmarkCycle100 is a task's whole life in the store, 100 at a time:
// insert, lease and finish, from one goroutine.
func BenchmarkCycle100(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	w := &domain.Worker{ID: "w1", Queues: []string{domain.DefaultQueue}, TaskTypes: []string{"echo"}}
	var seq atomic.Int64
	for b.Loop() {
		if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: benchTasks(100, &seq)}); err != nil {
			b.Fatal(err)
		}
		if err := leaseFinishCycle(ctx, s, w); err != nil {
			b.Fatal(err)
		}
	}
	reportTasksPerSecond(b, b.N*100)
}

// BenchmarkTaskInsertConcurrent8 submits one task per call from 8
// goroutines, as independent API clients do: one commit per task. The store
// does not merge them; PostgreSQL's WAL flush does, for commits that wait at
// the same moment, so throughput grows with connections: the pool has one
// per goroutine here, pgxpool's default (4 on 2 cores) in "default-pool".
func BenchmarkTaskInsertConcurrent8(b *testing.B) {
	for _, c := range []struct {
		name     string
		maxConns int32
	}{{"default-pool", 0}, {"pool-8", 8}} {
		b.Run(c.name, func(b *testing.B) {
			benchConcurrentInserts(b, newTestStoreWith(b, Options{MaxConns: c.maxConns}), 8)
		})
	}
}

func benchConcurrentInserts(b *testing.B, s *Store, goroutines int) {
	ctx := context.Background()
	var seq, left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for range goroutines {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: benchTasks(1, &seq)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	reportTasksPerSecond(b, b.N)
}
