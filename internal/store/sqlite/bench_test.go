package sqlite

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Benchmarks of the hot path: a task is inserted, leased and finished, each
// in batches. Run with
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/store/sqlite/
//
// and BenchmarkMillionPending (slow, memory) alone with -benchtime 1x.

var benchSeq atomic.Int64

// benchTask is a minimal echo task, as a server forms it.
func benchTask(now time.Time) *domain.Task {
	n := benchSeq.Add(1)
	return &domain.Task{
		ID:             domain.NewTaskID(now),
		Type:           "echo",
		Payload:        []byte(`{"message":"hello ` + strconv.FormatInt(n, 10) + `"}`),
		Priority:       domain.PriorityNormal,
		Queue:          domain.DefaultQueue,
		TimeoutSeconds: 60,
		MaxRetries:     3,
		RetryBackoff:   time.Second,
		State:          domain.TaskPending,
		CreatedAt:      now,
		AvailableAt:    now,
	}
}

// start is a fixed time, for tests that do not care which.
func start() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func benchTasks(n int) []*domain.Task {
	now := time.Now()
	out := make([]*domain.Task, n)
	for i := range out {
		out[i] = benchTask(now)
	}
	return out
}

var benchWorker = &domain.Worker{
	ID:        "bench-worker",
	Queues:    []string{domain.DefaultQueue},
	TaskTypes: []string{"echo"},
	Resources: domain.Resources{CPUCores: 2, MemoryTotalGB: 4},
	Platform:  domain.Platform{OS: "linux"},
}

func insertOrFail(b *testing.B, s *Store, tasks []*domain.Task) {
	if _, err := s.TaskInsertMany(context.Background(), &store.TaskInsertManyParams{Tasks: tasks}); err != nil {
		b.Fatalf("TaskInsertMany() error = %v", err)
	}
}

func reportTasksPerSec(b *testing.B, tasksPerOp int) {
	b.ReportMetric(float64(b.N*tasksPerOp)/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkTaskInsertMany100 inserts batches of 100 tasks from one goroutine.
func BenchmarkTaskInsertMany100(b *testing.B) {
	s := openTemp(b, Options{})
	for b.Loop() {
		b.StopTimer()
		tasks := benchTasks(100)
		b.StartTimer()
		insertOrFail(b, s, tasks)
	}
	reportTasksPerSec(b, 100)
}

// BenchmarkLeaseFinish100 leases 100 tasks and reports them done, from a
// backlog refilled (off the clock) as it runs out.
func BenchmarkLeaseFinish100(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	backlog := 0
	for b.Loop() {
		if backlog < 100 {
			b.StopTimer()
			for range 100 {
				insertOrFail(b, s, benchTasks(100))
			}
			backlog += 10_000
			b.StartTimer()
		}
		leaseAndFinish(b, ctx, s, 100)
		backlog -= 100
	}
	reportTasksPerSec(b, 100)
}

func leaseAndFinish(b *testing.B, ctx context.Context, s *Store, n int) {
	leased, err := s.TaskLease(ctx, &store.TaskLeaseParams{Worker: benchWorker, Max: n, TTL: time.Minute})
	if err != nil || len(leased) != n {
		b.Fatalf("TaskLease() = %d tasks, %v; want %d", len(leased), err, n)
	}
	results := make([]store.TaskFinish, len(leased))
	for i, t := range leased {
		results[i] = store.TaskFinish{Ref: domain.TaskRef{TaskID: t.ID, Epoch: t.LeaseEpoch}, Succeeded: true,
			Result: &domain.Result{Output: "hello"}}
	}
	outs, err := s.TaskFinishMany(ctx, &store.TaskFinishManyParams{WorkerID: benchWorker.ID, Results: results})
	if err != nil || outs[0].StaleLease {
		b.Fatalf("TaskFinishMany() = %v, %v", outs[0], err)
	}
}

// BenchmarkCycle100 is a task's whole life in the store, 100 at a time:
// insert, lease and finish. Its tasks/s bounds what a server on this store
// can push end to end.
func BenchmarkCycle100(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	for b.Loop() {
		insertOrFail(b, s, benchTasks(100))
		leaseAndFinish(b, ctx, s, 100)
	}
	reportTasksPerSec(b, 100)
}

// BenchmarkTaskInsertConcurrent8 has 8 goroutines insert one task per call,
// as independent submits do: with group commit they share transactions;
// without (MaxBatch 1) each commits alone.
func BenchmarkTaskInsertConcurrent8(b *testing.B) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"group-commit/NORMAL", Options{}},
		{"one-per-tx/NORMAL", Options{MaxBatch: 1}},
		{"group-commit/FULL", Options{Synchronous: "FULL"}},
		{"one-per-tx/FULL", Options{Synchronous: "FULL", MaxBatch: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := openTemp(b, c.opts)
			ctx := context.Background()
			b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					task := benchTask(time.Now())
					if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{task}}); err != nil {
						b.Errorf("TaskInsertMany() error = %v", err)
						return
					}
				}
			})
			reportTasksPerSec(b, 1)
		})
	}
}

// BenchmarkMillionPending fills a store with 1,000,000 pending tasks and
// reports the process's memory (the target: under 150 MB RSS) and how long
// a lease of 100 takes on that backlog. Run it alone:
//
//	go test -run '^$' -bench MillionPending -benchtime 1x ./internal/store/sqlite/
func BenchmarkMillionPending(b *testing.B) {
	if testing.Short() {
		b.Skip("slow: fills a store with a million tasks")
	}
	const total, batch = 1_000_000, 1000
	s := openTemp(b, Options{})
	ctx := context.Background()
	for b.Loop() {
		started := time.Now()
		for range total / batch {
			insertOrFail(b, s, benchTasks(batch))
		}
		b.ReportMetric(float64(total)/time.Since(started).Seconds(), "inserts/s")

		leaseStarted := time.Now()
		leaseAndFinish(b, ctx, s, 100)
		b.ReportMetric(float64(time.Since(leaseStarted).Microseconds())/1000, "lease+finish100-ms")

		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "go-heap-MB")
		b.ReportMetric(procStatusMB(b, "VmRSS"), "rss-MB")
		b.ReportMetric(procStatusMB(b, "VmHWM"), "peak-rss-MB")
	}
}

// procStatusMB reads a memory figure of this process from /proc (Linux).
func procStatusMB(b *testing.B, field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatalf("parse %s: %v", field, err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatalf("%s not in /proc/self/status", field)
	return 0
}
