package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var taskTests = []test{
	{"InsertGet", testTaskInsertGet},
	{"GetUnknown", testTaskGetUnknown},
	{"InsertDuplicateID", testTaskInsertDuplicateID},
	{"IdempotencyKey", testTaskIdempotencyKey},
	{"IdempotencyKeyWithinBatch", testTaskIdempotencyKeyWithinBatch},
	{"IdempotencyConflictStoresNothing", testTaskIdempotencyConflictStoresNothing},
	{"ListFilters", testTaskListFilters},
	{"ListLimitOffset", testTaskListLimitOffset},
	{"Count", testTaskCount},
	{"CancelPending", testTaskCancelPending},
	{"CancelRunning", testTaskCancelRunning},
	{"CancelTerminal", testTaskCancelTerminal},
	{"CancelUnknown", testTaskCancelUnknown},
	{"CancelMany", testTaskCancelMany},
	{"CancelManyNeedsFilter", testTaskCancelManyNeedsFilter},
	{"NextAvailable", testTaskNextAvailable},
}

func testTaskInsertGet(t *testing.T, b *bundle) {
	want := b.newTask(func(t *domain.Task) {
		t.Priority = domain.PriorityHigh
		t.Queue = "images"
		t.DeviceID = "w1"
		t.Requirements = domain.Requirements{MinCPUCores: 2, MinMemoryGB: 1.5, Platform: "linux", Role: "gpu",
			Labels: map[string]string{"zone": "a"}}
		t.MaxRetries = 3
		t.IdempotencyKey = "key-1"
		t.RequestHash = "hash-1"
		t.OriginalTaskID = "task-older"
		t.Labels = map[string]string{"team": "infra"}
		t.AvailableAt = t.CreatedAt.Add(time.Minute)
	})
	inserted := b.insert(t, want)
	if diff := taskDiff(want, inserted[0]); diff != "" {
		t.Errorf("TaskInsertMany() task mismatch (-want +got):\n%s", diff)
	}
	if diff := taskDiff(want, b.get(t, want.ID)); diff != "" {
		t.Errorf("TaskGet() mismatch (-want +got):\n%s", diff)
	}
}

func testTaskGetUnknown(t *testing.T, b *bundle) {
	_, err := b.s.TaskGet(b.ctx, "task-nope")
	wantErr(t, "TaskGet(unknown)", err, domain.ErrNotFound)
}

func testTaskInsertDuplicateID(t *testing.T, b *bundle) {
	first := b.insert(t, b.newTask())[0]
	dup := b.newTask(func(t *domain.Task) { t.ID = first.ID })
	_, err := b.s.TaskInsertMany(b.ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{dup}})
	wantErr(t, "TaskInsertMany(duplicate id)", err, domain.ErrConflict)
}

func testTaskIdempotencyKey(t *testing.T, b *bundle) {
	first := b.insert(t, b.newTask(idempotencyKey("k")))[0]
	second := b.newTask(idempotencyKey("k"), func(t *domain.Task) { t.Payload = []byte(`{"other":true}`) })
	plain := b.newTask()
	outs, err := b.s.TaskInsertMany(b.ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{second, plain}})
	if err != nil {
		t.Fatalf("TaskInsertMany() error = %v", err)
	}
	if !outs[0].Existing || outs[0].Task.ID != first.ID {
		t.Errorf("TaskInsertMany(reused key) = (id %s, existing %t), want (id %s, existing true)", outs[0].Task.ID, outs[0].Existing, first.ID)
	}
	if diff := taskDiff(first, outs[0].Task); diff != "" {
		t.Errorf("TaskInsertMany(reused key) task is not the first one (-want +got):\n%s", diff)
	}
	if outs[1].Existing || outs[1].Task.ID != plain.ID {
		t.Errorf("TaskInsertMany(no key) = (id %s, existing %t), want (id %s, existing false)", outs[1].Task.ID, outs[1].Existing, plain.ID)
	}
	if _, err := b.s.TaskGet(b.ctx, second.ID); err == nil {
		t.Errorf("TaskGet(%s) found the task whose key was taken; it should not be stored", second.ID)
	}
}

// A key reused by a different request refuses the whole batch: nothing of
// it is stored (a refused batch must not run in part).
func testTaskIdempotencyConflictStoresNothing(t *testing.T, b *bundle) {
	first := b.insert(t, b.newTask(idempotencyKey("k")))[0]
	plain := b.newTask()
	other := b.newTask(idempotencyKey("k"), func(t *domain.Task) { t.RequestHash = "h-different" })
	_, err := b.s.TaskInsertMany(b.ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{plain, other}})
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeIdempotencyConflict || de.Details["task_id"] != first.ID || de.Details["index"] != 1 {
		t.Fatalf("TaskInsertMany(key of a different request) error = %v, want IDEMPOTENCY_CONFLICT naming %s at index 1", err, first.ID)
	}
	if _, err := b.s.TaskGet(b.ctx, plain.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("TaskGet(%s) = %v; the refused batch's other task was stored", plain.ID, err)
	}
}

func testTaskIdempotencyKeyWithinBatch(t *testing.T, b *bundle) {
	a, c := b.newTask(idempotencyKey("same")), b.newTask(idempotencyKey("same"))
	outs, err := b.s.TaskInsertMany(b.ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{a, c}})
	if err != nil {
		t.Fatalf("TaskInsertMany() error = %v", err)
	}
	got := []bool{outs[0].Existing, outs[1].Existing}
	if diff := cmp.Diff([]bool{false, true}, got); diff != "" {
		t.Errorf("TaskInsertMany() Existing mismatch (-want +got):\n%s", diff)
	}
	if outs[1].Task.ID != a.ID {
		t.Errorf("TaskInsertMany() second outcome id = %s, want the first task %s", outs[1].Task.ID, a.ID)
	}
	counts, err := b.s.TaskCount(b.ctx, &store.TaskListParams{})
	if err != nil {
		t.Fatalf("TaskCount() error = %v", err)
	}
	if counts[domain.TaskPending] != 1 {
		t.Errorf("TaskCount()[pending] = %d, want 1", counts[domain.TaskPending])
	}
}

// listFixture stores six tasks across states, queues, types and devices and
// returns them by name: "ran" has been run to completion by worker w1.
func listFixture(t *testing.T, b *bundle) map[string]*domain.Task {
	t.Helper()
	named := map[string]*domain.Task{}
	for _, n := range []struct {
		name string
		opts []func(*domain.Task)
	}{
		{"echo", nil},
		{"sleep", with(ofType("sleep"))},
		{"images", with(inQueue("images"))},
		{"pinned", with(inQueue("other"), pinnedTo("w2"))},
		{"ran", with(inQueue("images"), ofType("sleep"), priority(domain.PriorityCritical))},
		{"late", with(func(t *domain.Task) { t.CreatedAt = t.CreatedAt.Add(time.Hour) })},
	} {
		named[n.name] = b.insert(t, b.newTask(n.opts...))[0]
	}
	w1 := b.register(t, "w1", func(w *domain.Worker) { w.Queues = []string{"images"} })
	ran := b.leaseOne(t, w1) // the critical one
	if ran.ID != named["ran"].ID {
		t.Fatalf("TaskLease() = %s, want the critical task %s", ran.ID, named["ran"].ID)
	}
	b.finish(t, w1, refOf(ran), true)
	named["ran"] = b.get(t, ran.ID)
	return named
}

func testTaskListFilters(t *testing.T, b *bundle) {
	all := listFixture(t, b)
	done := all["ran"].ID
	byName := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, all[n].ID)
		}
		return sorted(out)
	}
	var allIDs []string
	for _, task := range all {
		allIDs = append(allIDs, task.ID)
	}
	tests := []struct {
		name string
		p    store.TaskListParams
		want []string
	}{
		{"no filter", store.TaskListParams{}, sorted(allIDs)},
		{"state completed", store.TaskListParams{State: domain.TaskCompleted}, []string{done}},
		{"type sleep", store.TaskListParams{Type: "sleep"}, byName("sleep", "ran")},
		{"queue images", store.TaskListParams{Queue: "images"}, byName("images", "ran")},
		{"device pinned", store.TaskListParams{DeviceID: "w2"}, byName("pinned")},
		{"device ran on", store.TaskListParams{DeviceID: "w1"}, []string{done}},
		{"since", store.TaskListParams{Since: all["late"].CreatedAt}, byName("late")},
		{"queue and type", store.TaskListParams{Queue: domain.DefaultQueue, Type: "echo"}, byName("echo", "late")},
		{"nothing matches", store.TaskListParams{Queue: "none"}, nil},
	}
	for _, tt := range tests {
		got, err := b.s.TaskList(b.ctx, &tt.p)
		if err != nil {
			t.Fatalf("TaskList(%s) error = %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, sorted(ids(got)), cmpEmpty); diff != "" {
			t.Errorf("TaskList(%s) ids mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func testTaskListLimitOffset(t *testing.T, b *bundle) {
	tasks := b.insertN(t, 5)
	newestFirst := ids(tasks)
	for i, j := 0, len(newestFirst)-1; i < j; i, j = i+1, j-1 {
		newestFirst[i], newestFirst[j] = newestFirst[j], newestFirst[i]
	}
	tests := []struct {
		limit, offset int
		want          []string
	}{
		{0, 0, newestFirst},
		{2, 0, newestFirst[:2]},
		{2, 2, newestFirst[2:4]},
		{0, 3, newestFirst[3:]},
		{10, 5, nil},
	}
	for _, tt := range tests {
		got, err := b.s.TaskList(b.ctx, &store.TaskListParams{Limit: tt.limit, Offset: tt.offset})
		if err != nil {
			t.Fatalf("TaskList(limit %d, offset %d) error = %v", tt.limit, tt.offset, err)
		}
		if diff := cmp.Diff(tt.want, ids(got), cmpEmpty); diff != "" {
			t.Errorf("TaskList(limit %d, offset %d) mismatch, newest first (-want +got):\n%s", tt.limit, tt.offset, diff)
		}
	}
}

func testTaskCount(t *testing.T, b *bundle) {
	listFixture(t, b)
	tests := []struct {
		name string
		p    store.TaskListParams
		want map[domain.TaskState]int
	}{
		{"all", store.TaskListParams{}, map[domain.TaskState]int{domain.TaskPending: 5, domain.TaskCompleted: 1}},
		{"state is ignored", store.TaskListParams{State: domain.TaskFailed}, map[domain.TaskState]int{domain.TaskPending: 5, domain.TaskCompleted: 1}},
		{"queue images", store.TaskListParams{Queue: "images"}, map[domain.TaskState]int{domain.TaskPending: 1, domain.TaskCompleted: 1}},
		{"device w2", store.TaskListParams{DeviceID: "w2"}, map[domain.TaskState]int{domain.TaskPending: 1}},
	}
	for _, tt := range tests {
		got, err := b.s.TaskCount(b.ctx, &tt.p)
		if err != nil {
			t.Fatalf("TaskCount(%s) error = %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, nonZero(got)); diff != "" {
			t.Errorf("TaskCount(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

// nonZero drops zero counts: a store may or may not list absent states.
func nonZero(m map[domain.TaskState]int) map[domain.TaskState]int {
	out := map[domain.TaskState]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func testTaskCancelPending(t *testing.T, b *bundle) {
	task := b.insert(t, b.newTask())[0]
	b.step(time.Second)
	got, wasRunning, err := b.s.TaskCancel(b.ctx, &store.TaskCancelParams{ID: task.ID, Reason: "no longer needed", Now: b.now})
	if err != nil {
		t.Fatalf("TaskCancel() error = %v", err)
	}
	if wasRunning {
		t.Errorf("TaskCancel(pending) wasRunning = true, want false")
	}
	want := *task
	want.State, want.CompletedAt, want.Error = domain.TaskCancelled, b.now, "no longer needed"
	if diff := taskDiff(&want, got); diff != "" {
		t.Errorf("TaskCancel() task mismatch (-want +got):\n%s", diff)
	}
	if diff := taskDiff(&want, b.get(t, task.ID)); diff != "" {
		t.Errorf("TaskGet() after cancel mismatch (-want +got):\n%s", diff)
	}
	w := b.register(t, "w1")
	if got := b.lease(t, w, 10); len(got) != 0 {
		t.Errorf("TaskLease() after cancel = %v, want nothing", ids(got))
	}
}

func testTaskCancelRunning(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w := b.register(t, "w1")
	running := b.leaseOne(t, w)
	got, wasRunning, err := b.s.TaskCancel(b.ctx, &store.TaskCancelParams{ID: running.ID, Reason: "stop", Now: b.now})
	if err != nil {
		t.Fatalf("TaskCancel() error = %v", err)
	}
	if !wasRunning {
		t.Errorf("TaskCancel(running) wasRunning = false, want true")
	}
	if got.State != domain.TaskCancelled || got.LeaseOwner != "" {
		t.Errorf("TaskCancel(running) = (state %s, owner %q), want (cancelled, no owner)", got.State, got.LeaseOwner)
	}
	// The worker's late result is refused and changes nothing.
	if out := b.finish(t, w, refOf(running), true); !out.StaleLease {
		t.Errorf("TaskFinishMany(cancelled task) = %+v, want StaleLease", out)
	}
	if got := b.get(t, running.ID); got.State != domain.TaskCancelled {
		t.Errorf("TaskGet() after a late result: state = %s, want cancelled", got.State)
	}
}

func testTaskCancelTerminal(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w := b.register(t, "w1")
	done := b.leaseOne(t, w)
	b.finish(t, w, refOf(done), true)
	_, _, err := b.s.TaskCancel(b.ctx, &store.TaskCancelParams{ID: done.ID, Now: b.now})
	wantCode(t, "TaskCancel(completed)", err, domain.CodeTaskNotCancellable)
	if got := b.get(t, done.ID); got.State != domain.TaskCompleted {
		t.Errorf("TaskGet() after refused cancel: state = %s, want completed", got.State)
	}
}

func testTaskCancelUnknown(t *testing.T, b *bundle) {
	_, _, err := b.s.TaskCancel(b.ctx, &store.TaskCancelParams{ID: "task-nope", Now: b.now})
	wantErr(t, "TaskCancel(unknown)", err, domain.ErrNotFound)
}

func testTaskCancelMany(t *testing.T, b *bundle) {
	tests := []struct {
		name string
		p    store.TaskCancelManyParams // IDs are fixture names, turned into ids
		want []string                   // fixture names
	}{
		{"ids, pending only", store.TaskCancelManyParams{IDs: []string{"a", "running", "done"}}, []string{"a"}},
		{"ids with running", store.TaskCancelManyParams{IDs: []string{"a", "running", "done"}, IncludeRunning: true}, []string{"a", "running"}},
		{"queue", store.TaskCancelManyParams{Queue: "q2"}, []string{"b"}},
		{"queue with running", store.TaskCancelManyParams{Queue: domain.DefaultQueue, IncludeRunning: true}, []string{"a", "running"}},
		{"device pinned", store.TaskCancelManyParams{DeviceID: "w9"}, []string{"pinned"}},
		{"device running on", store.TaskCancelManyParams{DeviceID: "w1", IncludeRunning: true}, []string{"running"}},
		{"device running on, pending only", store.TaskCancelManyParams{DeviceID: "w1"}, nil},
		{"queue and ids", store.TaskCancelManyParams{Queue: "q2", IDs: []string{"a"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := b.fresh(t)
			fixture := cancelFixture(t, b)
			p := tt.p
			p.IDs = nil
			for _, n := range tt.p.IDs {
				p.IDs = append(p.IDs, fixture[n].ID)
			}
			p.Reason, p.Now = "bulk", b.now
			got, err := b.s.TaskCancelMany(b.ctx, &p)
			if err != nil {
				t.Fatalf("TaskCancelMany(%s) error = %v", tt.name, err)
			}
			var want []string
			for _, n := range tt.want {
				want = append(want, fixture[n].ID)
			}
			if diff := cmp.Diff(sorted(want), sorted(got), cmpEmpty); diff != "" {
				t.Errorf("TaskCancelMany(%s) ids mismatch (-want +got):\n%s", tt.name, diff)
			}
			for _, id := range want {
				if got := b.get(t, id); got.State != domain.TaskCancelled || got.Error != "bulk" {
					t.Errorf("TaskGet(%s) after TaskCancelMany = (state %s, error %q), want (cancelled, \"bulk\")", id, got.State, got.Error)
				}
			}
		})
	}
}

// cancelFixture stores, by name: "running" (leased by w1), "done"
// (completed by w1), "a" (pending, default queue), "b" (pending, queue q2),
// "pinned" (pending, pinned to w9, queue q3).
func cancelFixture(t *testing.T, b *bundle) map[string]*domain.Task {
	t.Helper()
	w1 := b.register(t, "w1")
	b.insert(t, b.newTask(priority(domain.PriorityCritical)), b.newTask(priority(domain.PriorityHigh)))
	done := b.leaseOne(t, w1)
	b.finish(t, w1, refOf(done), true)
	running := b.leaseOne(t, w1)
	return map[string]*domain.Task{
		"running": running,
		"done":    done,
		"a":       b.insert(t, b.newTask())[0],
		"b":       b.insert(t, b.newTask(inQueue("q2")))[0],
		"pinned":  b.insert(t, b.newTask(inQueue("q3"), pinnedTo("w9")))[0],
	}
}

func testTaskCancelManyNeedsFilter(t *testing.T, b *bundle) {
	b.insertN(t, 2)
	_, err := b.s.TaskCancelMany(b.ctx, &store.TaskCancelManyParams{IncludeRunning: true, Now: b.now})
	wantCode(t, "TaskCancelMany(no filter)", err, domain.CodeValidation)
	counts, err := b.s.TaskCount(b.ctx, &store.TaskListParams{})
	if err != nil {
		t.Fatalf("TaskCount() error = %v", err)
	}
	if counts[domain.TaskPending] != 2 {
		t.Errorf("TaskCount()[pending] after refused TaskCancelMany = %d, want 2", counts[domain.TaskPending])
	}
}

func testTaskNextAvailable(t *testing.T, b *bundle) {
	next := func(queues ...string) time.Time {
		t.Helper()
		got, err := b.s.TaskNextAvailable(b.ctx, &store.TaskNextAvailableParams{Queues: queues, Now: b.now})
		if err != nil {
			t.Fatalf("TaskNextAvailable(%v) error = %v", queues, err)
		}
		return got
	}
	if got := next(domain.DefaultQueue); !got.IsZero() {
		t.Errorf("TaskNextAvailable(empty store) = %v, want zero", got)
	}
	b.insert(t,
		b.newTask(availableAt(start.Add(-time.Minute))), // already due: not "after Now"
		b.newTask(availableAt(start.Add(5*time.Minute))),
		b.newTask(availableAt(start.Add(2*time.Minute)), inQueue("other")),
		b.newTask(availableAt(start.Add(time.Minute)), inQueue("pinned"), pinnedTo("w1")),
		// Of several priorities, the earliest counts, not the most urgent.
		b.newTask(availableAt(start.Add(9*time.Minute)), inQueue("mixed"), priority(domain.PriorityCritical)),
		b.newTask(availableAt(start.Add(3*time.Minute)), inQueue("mixed"), priority(domain.PriorityLow)),
		b.newTask(availableAt(start.Add(4*time.Minute)), inQueue("mixed"), priority(domain.PriorityHigh)),
	)
	tests := []struct {
		queues []string
		want   time.Time
	}{
		{[]string{domain.DefaultQueue}, start.Add(5 * time.Minute)},
		{[]string{domain.DefaultQueue, "other"}, start.Add(2 * time.Minute)},
		{[]string{"pinned", "other"}, start.Add(time.Minute)},
		{[]string{"none"}, time.Time{}},
		{[]string{"mixed"}, start.Add(3 * time.Minute)},
	}
	for _, tt := range tests {
		if got := next(tt.queues...); !got.Equal(tt.want) {
			t.Errorf("TaskNextAvailable(%v) = %v, want %v", tt.queues, got, tt.want)
		}
	}
}
