package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var leaseTests = []test{
	{"Fields", testLeaseFields},
	{"Order", testLeaseOrder},
	{"Max", testLeaseMax},
	{"Delayed", testLeaseDelayed},
	{"Placement", testLeasePlacement},
	{"PinnedOnlyToItsWorker", testLeasePinnedOnlyToItsWorker},
	{"ConcurrentExclusive", testLeaseConcurrentExclusive},
	{"HeartbeatRenewsListed", testLeaseHeartbeatRenewsListed},
	{"HeartbeatReportsLost", testLeaseHeartbeatReportsLost},
	{"HeartbeatRemovedRenewsNothing", testLeaseHeartbeatRemovedRenewsNothing},
	{"HeartbeatBatch", testLeaseHeartbeatBatch},
	{"HeartbeatBatchSameWorkerTwice", testLeaseHeartbeatBatchSameWorkerTwice},
	{"RescueExpiredRetries", testLeaseRescueExpiredRetries},
	{"RescueExpiredFails", testLeaseRescueExpiredFails},
	{"RescueExpiredLostRetries", testLeaseRescueExpiredLostRetries},
	{"RescueExpiredLimit", testLeaseRescueExpiredLimit},
	{"ReleaseWorkerRequeues", testLeaseReleaseWorkerRequeues},
	{"ReleaseWorkerCancels", testLeaseReleaseWorkerCancels},
}

func testLeaseFields(t *testing.T, b *bundle) {
	task := b.insert(t, b.newTask())[0]
	w := b.register(t, "w1")
	b.step(time.Second)
	got := b.leaseOne(t, w)
	want := *task
	want.State = domain.TaskRunning
	want.Attempt, want.LeaseEpoch = 1, 1
	want.LeaseOwner, want.LastDeviceID = w.ID, w.ID
	want.LeaseExpiresAt = b.now.Add(ttl)
	want.StartedAt = b.now
	if diff := taskDiff(&want, got); diff != "" {
		t.Errorf("TaskLease() task mismatch (-want +got):\n%s", diff)
	}
	if diff := taskDiff(&want, b.get(t, task.ID)); diff != "" {
		t.Errorf("TaskGet() after lease mismatch (-want +got):\n%s", diff)
	}
	if more := b.lease(t, w, 10); len(more) != 0 {
		t.Errorf("TaskLease() of a leased task = %v, want nothing", ids(more))
	}
}

func testLeaseOrder(t *testing.T, b *bundle) {
	// Inserted in an order unlike the lease order.
	early, late := start.Add(-time.Hour), start.Add(-time.Minute)
	lowOld := b.newTask(priority(domain.PriorityLow), availableAt(early))
	normalLate := b.newTask(availableAt(late))
	normalEarlyNew := b.newTask(availableAt(early))
	critical := b.newTask(priority(domain.PriorityCritical), availableAt(late))
	normalEarlyNewer := b.newTask(availableAt(early))
	high := b.newTask(priority(domain.PriorityHigh), availableAt(late))
	b.insert(t, lowOld, normalLate, normalEarlyNew, critical, normalEarlyNewer, high)

	want := []string{critical.ID, high.ID, normalEarlyNew.ID, normalEarlyNewer.ID, normalLate.ID, lowOld.ID}
	got := b.lease(t, b.register(t, "w1"), 10)
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("TaskLease() order mismatch: priority, then available, then oldest (-want +got):\n%s", diff)
	}

	// One at a time gives the same order.
	b2 := b.fresh(t)
	b2.insert(t, lowOld, normalLate, normalEarlyNew, critical, normalEarlyNewer, high)
	w := b2.register(t, "w1")
	var oneByOne []string
	for range want {
		oneByOne = append(oneByOne, b2.leaseOne(t, w).ID)
	}
	if diff := cmp.Diff(want, oneByOne); diff != "" {
		t.Errorf("TaskLease(max 1) repeated: order mismatch (-want +got):\n%s", diff)
	}
}

func testLeaseMax(t *testing.T, b *bundle) {
	b.insertN(t, 5)
	w := b.register(t, "w1")
	if got := b.lease(t, w, 3); len(got) != 3 {
		t.Errorf("TaskLease(max 3) leased %d tasks, want 3", len(got))
	}
	if got := b.lease(t, w, 3); len(got) != 2 {
		t.Errorf("TaskLease(max 3) of the remaining 2 leased %d tasks, want 2", len(got))
	}
	if got := b.lease(t, w, 0); len(got) != 0 {
		t.Errorf("TaskLease(max 0) leased %d tasks, want 0", len(got))
	}
}

func testLeaseDelayed(t *testing.T, b *bundle) {
	due := start.Add(time.Minute)
	task := b.insert(t, b.newTask(availableAt(due)))[0]
	w := b.register(t, "w1")
	b.now = due.Add(-time.Microsecond)
	if got := b.lease(t, w, 10); len(got) != 0 {
		t.Errorf("TaskLease() at %v before AvailableAt %v = %v, want nothing", b.now, due, ids(got))
	}
	b.now = due
	if got := b.lease(t, w, 10); len(got) != 1 || got[0].ID != task.ID {
		t.Errorf("TaskLease() at AvailableAt = %v, want [%s]", ids(got), task.ID)
	}
}

// testLeasePlacement checks the lease query against domain.Worker.CanRun,
// case by case: what a worker may lease is exactly what it can run.
func testLeasePlacement(t *testing.T, b *bundle) {
	tests := []struct {
		name   string
		task   []func(*domain.Task)
		worker func(*domain.Worker)
		want   bool
	}{
		{"plain", nil, nil, true},
		{"other queue", with(inQueue("gpu")), nil, false},
		{"second queue", with(inQueue("gpu")), func(w *domain.Worker) { w.Queues = []string{"cpu", "gpu"} }, true},
		{"type not handled", with(ofType("http")), nil, false},
		{"no handlers", nil, func(w *domain.Worker) { w.TaskTypes = nil }, false},
		{"pinned here, queue not listened", with(inQueue("elsewhere"), pinnedTo("w1")), nil, true},
		{"pinned here, no queues at all", with(pinnedTo("w1")), func(w *domain.Worker) { w.Queues = nil }, true},
		{"pinned elsewhere", with(pinnedTo("w2")), nil, false},
		{"pinned here, type not handled", with(pinnedTo("w1"), ofType("http")), nil, false},
		{"cpu enough", with(requires(domain.Requirements{MinCPUCores: 4})), nil, true},
		{"cpu short", with(requires(domain.Requirements{MinCPUCores: 5})), nil, false},
		{"memory enough", with(requires(domain.Requirements{MinMemoryGB: 8})), nil, true},
		{"memory within rounding", with(requires(domain.Requirements{MinMemoryGB: 8})), func(w *domain.Worker) { w.Resources.MemoryTotalGB = 7.97 }, true},
		{"memory short", with(requires(domain.Requirements{MinMemoryGB: 8.5})), nil, false},
		{"platform matches", with(requires(domain.Requirements{Platform: "linux"})), nil, true},
		{"platform differs", with(requires(domain.Requirements{Platform: "android"})), nil, false},
		{"role matches", with(requires(domain.Requirements{Role: "worker"})), nil, true},
		{"role differs", with(requires(domain.Requirements{Role: "gpu"})), nil, false},
		{"labels subset", with(requires(domain.Requirements{Labels: map[string]string{"zone": "a"}})),
			func(w *domain.Worker) { w.Labels = map[string]string{"zone": "a", "disk": "ssd"} }, true},
		{"labels all", with(requires(domain.Requirements{Labels: map[string]string{"zone": "a", "disk": "ssd"}})),
			func(w *domain.Worker) { w.Labels = map[string]string{"zone": "a", "disk": "ssd"} }, true},
		{"label value differs", with(requires(domain.Requirements{Labels: map[string]string{"zone": "b"}})), nil, false},
		{"label missing", with(requires(domain.Requirements{Labels: map[string]string{"gpu": "yes"}})), nil, false},
		{"labels on a worker with none", with(requires(domain.Requirements{Labels: map[string]string{"zone": "a"}})),
			func(w *domain.Worker) { w.Labels = nil }, false},
		{"everything at once", with(inQueue("gpu"), ofType("sleep"), requires(domain.Requirements{
			MinCPUCores: 2, MinMemoryGB: 4, Platform: "linux", Role: "worker", Labels: map[string]string{"zone": "a"}})),
			func(w *domain.Worker) { w.Queues = []string{"gpu"} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := b.fresh(t)
			task := b.insert(t, b.newTask(tt.task...))[0]
			var opts []func(*domain.Worker)
			if tt.worker != nil {
				opts = append(opts, tt.worker)
			}
			w := b.register(t, "w1", opts...)
			if canRun := w.CanRun(task); canRun != tt.want {
				t.Fatalf("the case is wrong: domain CanRun = %t, want %t", canRun, tt.want)
			}
			got := b.lease(t, w, 10)
			if leased := len(got) == 1; leased != tt.want {
				t.Errorf("TaskLease(%s) leased %v, want leased = %t", tt.name, ids(got), tt.want)
			}
		})
	}
}

func testLeasePinnedOnlyToItsWorker(t *testing.T, b *bundle) {
	pinned := b.insert(t, b.newTask(pinnedTo("w1"), priority(domain.PriorityCritical)))[0]
	free := b.insert(t, b.newTask())[0]
	w2 := b.register(t, "w2")
	if got := b.lease(t, w2, 10); len(got) != 1 || got[0].ID != free.ID {
		t.Errorf("TaskLease(w2) = %v, want only the unpinned task %s", ids(got), free.ID)
	}
	w1 := b.register(t, "w1", func(w *domain.Worker) { w.Queues = []string{"unrelated"} })
	if got := b.lease(t, w1, 10); len(got) != 1 || got[0].ID != pinned.ID {
		t.Errorf("TaskLease(w1) = %v, want its pinned task %s", ids(got), pinned.ID)
	}
}

// testLeaseConcurrentExclusive has 8 workers lease from 500 tasks at once,
// until none is left: each task must be leased exactly once.
func testLeaseConcurrentExclusive(t *testing.T, b *bundle) {
	const tasks, workers, batch = 500, 8, 7
	var all []*domain.Task
	for range tasks / 100 {
		all = append(all, b.insertN(t, 100)...)
	}
	var (
		mu     sync.Mutex
		leased = map[string][]string{} // task id -> the workers that leased it
		wg     sync.WaitGroup
		errs   = make(chan error, workers)
	)
	for i := range workers {
		w := b.register(t, "w"+string(rune('a'+i)))
		wg.Go(func() {
			for {
				got, err := b.s.TaskLease(b.ctx, &store.TaskLeaseParams{Worker: w, Max: batch, TTL: ttl, Now: b.now})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, task := range got {
					leased[task.ID] = append(leased[task.ID], w.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("TaskLease() error = %v", err)
	}
	if len(leased) != tasks {
		t.Errorf("%d distinct tasks leased, want %d", len(leased), tasks)
	}
	for _, task := range all {
		if by := leased[task.ID]; len(by) != 1 {
			t.Errorf("task %s leased by %v, want exactly one worker", task.ID, by)
		}
	}
}

// heartbeat sends one heartbeat of worker id naming held.
func (b *bundle) heartbeat(t *testing.T, id string, held ...domain.TaskRef) *store.WorkerHeartbeatResult {
	t.Helper()
	got, err := b.heartbeatOne(store.Heartbeat{ID: id, Held: held})
	if err != nil {
		t.Fatalf("WorkerHeartbeatMany(%s) error = %v", id, err)
	}
	return got
}

// heartbeatOne sends hb alone in a batch; its own error is the error.
func (b *bundle) heartbeatOne(hb store.Heartbeat) (*store.WorkerHeartbeatResult, error) {
	res, err := b.s.WorkerHeartbeatMany(b.ctx, &store.WorkerHeartbeatManyParams{Heartbeats: []store.Heartbeat{hb}, TTL: ttl, Now: b.now})
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, fmt.Errorf("WorkerHeartbeatMany() = %d results, want 1", len(res))
	}
	return &res[0], res[0].Err
}

func testLeaseHeartbeatRenewsListed(t *testing.T, b *bundle) {
	b.insertN(t, 3)
	w := b.register(t, "w1")
	held := b.lease(t, w, 3)
	listed, unheard := held[:2], held[2]
	// Within its first TTL an unlisted lease is renewed too: its answer may
	// still be on its way to the worker.
	b.step(ttl / 2)
	b.heartbeat(t, w.ID, refOf(listed[0]), refOf(listed[1]))
	if got := b.get(t, unheard.ID); !got.LeaseExpiresAt.Equal(b.now.Add(ttl)) {
		t.Errorf("TaskGet(young unlisted).LeaseExpiresAt = %v, want renewed to %v", got.LeaseExpiresAt, b.now.Add(ttl))
	}
	unheard = b.get(t, unheard.ID)
	b.step(ttl)
	// Past it, a heartbeat renews only the leases it lists. The third
	// lease's answer never reached the worker (the server died after the
	// commit): the worker does not list it, and it is not renewed.
	got := b.heartbeat(t, w.ID, refOf(listed[0]), refOf(listed[1]))
	if len(got.Lost) != 0 {
		t.Errorf("WorkerHeartbeat() lost = %v, want none", got.Lost)
	}
	if got.Worker.ID != w.ID || got.Worker.TasksActive != 3 || !got.Worker.LastSeen.Equal(b.now) {
		t.Errorf("WorkerHeartbeat().Worker = (%s, active %d, last seen %v), want (%s, 3, %v)",
			got.Worker.ID, got.Worker.TasksActive, got.Worker.LastSeen, w.ID, b.now)
	}
	for _, task := range listed {
		if got := b.get(t, task.ID); !got.LeaseExpiresAt.Equal(b.now.Add(ttl)) {
			t.Errorf("TaskGet(%s).LeaseExpiresAt = %v, want %v", task.ID, got.LeaseExpiresAt, b.now.Add(ttl))
		}
	}
	if got := b.get(t, unheard.ID); !got.LeaseExpiresAt.Equal(unheard.LeaseExpiresAt) {
		t.Errorf("TaskGet(unlisted).LeaseExpiresAt = %v, want unrenewed %v", got.LeaseExpiresAt, unheard.LeaseExpiresAt)
	}
	// Renewed, the listed leases outlive their first deadline; the unlisted
	// one goes back to its queue.
	b.step(20 * time.Second)
	rescued, err := b.s.TaskRescueExpired(b.ctx, &store.TaskRescueExpiredParams{Backoff: linearBackoff, Now: b.now})
	if err != nil {
		t.Fatalf("TaskRescueExpired() error = %v", err)
	}
	if len(rescued) != 1 || rescued[0].ID != unheard.ID {
		t.Errorf("TaskRescueExpired() after renewal = %v, want only the unlisted %s", ids(rescued), unheard.ID)
	}
}

func testLeaseHeartbeatReportsLost(t *testing.T, b *bundle) {
	w1, w2 := b.register(t, "w1"), b.register(t, "w2")
	// reLeased is leased first, so its lease expires first.
	b.insert(t, b.newTask(priority(domain.PriorityHigh), retries(1)))
	reLeased := b.leaseOne(t, w1)
	b.step(ttl / 2)
	b.insertN(t, 3)
	held := b.lease(t, w1, 3)
	kept, cancelled, finished := held[0], held[1], held[2]

	if _, _, err := b.s.TaskCancel(b.ctx, &store.TaskCancelParams{ID: cancelled.ID, Now: b.now}); err != nil {
		t.Fatalf("TaskCancel() error = %v", err)
	}
	b.finish(t, w1, refOf(finished), true)
	b.now = reLeased.LeaseExpiresAt.Add(time.Second)
	if got := b.rescue(t, 0); len(got) != 1 || got[0].ID != reLeased.ID {
		t.Fatalf("TaskRescueExpired() = %v, want [%s]", ids(got), reLeased.ID)
	}
	b.now = b.get(t, reLeased.ID).AvailableAt
	w2Lease := b.leaseOne(t, w2)
	if w2Lease.ID != reLeased.ID {
		t.Fatalf("TaskLease(w2) = %s, want the rescued %s", w2Lease.ID, reLeased.ID)
	}
	b.step(time.Second)

	unknown := domain.TaskRef{TaskID: "task-unknown", Epoch: 1}
	got := b.heartbeat(t, w1.ID, refOf(kept), refOf(cancelled), refOf(finished), refOf(reLeased), unknown)
	want := []store.LostLease{
		{Ref: refOf(cancelled), Reason: store.ReasonCancelled},
		{Ref: refOf(finished), Reason: store.ReasonLeaseLost},
		{Ref: refOf(reLeased), Reason: store.ReasonLeaseLost},
		{Ref: unknown, Reason: store.ReasonLeaseLost},
	}
	if diff := cmp.Diff(want, got.Lost, cmpEmpty); diff != "" {
		t.Errorf("WorkerHeartbeat() lost mismatch (-want +got):\n%s", diff)
	}
	if k := b.get(t, kept.ID); !k.LeaseExpiresAt.Equal(b.now.Add(ttl)) {
		t.Errorf("TaskGet(kept).LeaseExpiresAt = %v, want %v", k.LeaseExpiresAt, b.now.Add(ttl))
	}
	// w1's heartbeat renewed only its own lease, not w2's on the same task.
	if got := b.get(t, reLeased.ID); got.LeaseOwner != w2.ID || !got.LeaseExpiresAt.Equal(w2Lease.LeaseExpiresAt) {
		t.Errorf("TaskGet(%s) = (owner %s, expires %v), want (w2, %v)", reLeased.ID, got.LeaseOwner, got.LeaseExpiresAt, w2Lease.LeaseExpiresAt)
	}
}

func testLeaseRescueExpiredRetries(t *testing.T, b *bundle) {
	task := b.insert(t, b.newTask(retries(1)))[0]
	w := b.register(t, "w1")
	first := b.leaseOne(t, w)
	expiry := first.LeaseExpiresAt

	b.now = expiry // a lease expires only after its deadline
	if rescued := b.rescue(t, 0); len(rescued) != 0 {
		t.Errorf("TaskRescueExpired() at the deadline = %v, want nothing", ids(rescued))
	}
	b.now = expiry.Add(time.Microsecond)
	rescued := b.rescue(t, 0)
	if len(rescued) != 1 {
		t.Fatalf("TaskRescueExpired() after the deadline rescued %d tasks, want 1", len(rescued))
	}
	got := rescued[0]
	retryAt := b.now.Add(linearBackoff(1, retryGap))
	if got.State != domain.TaskPending || got.LeaseOwner != "" || !got.AvailableAt.Equal(retryAt) || got.Error == "" {
		t.Errorf("TaskRescueExpired() = (state %s, owner %q, available %v, error %q), want (pending, no owner, %v, a reason)",
			got.State, got.LeaseOwner, got.AvailableAt, got.Error, retryAt)
	}
	if diff := taskDiff(got, b.get(t, task.ID)); diff != "" {
		t.Errorf("TaskGet() differs from what TaskRescueExpired returned (-rescued +stored):\n%s", diff)
	}
	// Not before its backoff, then with a new epoch.
	b.now = retryAt.Add(-time.Microsecond)
	if got := b.lease(t, w, 1); len(got) != 0 {
		t.Errorf("TaskLease() during retry backoff = %v, want nothing", ids(got))
	}
	b.now = retryAt
	second := b.leaseOne(t, w)
	if second.Attempt != 2 || second.LeaseEpoch <= first.LeaseEpoch {
		t.Errorf("TaskLease() after rescue = (attempt %d, epoch %d), want (2, > %d)", second.Attempt, second.LeaseEpoch, first.LeaseEpoch)
	}
	if out := b.finish(t, w, refOf(first), true); !out.StaleLease {
		t.Errorf("TaskFinishMany(first, expired lease) = %+v, want StaleLease", out)
	}
}

func testLeaseRescueExpiredFails(t *testing.T, b *bundle) {
	b.insert(t, b.newTask(retries(0)))
	w := b.register(t, "w1")
	leased := b.leaseOne(t, w)
	b.now = leased.LeaseExpiresAt.Add(time.Second)
	rescued := b.rescue(t, 0)
	if len(rescued) != 1 {
		t.Fatalf("TaskRescueExpired() rescued %d tasks, want 1", len(rescued))
	}
	if got := rescued[0]; got.State != domain.TaskFailed || !got.CompletedAt.Equal(b.now) || got.Error == "" || got.LeaseOwner != "" {
		t.Errorf("TaskRescueExpired(retries spent) = (state %s, completed %v, error %q, owner %q), want (failed, %v, a reason, none)",
			got.State, got.CompletedAt, got.Error, got.LeaseOwner, b.now)
	}
	if got := b.lease(t, w, 10); len(got) != 0 {
		t.Errorf("TaskLease() of a failed task = %v, want nothing", ids(got))
	}
}

// testLeaseRescueExpiredLostRetries gives a task without retries one more
// attempt for losing its worker, and no more.
func testLeaseRescueExpiredLostRetries(t *testing.T, b *bundle) {
	task := b.insert(t, b.newTask(retries(0)))[0]
	w := b.register(t, "w1")
	for attempt, want := range []domain.TaskState{domain.TaskPending, domain.TaskFailed} {
		leased := b.leaseOne(t, w)
		b.now = leased.LeaseExpiresAt.Add(time.Second)
		got, err := b.s.TaskRescueExpired(b.ctx, &store.TaskRescueExpiredParams{Backoff: linearBackoff, LostRetries: 1, Now: b.now})
		if err != nil {
			t.Fatalf("TaskRescueExpired() error = %v", err)
		}
		if len(got) != 1 || got[0].State != want {
			t.Fatalf("TaskRescueExpired(LostRetries 1) after attempt %d = %v, want %s in state %s", attempt+1, got, task.ID, want)
		}
		b.now = got[0].AvailableAt
	}
}

func testLeaseRescueExpiredLimit(t *testing.T, b *bundle) {
	b.insertN(t, 5, retries(3))
	w := b.register(t, "w1")
	b.lease(t, w, 5)
	b.step(ttl + time.Second)
	if got := b.rescue(t, 2); len(got) != 2 {
		t.Errorf("TaskRescueExpired(limit 2) rescued %d, want 2", len(got))
	}
	if got := b.rescue(t, 0); len(got) != 3 {
		t.Errorf("TaskRescueExpired(no limit) rescued %d, want the other 3", len(got))
	}
}

func testLeaseHeartbeatRemovedRenewsNothing(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w := b.register(t, "w1")
	task := b.leaseOne(t, w)
	if err := b.s.WorkerDelete(b.ctx, w.ID); err != nil {
		t.Fatalf("WorkerDelete() error = %v", err)
	}
	b.step(10 * time.Second)
	_, err := b.heartbeatOne(store.Heartbeat{ID: w.ID, Held: []domain.TaskRef{refOf(task)}})
	wantErr(t, "WorkerHeartbeat(removed)", err, domain.ErrNotFound)
	if got := b.get(t, task.ID); !got.LeaseExpiresAt.Equal(task.LeaseExpiresAt) {
		t.Errorf("TaskGet().LeaseExpiresAt after a removed worker's heartbeat = %v, want %v (not renewed)", got.LeaseExpiresAt, task.LeaseExpiresAt)
	}
}

// One batch of heartbeats answers each on its own: the live workers'
// leases are renewed and their lost ones named, each fenced by its own
// worker (w2 naming w1's lease loses it), while the heartbeats of an
// unknown worker, a removed one and one with a replaced credential fail
// alone and renew nothing.
func testLeaseHeartbeatBatch(t *testing.T, b *bundle) {
	w1, w2, gone := b.register(t, "w1"), b.register(t, "w2"), b.register(t, "w3")
	b.insertN(t, 2)
	w1Tasks := b.lease(t, w1, 2)
	kept, cancelled := w1Tasks[0], w1Tasks[1]
	b.insert(t, b.newTask())
	w2Task := b.leaseOne(t, w2)
	b.insert(t, b.newTask())
	goneTask := b.leaseOne(t, gone)
	if _, _, err := b.s.TaskCancel(b.ctx, &store.TaskCancelParams{ID: cancelled.ID, Now: b.now}); err != nil {
		t.Fatalf("TaskCancel() error = %v", err)
	}
	if err := b.s.WorkerDelete(b.ctx, gone.ID); err != nil {
		t.Fatalf("WorkerDelete() error = %v", err)
	}
	b.step(ttl + time.Second) // past the first TTL: only listed leases are renewed
	res := domain.Resources{CPUCores: 2, MemoryTotalGB: 4}
	hbs := []store.Heartbeat{
		{ID: w1.ID, CredentialHash: w1.CredentialHash, Resources: res, Held: []domain.TaskRef{refOf(kept), refOf(cancelled)}},
		{ID: gone.ID, Held: []domain.TaskRef{refOf(goneTask)}},
		{ID: "nobody"},
		{ID: w2.ID, Held: []domain.TaskRef{refOf(w2Task), refOf(kept)}},
		{ID: w1.ID, CredentialHash: "hash-of-a-replaced-credential"}, // #nosec G101 -- a made-up hash no worker holds, not a credential
	}
	got, err := b.s.WorkerHeartbeatMany(b.ctx, &store.WorkerHeartbeatManyParams{Heartbeats: hbs, TTL: ttl, Now: b.now})
	if err != nil {
		t.Fatalf("WorkerHeartbeatMany() error = %v", err)
	}
	if len(got) != len(hbs) {
		t.Fatalf("WorkerHeartbeatMany() = %d results, want %d", len(got), len(hbs))
	}
	for i, want := range []error{nil, domain.ErrNotFound, domain.ErrNotFound, nil, domain.ErrNotFound} {
		if !errors.Is(got[i].Err, want) || (want == nil) != (got[i].Worker != nil) {
			t.Errorf("WorkerHeartbeatMany()[%d] (%s) = worker %v, error %v; want error %v", i, hbs[i].ID, got[i].Worker != nil, got[i].Err, want)
		}
	}
	if w := got[0].Worker; w != nil && (w.ID != w1.ID || !w.LastSeen.Equal(b.now) || !cmp.Equal(w.Resources, res)) {
		t.Errorf("WorkerHeartbeatMany()[0].Worker = (%s, last seen %v, resources %+v), want (%s, %v, %+v)", w.ID, w.LastSeen, w.Resources, w1.ID, b.now, res)
	}
	wantLost := [][]store.LostLease{
		{{Ref: refOf(cancelled), Reason: store.ReasonCancelled}}, nil, nil,
		{{Ref: refOf(kept), Reason: store.ReasonLeaseLost}}, nil,
	}
	for i := range hbs {
		if diff := cmp.Diff(wantLost[i], got[i].Lost, cmpEmpty); diff != "" {
			t.Errorf("WorkerHeartbeatMany()[%d] (%s) lost mismatch (-want +got):\n%s", i, hbs[i].ID, diff)
		}
	}
	for _, task := range []*domain.Task{kept, w2Task} {
		if g := b.get(t, task.ID); !g.LeaseExpiresAt.Equal(b.now.Add(ttl)) {
			t.Errorf("TaskGet(%s).LeaseExpiresAt = %v, want renewed to %v", task.ID, g.LeaseExpiresAt, b.now.Add(ttl))
		}
	}
	if g := b.get(t, goneTask.ID); !g.LeaseExpiresAt.Equal(goneTask.LeaseExpiresAt) {
		t.Errorf("TaskGet(removed worker's task).LeaseExpiresAt = %v, want unrenewed %v", g.LeaseExpiresAt, goneTask.LeaseExpiresAt)
	}
	if g := b.workerGet(t, gone.ID); g.State != domain.WorkerRemoved {
		t.Errorf("WorkerGet(removed).State after its heartbeat = %s, want removed", g.State)
	}
}

// A worker listed twice in one batch gets both heartbeats applied, in
// order, each with its own answer.
func testLeaseHeartbeatBatchSameWorkerTwice(t *testing.T, b *bundle) {
	w := b.register(t, "w1")
	b.insert(t, b.newTask())
	task := b.leaseOne(t, w)
	b.step(ttl + time.Second)
	stale := domain.TaskRef{TaskID: task.ID, Epoch: task.LeaseEpoch - 1}
	first, second := domain.Resources{CPUCores: 1}, domain.Resources{CPUCores: 2}
	got, err := b.s.WorkerHeartbeatMany(b.ctx, &store.WorkerHeartbeatManyParams{Heartbeats: []store.Heartbeat{
		{ID: w.ID, Resources: first, Held: []domain.TaskRef{refOf(task)}},
		{ID: w.ID, Resources: second, Held: []domain.TaskRef{stale}},
	}, TTL: ttl, Now: b.now})
	if err != nil || len(got) != 2 {
		t.Fatalf("WorkerHeartbeatMany() = %d results, error %v; want 2 results", len(got), err)
	}
	if got[0].Err != nil || len(got[0].Lost) != 0 {
		t.Errorf("WorkerHeartbeatMany()[0] = lost %v, error %v; want none", got[0].Lost, got[0].Err)
	}
	wantLost := []store.LostLease{{Ref: stale, Reason: store.ReasonLeaseLost}}
	if diff := cmp.Diff(wantLost, got[1].Lost, cmpEmpty); got[1].Err != nil || diff != "" {
		t.Errorf("WorkerHeartbeatMany()[1] error = %v, lost mismatch (-want +got):\n%s", got[1].Err, diff)
	}
	if g := b.workerGet(t, w.ID); !cmp.Equal(g.Resources, second) {
		t.Errorf("WorkerGet().Resources = %+v, want the second heartbeat's %+v", g.Resources, second)
	}
	if g := b.get(t, task.ID); !g.LeaseExpiresAt.Equal(b.now.Add(ttl)) {
		t.Errorf("TaskGet().LeaseExpiresAt = %v, want renewed to %v", g.LeaseExpiresAt, b.now.Add(ttl))
	}
}

func (b *bundle) rescue(t *testing.T, limit int) []*domain.Task {
	t.Helper()
	got, err := b.s.TaskRescueExpired(b.ctx, &store.TaskRescueExpiredParams{Backoff: linearBackoff, Limit: limit, Now: b.now})
	if err != nil {
		t.Fatalf("TaskRescueExpired() error = %v", err)
	}
	return got
}

func testLeaseReleaseWorkerRequeues(t *testing.T, b *bundle) {
	// max_retries 0: a released attempt must not spend the only one.
	b.insertN(t, 2, retries(0))
	other := b.insert(t, b.newTask(pinnedTo("w2")))[0]
	w1, w2 := b.register(t, "w1"), b.register(t, "w2")
	held := b.lease(t, w1, 10)
	b.leaseOne(t, w2) // the pinned one, untouched by releasing w1
	b.step(time.Second)
	released, err := b.s.TaskReleaseWorker(b.ctx, &store.TaskReleaseWorkerParams{WorkerID: w1.ID, Now: b.now})
	if err != nil {
		t.Fatalf("TaskReleaseWorker() error = %v", err)
	}
	if diff := cmp.Diff(sorted(ids(held)), sorted(released)); diff != "" {
		t.Errorf("TaskReleaseWorker() ids mismatch (-want +got):\n%s", diff)
	}
	for _, task := range held {
		got := b.get(t, task.ID)
		if got.State != domain.TaskPending || got.LeaseOwner != "" || got.AvailableAt.After(b.now) {
			t.Errorf("TaskGet(%s) after release = (state %s, owner %q, available %v), want (pending, none, by %v)",
				task.ID, got.State, got.LeaseOwner, got.AvailableAt, b.now)
		}
	}
	if got := b.get(t, other.ID); got.State != domain.TaskRunning {
		t.Errorf("TaskGet(w2's task) after releasing w1: state = %s, want running", got.State)
	}
	// Re-leased, the task still has its one attempt: a failure now ends it
	// (no retry left), but it ran, so it is failed and not lost.
	again := b.lease(t, w1, 10)
	if len(again) != 2 {
		t.Fatalf("TaskLease() after release leased %d, want 2", len(again))
	}
	for _, task := range again {
		if task.Attempt != 1 || task.LeaseEpoch != 2 {
			t.Errorf("TaskLease() after release: %s = (attempt %d, epoch %d), want (1, 2)", task.ID, task.Attempt, task.LeaseEpoch)
		}
	}
}

func testLeaseReleaseWorkerCancels(t *testing.T, b *bundle) {
	b.insertN(t, 2)
	w := b.register(t, "w1")
	held := b.lease(t, w, 10)
	released, err := b.s.TaskReleaseWorker(b.ctx, &store.TaskReleaseWorkerParams{WorkerID: w.ID, Cancel: true, Reason: "device removed", Now: b.now})
	if err != nil {
		t.Fatalf("TaskReleaseWorker(cancel) error = %v", err)
	}
	if diff := cmp.Diff(sorted(ids(held)), sorted(released)); diff != "" {
		t.Errorf("TaskReleaseWorker(cancel) ids mismatch (-want +got):\n%s", diff)
	}
	for _, task := range held {
		if got := b.get(t, task.ID); got.State != domain.TaskCancelled || got.Error != "device removed" || got.LeaseOwner != "" {
			t.Errorf("TaskGet(%s) after release = (state %s, error %q, owner %q), want (cancelled, \"device removed\", none)",
				task.ID, got.State, got.Error, got.LeaseOwner)
		}
	}
}
