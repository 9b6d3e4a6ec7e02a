package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Benchmarks of the worker's other hot calls: a heartbeat and a log batch,
// as dispatch makes them.
//
//	go test -run '^$' -bench 'Heartbeat|LogAppend|EventAppend' -benchtime 2s ./internal/store/sqlite/
//	go test -run '^$' -bench 'Heartbeat(Many|Apart)200' -cpu 1 ./internal/store/sqlite/

// holdLeases registers benchWorker and leases it n tasks.
func holdLeases(b *testing.B, s *Store, n int) []domain.TaskRef {
	ctx := context.Background()
	w := *benchWorker
	w.Name, w.State = w.ID, domain.WorkerOnline
	if _, err := s.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: &w}); err != nil {
		b.Fatal(err)
	}
	insertOrFail(b, s, benchTasks(n))
	leased, err := s.TaskLease(ctx, &store.TaskLeaseParams{Worker: benchWorker, Max: n, TTL: time.Minute})
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
	s := openTemp(b, Options{})
	held := holdLeases(b, s, 50)
	ctx := context.Background()
	p := &store.WorkerHeartbeatManyParams{Heartbeats: []store.Heartbeat{{ID: benchWorker.ID, Held: held}}, TTL: time.Minute}
	for b.Loop() {
		hb, err := s.WorkerHeartbeatMany(ctx, p)
		if err != nil || hb[0].Err != nil || len(hb[0].Lost) != 0 {
			b.Fatalf("WorkerHeartbeatMany() = %v, %v", hb, err)
		}
	}
}

// BenchmarkHeartbeatMany200 is one batch of the heartbeats of 200 workers
// with a lease each, as dispatch coalesces them under load.
func BenchmarkHeartbeatMany200(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	p := fleetHeartbeats(b, s, 200)
	for b.Loop() {
		hbs, err := s.WorkerHeartbeatMany(ctx, p)
		if err != nil || hbs[199].Err != nil || len(hbs[199].Lost) != 0 {
			b.Fatalf("WorkerHeartbeatMany() = %v, %v", hbs, err)
		}
	}
	b.ReportMetric(float64(b.N*200)/b.Elapsed().Seconds(), "heartbeats/s")
}

// BenchmarkHeartbeatApart200 is the same 200 heartbeats sent at once but
// each on its own, as before dispatch coalesced them: the group commit
// shares the transaction, but each runs its own statements in its own
// savepoint.
func BenchmarkHeartbeatApart200(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	p := fleetHeartbeats(b, s, 200)
	for b.Loop() {
		var wg sync.WaitGroup
		for _, hb := range p.Heartbeats {
			wg.Go(func() {
				one := &store.WorkerHeartbeatManyParams{Heartbeats: []store.Heartbeat{hb}, TTL: p.TTL}
				if got, err := s.WorkerHeartbeatMany(ctx, one); err != nil || got[0].Err != nil {
					b.Errorf("WorkerHeartbeatMany() = %v, %v", got, err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.N*200)/b.Elapsed().Seconds(), "heartbeats/s")
}

// fleetHeartbeats registers n workers, leases each a task, and returns
// their heartbeats.
func fleetHeartbeats(b *testing.B, s *Store, n int) *store.WorkerHeartbeatManyParams {
	ctx := context.Background()
	insertOrFail(b, s, benchTasks(n))
	p := &store.WorkerHeartbeatManyParams{TTL: time.Minute}
	for i := range n {
		w := *benchWorker
		w.ID = fmt.Sprintf("bench-worker-%d", i)
		w.Name, w.State = w.ID, domain.WorkerOnline
		if _, err := s.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: &w}); err != nil {
			b.Fatal(err)
		}
		leased, err := s.TaskLease(ctx, &store.TaskLeaseParams{Worker: &w, Max: 1, TTL: time.Minute})
		if err != nil || len(leased) != 1 {
			b.Fatalf("TaskLease() = %d tasks, %v; want 1", len(leased), err)
		}
		p.Heartbeats = append(p.Heartbeats, store.Heartbeat{ID: w.ID, Held: []domain.TaskRef{{TaskID: leased[0].ID, Epoch: leased[0].LeaseEpoch}}})
	}
	return p
}

// BenchmarkLogAppend100 is one log batch of 100 lines over 10 running
// tasks, fenced by their leases.
func BenchmarkLogAppend100(b *testing.B) {
	s := openTemp(b, Options{})
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
		kept, err := s.LogAppend(ctx, &store.LogAppendParams{WorkerID: benchWorker.ID, Lines: lines, Epochs: epochs})
		if err != nil || kept != 100 {
			b.Fatalf("LogAppend() = %d, %v", kept, err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkEventAppend600 is one write of the event bus at 10,000 tasks/s:
// 20 ms of submitted, started and completed events of 200 tasks.
func BenchmarkEventAppend600(b *testing.B) {
	s := openTemp(b, Options{})
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

// BenchmarkLease1 is a one-slot worker's lease of one task, as a crowd of
// small workers makes them (each iteration inserts the task it leases).
func BenchmarkLease1(b *testing.B) {
	s := openTemp(b, Options{})
	ctx := context.Background()
	w := *benchWorker
	w.Name, w.State = w.ID, domain.WorkerOnline
	if _, err := s.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: &w}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		insertOrFail(b, s, benchTasks(1))
		leased, err := s.TaskLease(ctx, &store.TaskLeaseParams{Worker: benchWorker, Max: 1, TTL: time.Minute})
		if err != nil || len(leased) != 1 {
			b.Fatalf("TaskLease() = %d tasks, %v", len(leased), err)
		}
	}
}
