package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Benchmarks of the worker's other hot calls: a heartbeat and a log batch,
// as dispatch makes them.
//
//	go test -run '^$' -bench 'Heartbeat|LogAppend|EventAppend' -benchtime 2s ./internal/store/postgres/

var hotWorker = &domain.Worker{ID: "w1", Name: "w1", State: domain.WorkerOnline,
	Queues: []string{domain.DefaultQueue}, TaskTypes: []string{"echo"}}

// holdLeases registers hotWorker and leases it n tasks.
func holdLeases(b *testing.B, s *Store, n int) []domain.TaskRef {
	ctx := context.Background()
	if _, err := s.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: hotWorker}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	if _, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: benchTasks(n, &seq)}); err != nil {
		b.Fatal(err)
	}
	leased, err := s.TaskLease(ctx, &store.TaskLeaseParams{Worker: hotWorker, Max: n, TTL: time.Minute})
	if err != nil || len(leased) != n {
		b.Fatalf("TaskLease() = %d tasks, %v; want %d", len(leased), err, n)
	}
	refs := make([]domain.TaskRef, n)
	for i, t := range leased {
		refs[i] = domain.TaskRef{TaskID: t.ID, Epoch: t.LeaseEpoch}
	}
	return refs
}

// BenchmarkHeartbeat50 is one heartbeat of a worker naming its 50 leases:
// record it, renew them, report the lost ones (none).
func BenchmarkHeartbeat50(b *testing.B) {
	s := newTestStore(b)
	held := holdLeases(b, s, 50)
	ctx := context.Background()
	for b.Loop() {
		hb, err := heartbeat(ctx, s, time.Minute, time.Time{}, store.Heartbeat{ID: hotWorker.ID, Held: held})
		if err != nil || len(hb.Lost) != 0 {
			b.Fatalf("WorkerHeartbeatMany() = %v, %v", hb, err)
		}
	}
}

// BenchmarkLogAppend100 is one log batch of 100 lines over 10 running
// tasks, fenced by their leases.
func BenchmarkLogAppend100(b *testing.B) {
	s := newTestStore(b)
	held := holdLeases(b, s, 10)
	ctx := context.Background()
	lines := make([]domain.LogLine, 100)
	epochs := make([]int64, 100)
	for i := range lines {
		ref := held[i%10]
		lines[i] = domain.LogLine{TaskID: ref.TaskID, Time: time.Now(), Stream: "stdout", Level: "info", Message: "a line of output"}
		epochs[i] = ref.Epoch
	}
	for b.Loop() {
		kept, err := s.LogAppend(ctx, &store.LogAppendParams{WorkerID: hotWorker.ID, Lines: lines, Epochs: epochs})
		if err != nil || kept != 100 {
			b.Fatalf("LogAppend() = %d, %v", kept, err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkEventAppend600 is one write of the event bus at 10,000 tasks/s:
// 20 ms of submitted, started and completed events of 200 tasks.
func BenchmarkEventAppend600(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	batch := make([]domain.Event, 600)
	for b.Loop() {
		for i := range batch {
			task := fmt.Sprintf("0193f4c2-7d1e-7a3b-9c4d-%012d", i/3)
			batch[i] = domain.Event{Type: domain.EventTaskStarted, Level: domain.LevelInfo, Component: "task_executor",
				DeviceID: "worker-1", TaskID: task, Message: "task " + task + " started on worker-1 (attempt 1)",
				Data: json.RawMessage(`{"attempt":1,"queue":"default","task_type":"sleep"}`)}
		}
		if err := s.EventAppend(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
