package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var queueTests = []test{
	{"PauseStopsLeasing", testQueuePauseStopsLeasing},
	{"PauseListKeepsFirstTime", testQueuePauseListKeepsFirstTime},
	{"PausedPinnedTask", testQueuePausedPinnedTask},
	{"SuspendedWorkerLeasesNothing", testQueueSuspendedWorker},
	{"SuspensionOutlivesRegister", testQueueSuspensionOutlivesRegister},
	{"SuspendUnknownWorker", testQueueSuspendUnknownWorker},
	{"DrainingWorkerLeasesNothing", testQueueDrainingWorker},
	{"TaskFind", testQueueTaskFind},
	{"WorkerStatusList", testQueueWorkerStatusList},
}

func (b *bundle) setPaused(t *testing.T, q string, paused bool) {
	t.Helper()
	if err := b.s.QueueSetPaused(b.ctx, &store.QueueSetPausedParams{Name: q, Paused: paused, Now: b.now}); err != nil {
		t.Fatalf("QueueSetPaused(%s, %v) error = %v", q, paused, err)
	}
}

func (b *bundle) setSuspended(t *testing.T, id string, suspended bool) {
	t.Helper()
	if err := b.s.WorkerSetSuspended(b.ctx, &store.WorkerSetSuspendedParams{ID: id, Suspended: suspended, Now: b.now}); err != nil {
		t.Fatalf("WorkerSetSuspended(%s, %v) error = %v", id, suspended, err)
	}
}

func testQueuePauseStopsLeasing(t *testing.T, b *bundle) {
	fifo := b.insert(t, b.newTask())[0]
	other := b.insert(t, b.newTask(func(t *domain.Task) { t.Queue = "other" }))[0]
	w := b.register(t, "w1", func(w *domain.Worker) { w.Queues = []string{domain.DefaultQueue, "other"} })
	b.setPaused(t, domain.DefaultQueue, true)
	got := b.lease(t, w, 10)
	if !slices.Equal(ids(got), []string{other.ID}) {
		t.Fatalf("TaskLease() with FifoQ paused = %v, want only %s", ids(got), other.ID)
	}
	b.setPaused(t, domain.DefaultQueue, false)
	if got := b.lease(t, w, 10); !slices.Equal(ids(got), []string{fifo.ID}) {
		t.Errorf("TaskLease() after resume = %v, want %s", ids(got), fifo.ID)
	}
	// Resuming a queue that is not paused changes nothing.
	b.setPaused(t, "never-paused", false)
}

func testQueuePauseListKeepsFirstTime(t *testing.T, b *bundle) {
	first := b.now
	b.setPaused(t, "b", true)
	b.step(time.Minute)
	b.setPaused(t, "b", true)
	b.setPaused(t, "a", true)
	got, err := b.s.QueuePauseList(b.ctx)
	if err != nil {
		t.Fatalf("QueuePauseList() error = %v", err)
	}
	want := []store.QueuePause{{Queue: "a", PausedAt: b.now}, {Queue: "b", PausedAt: first}}
	if len(got) != 2 || got[0].Queue != "a" || got[1].Queue != "b" || !got[0].PausedAt.Equal(want[0].PausedAt) || !got[1].PausedAt.Equal(want[1].PausedAt) {
		t.Errorf("QueuePauseList() = %v, want %v", got, want)
	}
	if err := b.s.QueueSetPaused(b.ctx, &store.QueueSetPausedParams{Name: "", Paused: true}); domain.CodeOf(err) != domain.CodeValidation {
		t.Errorf("QueueSetPaused(\"\") error = %v, want %s", err, domain.CodeValidation)
	}
}

func testQueuePausedPinnedTask(t *testing.T, b *bundle) {
	w := b.register(t, "w1")
	pinned := b.insert(t, b.newTask(func(t *domain.Task) { t.DeviceID = "w1"; t.Queue = "devices" }))[0]
	b.setPaused(t, "devices", true)
	if got := b.lease(t, w, 10); len(got) != 0 {
		t.Fatalf("TaskLease() of a pinned task in a paused queue = %v, want nothing", ids(got))
	}
	b.setPaused(t, "devices", false)
	if got := b.lease(t, w, 10); !slices.Equal(ids(got), []string{pinned.ID}) {
		t.Errorf("TaskLease() after resume = %v, want %s", ids(got), pinned.ID)
	}
}

func (b *bundle) gated(t *testing.T, id string) bool {
	t.Helper()
	g, err := b.s.WorkerLeaseGate(b.ctx, id)
	if err != nil {
		t.Fatalf("WorkerLeaseGate(%s) error = %v", id, err)
	}
	return g
}

func testQueueSuspendedWorker(t *testing.T, b *bundle) {
	task := b.insert(t, b.newTask())[0]
	w := b.register(t, "w1")
	if b.gated(t, "w1") || b.gated(t, "nobody") {
		t.Error("WorkerLeaseGate() of an online worker or an unknown one = true")
	}
	b.setSuspended(t, "w1", true)
	if !b.gated(t, "w1") {
		t.Error("WorkerLeaseGate() of a suspended worker = false")
	}
	if got := b.lease(t, w, 10); len(got) != 0 {
		t.Fatalf("TaskLease() by a suspended worker = %v, want nothing", ids(got))
	}
	sus, err := b.s.WorkerSuspendedList(b.ctx)
	if err != nil {
		t.Fatalf("WorkerSuspendedList() error = %v", err)
	}
	if at, ok := sus["w1"]; !ok || !at.Equal(b.now) || len(sus) != 1 {
		t.Errorf("WorkerSuspendedList() = %v, want w1 at %v", sus, b.now)
	}
	b.setSuspended(t, "w1", false)
	if b.gated(t, "w1") {
		t.Error("WorkerLeaseGate() of a resumed worker = true")
	}
	if got := b.lease(t, w, 10); !slices.Equal(ids(got), []string{task.ID}) {
		t.Errorf("TaskLease() after resume = %v, want %s", ids(got), task.ID)
	}
	if sus, _ := b.s.WorkerSuspendedList(b.ctx); len(sus) != 0 {
		t.Errorf("WorkerSuspendedList() after resume = %v, want none", sus)
	}
}

func testQueueSuspensionOutlivesRegister(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	b.register(t, "w1")
	b.setSuspended(t, "w1", true)
	w := b.register(t, "w1") // a restart: same id, a new session
	if got := b.lease(t, w, 10); len(got) != 0 {
		t.Errorf("TaskLease() by a suspended worker after re-registering = %v, want nothing", ids(got))
	}
}

func testQueueSuspendUnknownWorker(t *testing.T, b *bundle) {
	err := b.s.WorkerSetSuspended(b.ctx, &store.WorkerSetSuspendedParams{ID: "nobody", Suspended: true, Now: b.now})
	if !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("WorkerSetSuspended(unknown) error = %v, want ErrNotFound", err)
	}
	b.register(t, "gone")
	if err := b.s.WorkerDelete(b.ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	err = b.s.WorkerSetSuspended(b.ctx, &store.WorkerSetSuspendedParams{ID: "gone", Suspended: true, Now: b.now})
	if !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("WorkerSetSuspended(removed) error = %v, want ErrNotFound", err)
	}
}

func testQueueDrainingWorker(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w := b.register(t, "w1")
	if err := b.s.WorkerSetState(b.ctx, &store.WorkerSetStateParams{ID: "w1", State: domain.WorkerDraining, Now: b.now}); err != nil {
		t.Fatal(err)
	}
	if !b.gated(t, "w1") {
		t.Error("WorkerLeaseGate() of a draining worker = false")
	}
	// w is the worker as it was before draining: the store decides, not the caller's copy.
	if got := b.lease(t, w, 10); len(got) != 0 {
		t.Errorf("TaskLease() by a draining worker = %v, want nothing", ids(got))
	}
}

func testQueueTaskFind(t *testing.T, b *bundle) {
	w1 := b.register(t, "w1")
	w2 := b.register(t, "w2", func(w *domain.Worker) { w.Queues = []string{"pinned_h"} })
	fifo := b.insertN(t, 3)
	pinned := b.insertN(t, 2, func(t *domain.Task) { t.Queue = "pinned_h" })
	b.step(time.Second)
	r1 := b.leaseOne(t, w1) // fifo[0]
	r2 := b.leaseOne(t, w2) // pinned[0]
	b.finish(t, w2, refOf(r2), true)

	find := func(p store.TaskFindParams) []string {
		t.Helper()
		got, err := b.s.TaskFind(b.ctx, &p)
		if err != nil {
			t.Fatalf("TaskFind(%+v) error = %v", p, err)
		}
		return ids(got)
	}
	for _, tc := range []struct {
		name string
		p    store.TaskFindParams
		want []string
	}{
		{"all, newest first", store.TaskFindParams{}, []string{pinned[1].ID, pinned[0].ID, fifo[2].ID, fifo[1].ID, fifo[0].ID}},
		{"queue", store.TaskFindParams{Queue: "pinned_h"}, []string{pinned[1].ID, pinned[0].ID}},
		{"queue and state", store.TaskFindParams{Queue: domain.DefaultQueue, States: []domain.TaskState{domain.TaskPending}}, []string{fifo[2].ID, fifo[1].ID}},
		{"states", store.TaskFindParams{States: []domain.TaskState{domain.TaskRunning, domain.TaskCompleted}}, []string{pinned[0].ID, fifo[0].ID}},
		{"workers", store.TaskFindParams{Workers: []string{"w1", "w2"}}, []string{r2.ID, r1.ID}},
		{"one worker", store.TaskFindParams{Workers: []string{"w2"}}, []string{r2.ID}},
		{"page", store.TaskFindParams{Limit: 2, Offset: 1}, []string{pinned[0].ID, fifo[2].ID}},
		{"nothing", store.TaskFindParams{Queue: "nowhere"}, nil},
	} {
		if got := find(tc.p); !slices.Equal(got, tc.want) {
			t.Errorf("TaskFind(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testQueueWorkerStatusList(t *testing.T, b *bundle) {
	b.register(t, "w1", func(w *domain.Worker) { w.Hostname = "node-a"; w.PID = 41 })
	w2 := b.register(t, "w2", func(w *domain.Worker) { w.Hostname = "node-b"; w.Queues = []string{"pinned_h", "FifoQ"} })
	b.register(t, "gone")
	if err := b.s.WorkerDelete(b.ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	b.insertN(t, 2)
	b.step(time.Second)
	b.lease(t, w2, 2)
	b.setSuspended(t, "w1", true)
	list := func(p store.WorkerStatusListParams) []store.WorkerStatus {
		t.Helper()
		got, err := b.s.WorkerStatusList(b.ctx, &p)
		if err != nil {
			t.Fatalf("WorkerStatusList(%+v) error = %v", p, err)
		}
		return got
	}
	all := list(store.WorkerStatusListParams{})
	if len(all) != 2 || all[0].Worker.ID != "w1" || all[1].Worker.ID != "w2" {
		t.Fatalf("WorkerStatusList() = %v, want w1, w2", all)
	}
	w1s, w2s := all[0], all[1]
	if w1s.Worker.PID != 41 || w1s.Worker.Hostname != "node-a" || !w1s.SuspendedAt.Equal(b.now) || w1s.Worker.TasksActive != 0 ||
		w1s.Worker.State != domain.WorkerOnline || !slices.Equal(w1s.Worker.Queues, []string{"FifoQ"}) || w1s.Worker.RegisteredAt.IsZero() {
		t.Errorf("WorkerStatusList() w1 = %+v (suspended %v)", w1s.Worker, w1s.SuspendedAt)
	}
	if w2s.Worker.TasksActive != 2 || !w2s.SuspendedAt.IsZero() || !slices.Equal(w2s.Worker.Queues, []string{"pinned_h", "FifoQ"}) {
		t.Errorf("WorkerStatusList() w2 = %+v (suspended %v)", w2s.Worker, w2s.SuspendedAt)
	}
	for _, tc := range []struct {
		p    store.WorkerStatusListParams
		want []string
	}{
		{store.WorkerStatusListParams{ID: "w2"}, []string{"w2"}},
		{store.WorkerStatusListParams{ID: "gone"}, nil},
		{store.WorkerStatusListParams{Queue: "pinned_h"}, []string{"w2"}},
		{store.WorkerStatusListParams{Hostname: "node-a"}, []string{"w1"}},
		{store.WorkerStatusListParams{Hostname: "node-a", Queue: "pinned_h"}, nil},
	} {
		var got []string
		for _, w := range list(tc.p) {
			got = append(got, w.Worker.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("WorkerStatusList(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}
