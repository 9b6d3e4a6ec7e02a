package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// These tests pin what is particular to this backend: SQL placement, fencing
// under concurrency, the database clock, migrations racing, error
// translation. The shared behaviour is storetest's (conformance_test.go).

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTask(id string, opts ...func(*domain.Task)) *domain.Task {
	t := &domain.Task{
		ID: "task-" + id, Type: "echo", Payload: json.RawMessage(`{"message": "hi"}`),
		Priority: domain.PriorityNormal, Queue: domain.DefaultQueue,
		State: domain.TaskPending, CreatedAt: t0, AvailableAt: t0,
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

func newWorker(id string, opts ...func(*domain.Worker)) *domain.Worker {
	w := &domain.Worker{
		ID: id, Name: id, Queues: []string{domain.DefaultQueue}, TaskTypes: []string{"echo"},
		Platform:  domain.Platform{OS: "linux", Arch: "amd64"},
		Resources: domain.Resources{CPUCores: 4, MemoryTotalGB: 8},
		State:     domain.WorkerOnline, Concurrency: 10,
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

func insert(t *testing.T, s *Store, tasks ...*domain.Task) []store.TaskInsertOutcome {
	t.Helper()
	out, err := s.TaskInsertMany(context.Background(), &store.TaskInsertManyParams{Tasks: tasks})
	if err != nil {
		t.Fatalf("TaskInsertMany: %v", err)
	}
	return out
}

func lease(t *testing.T, s *Store, w *domain.Worker, max int, now time.Time) []*domain.Task {
	t.Helper()
	got, err := s.TaskLease(context.Background(), &store.TaskLeaseParams{Worker: w, Max: max, TTL: time.Minute, Now: now})
	if err != nil {
		t.Fatalf("TaskLease: %v", err)
	}
	return got
}

func ids(tasks []*domain.Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

func TestTaskRoundTrip(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	want := newTask("a", func(t *domain.Task) {
		t.Payload = json.RawMessage(`{"b":2,  "a":1}`) // kept byte for byte
		t.DeviceID = "w1"
		t.Requirements = domain.Requirements{MinCPUCores: 2, MinMemoryGB: 1.5, Platform: "linux", Role: "gpu", Labels: map[string]string{"zone": "a"}}
		t.TimeoutSeconds, t.MaxRetries, t.RetryBackoff = 30, 3, 1500*time.Millisecond
		t.IdempotencyKey, t.RequestHash, t.OriginalTaskID = "k1", "h1", "task-0"
		t.Labels = map[string]string{"team": "x"}
		t.AvailableAt = t0.Add(time.Hour)
	})
	out := insert(t, s, want)
	if diff := cmp.Diff(want, out[0].Task); diff != "" || out[0].Existing {
		t.Errorf("TaskInsertMany outcome: existing=%v, task (-want +got):\n%s", out[0].Existing, diff)
	}
	got, err := s.TaskGet(context.Background(), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TaskGet (-want +got):\n%s", diff)
	}
	if _, err := s.TaskGet(context.Background(), "task-none"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("TaskGet(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestTaskInsertIdempotencyAndConflict(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	first := newTask("a", func(t *domain.Task) { t.IdempotencyKey = "k" })
	insert(t, s, first)
	// Same key again, and twice within one batch: both are the first task.
	out := insert(t, s, newTask("b", func(t *domain.Task) { t.IdempotencyKey = "k" }),
		newTask("c", func(t *domain.Task) { t.IdempotencyKey = "k2" }),
		newTask("d", func(t *domain.Task) { t.IdempotencyKey = "k2" }))
	got := []string{out[0].Task.ID, out[1].Task.ID, out[2].Task.ID}
	if want := []string{"task-a", "task-c", "task-c"}; !slices.Equal(got, want) {
		t.Errorf("outcome task ids = %v, want %v", got, want)
	}
	if existing := []bool{out[0].Existing, out[1].Existing, out[2].Existing}; !slices.Equal(existing, []bool{true, false, true}) {
		t.Errorf("outcome Existing = %v, want [true false true]", existing)
	}
	_, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{newTask("e"), newTask("a")}})
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("inserting a duplicate id: error = %v, want ErrConflict", err)
	}
	if _, err := s.TaskGet(ctx, "task-e"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a batch with a duplicate id inserted part of itself: TaskGet(task-e) error = %v", err)
	}
}

// TestTaskLeasePlacement checks each placement rule in SQL against the
// domain's own CanRun on the same worker and task.
func TestTaskLeasePlacement(t *testing.T) {
	t.Parallel()
	worker := newWorker("w1", func(w *domain.Worker) {
		w.Role, w.Labels = "builder", map[string]string{"zone": "a", "disk": "ssd"}
	})
	cases := []struct {
		name string
		task func(*domain.Task)
	}{
		{"plain", func(*domain.Task) {}},
		{"other queue", func(t *domain.Task) { t.Queue = "other" }},
		{"pinned here, other queue", func(t *domain.Task) { t.DeviceID = "w1"; t.Queue = "other" }},
		{"pinned elsewhere", func(t *domain.Task) { t.DeviceID = "w2" }},
		{"unhandled type", func(t *domain.Task) { t.Type = "shell" }},
		{"cpu enough", func(t *domain.Task) { t.Requirements.MinCPUCores = 4 }},
		{"cpu short", func(t *domain.Task) { t.Requirements.MinCPUCores = 5 }},
		{"memory within the rounding hair", func(t *domain.Task) { t.Requirements.MinMemoryGB = 8.04 }},
		{"memory short", func(t *domain.Task) { t.Requirements.MinMemoryGB = 8.2 }},
		{"platform", func(t *domain.Task) { t.Requirements.Platform = "linux" }},
		{"other platform", func(t *domain.Task) { t.Requirements.Platform = "android" }},
		{"role", func(t *domain.Task) { t.Requirements.Role = "builder" }},
		{"other role", func(t *domain.Task) { t.Requirements.Role = "gpu" }},
		{"labels subset", func(t *domain.Task) { t.Requirements.Labels = map[string]string{"zone": "a"} }},
		{"labels empty", func(t *domain.Task) { t.Requirements.Labels = map[string]string{} }},
		{"label other value", func(t *domain.Task) { t.Requirements.Labels = map[string]string{"zone": "b"} }},
		{"label missing", func(t *domain.Task) { t.Requirements.Labels = map[string]string{"gpu": "yes"} }},
		{"not yet available", func(t *domain.Task) { t.AvailableAt = t0.Add(time.Second) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newTestStore(t)
			task := newTask("x", c.task)
			insert(t, s, task)
			want := worker.CanRun(task) && !task.AvailableAt.After(t0)
			got := lease(t, s, worker, 10, t0)
			if (len(got) == 1) != want {
				t.Errorf("TaskLease leased %v, want leased=%v", ids(got), want)
			}
		})
	}
}

func TestTaskLeaseOrderAndFields(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	insert(t, s,
		newTask("1"),
		newTask("2", func(t *domain.Task) { t.Priority = domain.PriorityHigh }),
		newTask("3", func(t *domain.Task) { t.AvailableAt = t0.Add(-time.Minute) }),
		newTask("0"),
	)
	w := newWorker("w1")
	got := lease(t, s, w, 3, t0)
	if want := []string{"task-2", "task-3", "task-0"}; !slices.Equal(ids(got), want) {
		t.Fatalf("TaskLease order = %v, want %v", ids(got), want)
	}
	for _, task := range got {
		if task.State != domain.TaskRunning || task.Attempt != 1 || task.LeaseEpoch != 1 ||
			task.LeaseOwner != "w1" || task.LastDeviceID != "w1" ||
			!task.LeaseExpiresAt.Equal(t0.Add(time.Minute)) || !task.StartedAt.Equal(t0) {
			t.Errorf("leased task = %+v, want running, attempt 1, epoch 1, owner w1, expiry t0+1m, started t0", task)
		}
	}
	if more := lease(t, s, w, 10, t0); !slices.Equal(ids(more), []string{"task-1"}) {
		t.Errorf("second TaskLease = %v, want [task-1]", ids(more))
	}
}

// TestTaskLeaseConcurrent races leasers: every task is leased exactly once.
func TestTaskLeaseConcurrent(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	const n = 500
	tasks := make([]*domain.Task, n)
	for i := range tasks {
		tasks[i] = newTask(fmt.Sprintf("%04d", i))
	}
	insert(t, s, tasks...)
	var (
		mu     sync.Mutex
		leased = map[string]int{}
		wg     sync.WaitGroup
	)
	for g := range 8 {
		wg.Go(func() {
			w := newWorker(fmt.Sprintf("w%d", g))
			for {
				got, err := s.TaskLease(context.Background(), &store.TaskLeaseParams{Worker: w, Max: 7, TTL: time.Minute, Now: t0})
				if err != nil {
					t.Errorf("TaskLease: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, task := range got {
					leased[task.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(leased) != n {
		t.Errorf("leased %d distinct tasks, want %d", len(leased), n)
	}
	for id, k := range leased {
		if k != 1 {
			t.Errorf("task %s leased %d times", id, k)
		}
	}
}

func TestTaskFinishFencingAndRetry(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: newWorker("w1"), Now: t0}); err != nil {
		t.Fatal(err)
	}
	insert(t, s,
		newTask("ok"),
		newTask("retry", func(t *domain.Task) { t.MaxRetries, t.RetryBackoff = 1, time.Second }),
		newTask("fail"))
	w := newWorker("w1")
	leased := lease(t, s, w, 10, t0)
	if len(leased) != 3 {
		t.Fatalf("leased %v, want 3 tasks", ids(leased))
	}
	backoff := func(attempt int, base time.Duration) time.Duration { return time.Duration(attempt) * 10 * base }
	now := t0.Add(5 * time.Second)
	out, err := s.TaskFinishMany(ctx, &store.TaskFinishManyParams{
		WorkerID: "w1", Backoff: backoff, Now: now,
		Results: []store.TaskFinish{
			{Ref: domain.TaskRef{TaskID: "task-ok", Epoch: 1}, Succeeded: true, Result: &domain.Result{Output: "hi"}},
			{Ref: domain.TaskRef{TaskID: "task-ok", Epoch: 1}, Succeeded: true}, // a duplicate: stale
			{Ref: domain.TaskRef{TaskID: "task-retry", Epoch: 1}, Result: &domain.Result{ExitCode: 1, Error: "boom"}},
			{Ref: domain.TaskRef{TaskID: "task-fail", Epoch: 2}},                                                    // wrong epoch
			{Ref: domain.TaskRef{TaskID: "task-fail", Epoch: 1}, Result: &domain.Result{ExitCode: 2, Error: "bad"}}, // applies
		},
	})
	if err != nil {
		t.Fatalf("TaskFinishMany: %v", err)
	}
	type summary struct {
		Stale bool
		State domain.TaskState
	}
	var got []summary
	for _, o := range out {
		got = append(got, summary{o.StaleLease, o.State})
	}
	want := []summary{{false, domain.TaskCompleted}, {true, ""}, {false, domain.TaskPending}, {true, ""}, {false, domain.TaskFailed}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	retry := out[2].Task
	if !retry.AvailableAt.Equal(now.Add(10*time.Second)) || retry.LeaseOwner != "" || retry.Error != "boom" || !retry.CompletedAt.IsZero() {
		t.Errorf("retried task = %+v, want pending, available now+10s, no owner, error boom", retry)
	}
	if done := out[0].Task; done.Result.Output != "hi" || !done.CompletedAt.Equal(now) {
		t.Errorf("completed task = %+v, want output hi, completed at now", done)
	}
	// A second report on a finished lease is stale and changes nothing.
	again, err := s.TaskFinishMany(ctx, &store.TaskFinishManyParams{WorkerID: "w1", Now: now,
		Results: []store.TaskFinish{{Ref: domain.TaskRef{TaskID: "task-fail", Epoch: 1}, Succeeded: true}}})
	if err != nil || !again[0].StaleLease {
		t.Errorf("second report: outcome %+v, error %v; want stale", again, err)
	}
	wk, err := s.WorkerGet(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if wk.TasksCompleted != 1 || wk.TasksFailed != 2 || wk.TasksActive != 0 {
		t.Errorf("worker counters completed=%d failed=%d active=%d, want 1, 2, 0", wk.TasksCompleted, wk.TasksFailed, wk.TasksActive)
	}
}

func TestTaskFinishOtherOwnerIsStale(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	insert(t, s, newTask("a"))
	lease(t, s, newWorker("w1"), 1, t0)
	out, err := s.TaskFinishMany(context.Background(), &store.TaskFinishManyParams{WorkerID: "w2", Now: t0,
		Results: []store.TaskFinish{{Ref: domain.TaskRef{TaskID: "task-a", Epoch: 1}, Succeeded: true}}})
	if err != nil || !out[0].StaleLease {
		t.Errorf("report by another worker: outcome %+v, error %v; want stale", out, err)
	}
}

func TestWorkerHeartbeatReleaseRescue(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	insert(t, s, newTask("a", func(t *domain.Task) { t.MaxRetries, t.RetryBackoff = 1, time.Second }), newTask("b"), newTask("c"))
	w := newWorker("w1")
	lease(t, s, w, 3, t0)

	if _, err := s.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: w, Now: t0}); err != nil {
		t.Fatal(err)
	}
	hb, err := heartbeat(ctx, s, time.Minute, t0.Add(30*time.Second), store.Heartbeat{ID: "w1",
		Held: []domain.TaskRef{{TaskID: "task-a", Epoch: 1}, {TaskID: "task-b", Epoch: 7}, {TaskID: "task-c", Epoch: 1}, {TaskID: "task-x", Epoch: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.LostLease{
		{Ref: domain.TaskRef{TaskID: "task-b", Epoch: 7}, Reason: store.ReasonLeaseLost},
		{Ref: domain.TaskRef{TaskID: "task-x", Epoch: 1}, Reason: store.ReasonLeaseLost},
	}
	if !slices.Equal(hb.Lost, want) {
		t.Errorf("WorkerHeartbeat lost = %v, want %v", hb.Lost, want)
	}
	// The leases listed with their epochs (a, c) now run to t0+90s; task-b,
	// listed with a stale epoch, keeps its first deadline, t0+60s.
	rescued, err := s.TaskRescueExpired(ctx, &store.TaskRescueExpiredParams{Now: t0.Add(59 * time.Second)})
	if err != nil || len(rescued) != 0 {
		t.Fatalf("TaskRescueExpired before expiry = %v, %v; want none", ids(rescued), err)
	}
	backoff := func(int, time.Duration) time.Duration { return 5 * time.Second }
	later := t0.Add(91 * time.Second)
	rescued, err = s.TaskRescueExpired(ctx, &store.TaskRescueExpiredParams{Now: later, Backoff: backoff, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rescued), []string{"task-a", "task-b"}) {
		t.Fatalf("TaskRescueExpired(limit 2) = %v, want [task-a task-b]", ids(rescued))
	}
	if a := rescued[0]; a.State != domain.TaskPending || !a.AvailableAt.Equal(later.Add(5*time.Second)) || a.Error == "" {
		t.Errorf("rescued task-a = %+v, want pending, available later+5s, with an error", a)
	}
	if b := rescued[1]; b.State != domain.TaskFailed || !b.CompletedAt.Equal(later) {
		t.Errorf("rescued task-b = %+v, want failed at later", b)
	}

	released, err := s.TaskReleaseWorker(ctx, &store.TaskReleaseWorkerParams{WorkerID: "w1", Reason: "draining", Now: later})
	if err != nil || !slices.Equal(released, []string{"task-c"}) {
		t.Fatalf("TaskReleaseWorker = %v, %v; want [task-c]", released, err)
	}
	c, err := s.TaskGet(ctx, "task-c")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != domain.TaskPending || c.LeaseOwner != "" || !c.AvailableAt.Equal(later) {
		t.Errorf("released task = %+v, want pending, no owner, available at once", c)
	}
	// The next lease is a new epoch: the old one is fenced off.
	relet := lease(t, s, newWorker("w2"), 1, later)
	if len(relet) != 1 || relet[0].ID != "task-c" || relet[0].LeaseEpoch != 2 {
		t.Fatalf("re-lease = %+v, want task-c at epoch 2", relet)
	}
}

func TestTaskCancel(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	insert(t, s, newTask("p"), newTask("r", func(t *domain.Task) { t.Priority = domain.PriorityHigh }))
	lease(t, s, newWorker("w1"), 1, t0) // task-r

	got, running, err := s.TaskCancel(ctx, &store.TaskCancelParams{ID: "task-r", Reason: "user", Now: t0})
	if err != nil || !running || got.State != domain.TaskCancelled || got.LeaseOwner != "" || got.Error != "user" {
		t.Fatalf("TaskCancel(running) = %+v, %v, %v; want cancelled, was running", got, running, err)
	}
	_, _, err = s.TaskCancel(ctx, &store.TaskCancelParams{ID: "task-r", Now: t0})
	if domain.CodeOf(err) != domain.CodeTaskNotCancellable {
		t.Errorf("TaskCancel(cancelled) error = %v, want %s", err, domain.CodeTaskNotCancellable)
	}
	if _, _, err := s.TaskCancel(ctx, &store.TaskCancelParams{ID: "task-none", Now: t0}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("TaskCancel(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.TaskCancelMany(ctx, &store.TaskCancelManyParams{}); domain.CodeOf(err) != domain.CodeValidation {
		t.Errorf("TaskCancelMany without a filter: error = %v, want %s", err, domain.CodeValidation)
	}
	cancelled, err := s.TaskCancelMany(ctx, &store.TaskCancelManyParams{Queue: domain.DefaultQueue, Now: t0})
	if err != nil || !slices.Equal(cancelled, []string{"task-p"}) {
		t.Errorf("TaskCancelMany = %v, %v; want [task-p]", cancelled, err)
	}
}

// TestDatabaseClock leaves Now zero, as servers do: deadlines come from the
// database's now(), not from this process.
func TestDatabaseClock(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	var dbNow time.Time
	if err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	insert(t, s, newTask("a", func(t *domain.Task) { t.CreatedAt, t.AvailableAt = time.Time{}, time.Time{} }))
	got := lease(t, s, newWorker("w1"), 1, time.Time{})
	if len(got) != 1 {
		t.Fatalf("TaskLease with the database clock leased %v, want task-a", ids(got))
	}
	task := got[0]
	if task.StartedAt.Before(dbNow) || !task.LeaseExpiresAt.Equal(task.StartedAt.Add(time.Minute)) {
		t.Errorf("lease started %v expires %v; want started after %v, expiring a TTL later", task.StartedAt, task.LeaseExpiresAt, dbNow)
	}
	if !task.CreatedAt.After(dbNow) && !task.CreatedAt.Equal(dbNow) {
		t.Errorf("CreatedAt = %v, want the database's now (after %v)", task.CreatedAt, dbNow)
	}
}

func TestWorkers(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	w := newWorker("w1", func(w *domain.Worker) {
		w.CredentialHash, w.Role, w.Labels = "hash1", "builder", map[string]string{"zone": "a"}
		w.RegisteredAt, w.LastSeen = t0, t0
	})
	got, err := s.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: w, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("WorkerRegister (-want +got):\n%s", diff)
	}
	if kept, err := s.LogAppend(ctx, &store.LogAppendParams{WorkerID: "w1", Lines: []domain.LogLine{{TaskID: "task-none", Message: "x"}}, Epochs: []int64{1}}); kept != 0 || err != nil {
		t.Errorf("LogAppend(unknown task) = %d, %v; want 0 kept, no error", kept, err)
	}
	if _, err := s.WorkerGetByCredential(ctx, "hash1"); err != nil {
		t.Errorf("WorkerGetByCredential: %v", err)
	}
	if err := s.WorkerSetState(ctx, &store.WorkerSetStateParams{ID: "w1", State: domain.WorkerDraining, Now: t0}); err != nil {
		t.Fatal(err)
	}
	res, err := heartbeat(ctx, s, 0, t0.Add(time.Minute), store.Heartbeat{ID: "w1", Resources: domain.Resources{CPUCores: 8}})
	var hb *domain.Worker
	if err == nil {
		hb = res.Worker
	}
	if err != nil || hb.State != domain.WorkerDraining || hb.Resources.CPUCores != 8 || !hb.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("WorkerHeartbeat = %+v, %v; want draining, 8 cores, seen t0+1m", hb, err)
	}
	off, err := s.WorkerMarkOffline(ctx, &store.WorkerMarkOfflineParams{Before: t0.Add(2 * time.Minute), Now: t0.Add(2 * time.Minute)})
	if err != nil || len(off) != 1 || off[0].State != domain.WorkerOffline {
		t.Errorf("WorkerMarkOffline = %+v, %v; want w1 offline", off, err)
	}
	if err := s.WorkerDelete(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WorkerGetByCredential(ctx, "hash1"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("WorkerGetByCredential(removed) error = %v, want ErrNotFound", err)
	}
	if list, err := s.WorkerList(ctx, &store.WorkerListParams{}); err != nil || len(list) != 0 {
		t.Errorf("WorkerList = %v, %v; want none", list, err)
	}
	if _, err := heartbeat(ctx, s, 0, t0, store.Heartbeat{ID: "w1"}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("WorkerHeartbeat(removed) error = %v, want ErrNotFound", err)
	}
}

// heartbeat sends hb alone in a batch; its own error is the error.
func heartbeat(ctx context.Context, s *Store, ttl time.Duration, now time.Time, hb store.Heartbeat) (*store.WorkerHeartbeatResult, error) {
	res, err := s.WorkerHeartbeatMany(ctx, &store.WorkerHeartbeatManyParams{Heartbeats: []store.Heartbeat{hb}, TTL: ttl, Now: now})
	if err != nil {
		return nil, err
	}
	return &res[0], res[0].Err
}

func TestLogAppendNumbersPerTask(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	insert(t, s, newTask("a"), newTask("b"))
	lease(t, s, newWorker("w1"), 2, t0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				lines := []domain.LogLine{
					{TaskID: "task-b", Time: t0, Stream: "stdout", Message: fmt.Sprintf("b %d.%d", g, i)},
					{TaskID: "task-a", Time: t0, Stream: "stdout", Message: fmt.Sprintf("a %d.%d", g, i)},
					{TaskID: "task-b", Time: t0, Stream: "stderr", Message: fmt.Sprintf("b' %d.%d", g, i)},
				}
				if _, err := s.LogAppend(ctx, &store.LogAppendParams{WorkerID: "w1", Lines: lines, Epochs: []int64{1, 1, 1}}); err != nil {
					t.Errorf("LogAppend: %v", err)
					return
				}
				if lines[0].Seq+1 != lines[2].Seq {
					t.Errorf("one batch's lines of a task got Seq %d and %d, want consecutive", lines[0].Seq, lines[2].Seq)
				}
			}
		})
	}
	wg.Wait()
	for task, n := range map[string]int{"task-a": 40, "task-b": 80} {
		lines, err := s.LogList(ctx, &store.LogListParams{TaskID: task})
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != n {
			t.Fatalf("LogList(%s) has %d lines, want %d", task, len(lines), n)
		}
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				t.Fatalf("LogList(%s)[%d].Seq = %d, want %d", task, i, l.Seq, i+1)
			}
		}
	}
	page, err := s.LogList(ctx, &store.LogListParams{TaskID: "task-a", AfterSeq: 38, Limit: 5})
	if err != nil || len(page) != 2 || page[0].Seq != 39 {
		t.Errorf("LogList(after 38) = %+v, %v; want lines 39 and 40", page, err)
	}
}

func TestKV(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ctx := context.Background()
	if _, err := s.KVGet(ctx, "k"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("KVGet(missing) error = %v, want ErrNotFound", err)
	}
	for _, v := range []string{`{"b": 1, "a": [1, 2]}`, `"x"`} {
		if err := s.KVPut(ctx, "k", json.RawMessage(v)); err != nil {
			t.Fatal(err)
		}
		got, err := s.KVGet(ctx, "k")
		if err != nil || string(got) != v {
			t.Errorf("KVGet = %s, %v; want %s", got, err, v)
		}
	}
}

// TestOpenConcurrently starts several stores on one empty schema at once, as
// servers starting together do: the advisory lock makes one migrate and the
// others find the work done.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	schema := testSchema(t, url)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := Open(context.Background(), url, Options{Schema: schema, MaxConns: 2})
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			defer s.Close()
			if err := s.Ping(context.Background()); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
	wg.Wait()
	s := newTestStoreIn(t, url, schema)
	var applied int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations()
	if applied != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", applied, len(ms))
	}
}

func newTestStoreIn(t *testing.T, url, schema string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), "postgres://drover:secret@127.0.0.1:1/none?connect_timeout=1", Options{})
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if domain.CodeOf(errors.Unwrap(err)) != domain.CodeUnavailable {
		t.Errorf("Open on a closed port: error %v, want %s", err, domain.CodeUnavailable)
	}
}
