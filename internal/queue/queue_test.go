package queue_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/queue"
	"github.com/drover-run/drover/internal/store/sqlite"
)

type bundle struct {
	ctx    context.Context
	engine *dispatch.Service
	q      *queue.Service
}

func setup(t *testing.T) *bundle {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "q.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{ctx: t.Context(), engine: eng, q: queue.New(st, eng, queue.Options{})}
}

func (b *bundle) worker(t *testing.T, id, host string, queues ...string) *domain.Worker {
	t.Helper()
	w, err := b.engine.Register(b.ctx, &domain.Worker{ID: id, Name: id, Hostname: host, Queues: queues,
		TaskTypes: []string{"echo"}, Concurrency: 4, CredentialHash: "h-" + id}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (b *bundle) submit(t *testing.T, queue string) *domain.Task {
	t.Helper()
	out, err := b.engine.Submit(b.ctx, []*domain.Task{{Type: "echo", Payload: []byte(`{"message":"x"}`), Queue: queue, MaxRetries: -1}})
	if err != nil {
		t.Fatalf("Submit(%s) error = %v", queue, err)
	}
	return out[0].Task
}

func (b *bundle) lease(t *testing.T, w *domain.Worker) []string {
	t.Helper()
	ts, err := b.engine.Lease(b.ctx, w, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(ts))
	for i, x := range ts {
		ids[i] = x.ID
	}
	return ids
}

func TestPauseAndList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker(t, "w1", "node-a", "FifoQ")
	task := b.submit(t, "FifoQ")
	b.submit(t, domain.PinnedQueue("10.0.0.5")) // no worker serves it: admitted, waits
	q, err := b.q.Pause(b.ctx, domain.System, "FifoQ")
	if err != nil || !q.Paused {
		t.Fatalf("Pause(FifoQ) = %+v, %v; want paused", q, err)
	}
	if got := b.lease(t, w); len(got) != 0 {
		t.Fatalf("Lease() from a paused queue = %v, want nothing", got)
	}
	qs, err := b.q.List(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, q := range qs {
		names = append(names, q.Name)
	}
	if !slices.Equal(names, []string{"FifoQ", "pinned_10.0.0.5"}) {
		t.Fatalf("List() names = %v", names)
	}
	if f := qs[0]; f.Counts[domain.TaskPending] != 1 || f.Workers != 1 || f.LiveWorkers != 1 || f.OldestPending.IsZero() {
		t.Errorf("List() FifoQ = %+v", f)
	}
	if p := qs[1]; p.Host != "10.0.0.5" || p.Workers != 0 || p.Counts[domain.TaskPending] != 1 {
		t.Errorf("List() pinned = %+v", p)
	}
	if _, err := b.q.Resume(b.ctx, domain.System, "FifoQ"); err != nil {
		t.Fatal(err)
	}
	if got := b.lease(t, w); !slices.Equal(got, []string{task.ID}) {
		t.Errorf("Lease() after resume = %v, want %s", got, task.ID)
	}
	if _, err := b.q.Get(b.ctx, "nowhere"); domain.CodeOf(err) != domain.CodeNotFound {
		t.Errorf("Get(nowhere) error = %v, want NOT_FOUND", err)
	}
	if _, err := b.q.Pause(b.ctx, domain.System, "bad queue"); domain.CodeOf(err) != domain.CodeValidation {
		t.Errorf("Pause(bad name) error = %v, want VALIDATION_ERROR", err)
	}
}

func TestJobsAndCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker(t, "w1", "node-a", "FifoQ")
	started := b.submit(t, "FifoQ")
	if got := b.lease(t, w); len(got) != 1 {
		t.Fatal("lease failed")
	}
	queued := b.submit(t, "FifoQ")
	pinned := b.submit(t, domain.PinnedQueue("h1"))

	jobs := func(q queue.JobQuery) []string {
		t.Helper()
		ts, err := b.q.Jobs(b.ctx, q)
		if err != nil {
			t.Fatalf("Jobs(%+v) error = %v", q, err)
		}
		var ids []string
		for _, x := range ts {
			ids = append(ids, x.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		q    queue.JobQuery
		want []string
	}{
		{"id", queue.JobQuery{ID: queued.ID, Queue: "other"}, []string{queued.ID}},
		{"queue", queue.JobQuery{Queue: "FifoQ"}, []string{queued.ID, started.ID}},
		{"host", queue.JobQuery{Host: "h1"}, []string{pinned.ID}},
		{"node", queue.JobQuery{Node: "node-a"}, []string{started.ID}},
		{"unknown node", queue.JobQuery{Node: "node-z"}, nil},
		{"state", queue.JobQuery{States: []domain.TaskState{domain.TaskRunning}}, []string{started.ID}},
		{"queue and host disagree", queue.JobQuery{Queue: "FifoQ", Host: "h1"}, nil},
		{"page", queue.JobQuery{Limit: 1, Offset: 1}, []string{queued.ID}},
	} {
		if got := jobs(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("Jobs(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := b.q.Jobs(b.ctx, queue.JobQuery{ID: "task-nope"}); domain.CodeOf(err) != domain.CodeTaskNotFound {
		t.Errorf("Jobs(unknown id) error = %v", err)
	}

	if _, err := b.q.CancelQueued(b.ctx, domain.System, queue.CancelQuery{ID: started.ID}); domain.CodeOf(err) != domain.CodeTaskNotCancellable {
		t.Errorf("CancelQueued(started) error = %v, want TASK_NOT_CANCELLABLE", err)
	}
	if got, err := b.q.CancelQueued(b.ctx, domain.System, queue.CancelQuery{ID: queued.ID}); err != nil || !slices.Equal(got, []string{queued.ID}) {
		t.Errorf("CancelQueued(queued) = %v, %v", got, err)
	}
	if got, err := b.q.CancelQueued(b.ctx, domain.System, queue.CancelQuery{Host: "h1"}); err != nil || !slices.Equal(got, []string{pinned.ID}) {
		t.Errorf("CancelQueued(host) = %v, %v", got, err)
	}
	if got, err := b.q.CancelQueued(b.ctx, domain.System, queue.CancelQuery{Queue: "FifoQ"}); err != nil || len(got) != 0 {
		t.Errorf("CancelQueued(queue with only a started task) = %v, %v; want none", got, err)
	}
	if _, err := b.q.CancelQueued(b.ctx, domain.System, queue.CancelQuery{}); domain.CodeOf(err) != domain.CodeValidation {
		t.Errorf("CancelQueued(nothing) error = %v", err)
	}
	if tk, _ := b.engine.Task(b.ctx, started.ID); tk.State != domain.TaskRunning {
		t.Errorf("started task is %s after the cancels, want running", tk.State)
	}
}

func TestWorkerStatesSuspendAndStop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w1 := b.worker(t, "w1", "node-a", "FifoQ")
	w2 := b.worker(t, "w2", "node-b", "FifoQ", domain.PinnedQueue("h1"))
	task := b.submit(t, "FifoQ")
	if got := b.lease(t, w1); len(got) != 1 {
		t.Fatal("lease failed")
	}
	status := func(q queue.WorkerQuery) map[string]domain.WorkerStatus {
		t.Helper()
		vs, err := b.q.Workers(b.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]domain.WorkerStatus{}
		for _, v := range vs {
			m[v.ID] = v.Status
		}
		return m
	}
	if got := status(queue.WorkerQuery{}); got["w1"] != domain.WorkerBusy || got["w2"] != domain.WorkerIdle {
		t.Errorf("Workers() = %v, want w1 busy, w2 idle", got)
	}
	if got := status(queue.WorkerQuery{Host: "h1"}); len(got) != 1 || got["w2"] == "" {
		t.Errorf("Workers(host h1) = %v, want w2", got)
	}
	if got := status(queue.WorkerQuery{Node: "node-a"}); len(got) != 1 || got["w1"] == "" {
		t.Errorf("Workers(node-a) = %v, want w1", got)
	}

	if v, err := b.q.SuspendWorker(b.ctx, domain.System, "w2"); err != nil || v.Status != domain.WorkerSuspended {
		t.Fatalf("SuspendWorker(w2) = %+v, %v", v, err)
	}
	stopped, err := b.q.StopWorkers(b.ctx, domain.System, queue.WorkerQuery{Name: "w1"})
	if err != nil || len(stopped) != 1 || !slices.Equal(stopped[0].Interrupted, []string{task.ID}) {
		t.Fatalf("StopWorkers(w1) = %+v, %v; want its task handed back", stopped, err)
	}
	if tk, _ := b.engine.Task(b.ctx, task.ID); tk.State != domain.TaskPending {
		t.Errorf("handed-back task is %s, want pending", tk.State)
	}
	if got := b.lease(t, w1); len(got) != 0 {
		t.Errorf("a stopped worker leased %v", got)
	}
	if got := b.lease(t, w2); len(got) != 0 {
		t.Errorf("a suspended worker leased %v", got)
	}
	if _, err := b.q.ResumeWorker(b.ctx, domain.System, "w2"); err != nil {
		t.Fatal(err)
	}
	if got := b.lease(t, w2); !slices.Equal(got, []string{task.ID}) {
		t.Errorf("resumed worker leased %v, want %s", got, task.ID)
	}
	if _, err := b.q.StopWorkers(b.ctx, domain.System, queue.WorkerQuery{}); domain.CodeOf(err) != domain.CodeValidation {
		t.Errorf("StopWorkers(nothing) error = %v", err)
	}
	if _, err := b.q.SuspendWorker(b.ctx, domain.System, "nobody"); domain.CodeOf(err) != domain.CodeDeviceNotFound {
		t.Errorf("SuspendWorker(nobody) error = %v", err)
	}
}

// TestWorkersSnapshotConcurrent reads the fleet from many goroutines while
// suspensions change it (run with -race).
func TestWorkersSnapshotConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		b.worker(t, "w"+strconv.Itoa(i), "node", "FifoQ")
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range 30 {
				vs, err := b.q.Workers(b.ctx, queue.WorkerQuery{Queue: "FifoQ"})
				if err != nil || len(vs) != 5 {
					t.Errorf("Workers() = %d views, %v", len(vs), err)
					return
				}
			}
		})
	}
	for range 10 {
		if _, err := b.q.SuspendWorker(b.ctx, domain.System, "w1"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.q.ResumeWorker(b.ctx, domain.System, "w1"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	vs, _ := b.q.Workers(b.ctx, queue.WorkerQuery{Name: "w1"})
	if len(vs) != 1 || vs[0].Status != domain.WorkerIdle {
		t.Errorf("w1 after resume = %+v, want idle", vs)
	}
}
