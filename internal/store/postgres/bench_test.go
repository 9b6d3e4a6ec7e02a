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

// BenchmarkTaskLeaseFinish100 is the worker's cycle over a full queue:
// lease 100, report 100 successes. The queue holds every task the run will
// need before the clock starts.
func BenchmarkTaskLeaseFinish100(b *testing.B) {
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
	w := &domain.Worker{ID: "w1", Queues: []string{domain.DefaultQueue}, TaskTypes: []string{"echo"}}
	results := make([]store.TaskFinish, 0, 100)
	b.ResetTimer()
	for range b.N {
		leased, err := s.TaskLease(ctx, &store.TaskLeaseParams{Worker: w, Max: 100, TTL: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		if len(leased) != 100 {
			b.Fatalf("leased %d tasks, want 100", len(leased))
		}
		results = results[:0]
		for _, t := range leased {
			results = append(results, store.TaskFinish{Ref: domain.TaskRef{TaskID: t.ID, Epoch: t.LeaseEpoch}, Succeeded: true, Result: &domain.Result{Output: "hi"}})
		}
		if _, err := s.TaskFinishMany(ctx, &store.TaskFinishManyParams{WorkerID: w.ID, Results: results}); err != nil {
			b.Fatal(err)
		}
	}
	reportTasksPerSecond(b, b.N*100)
}

// BenchmarkTaskInsertParallel8 submits one task per call from 8 goroutines,
// as concurrent API clients do: one commit per task.
func BenchmarkTaskInsertParallel8(b *testing.B) {
	const workers = 8
	s := newTestStore(b)
	ctx := context.Background()
	var seq, left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for range workers {
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
