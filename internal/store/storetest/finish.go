package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var finishTests = []test{
	{"Success", testFinishSuccess},
	{"StaleEpoch", testFinishStaleEpoch},
	{"WrongWorker", testFinishWrongWorker},
	{"Twice", testFinishTwice},
	{"RetryWithBackoff", testFinishRetryWithBackoff},
	{"ManyMixed", testFinishManyMixed},
}

func testFinishSuccess(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w := b.register(t, "w1")
	leased := b.leaseOne(t, w)
	b.step(3 * time.Second)
	usage := &domain.ResourceUsage{PeakCPUPercent: 50, PeakMemoryMB: 12, TotalCPUTimeSeconds: 1.5}
	outs, err := b.s.TaskFinishMany(b.ctx, &store.TaskFinishManyParams{
		WorkerID: w.ID,
		Results: []store.TaskFinish{{Ref: refOf(leased), Succeeded: true, ResourceUsage: usage,
			Result: &domain.Result{Output: "hi\n", Data: []byte(`{"k":1}`)}}},
		Backoff: linearBackoff,
		Now:     b.now,
	})
	if err != nil {
		t.Fatalf("TaskFinishMany() error = %v", err)
	}
	want := *leased
	want.State, want.CompletedAt = domain.TaskCompleted, b.now
	want.LeaseOwner, want.LeaseExpiresAt = "", time.Time{}
	want.Result = &domain.Result{Output: "hi\n", Data: []byte(`{"k":1}`)}
	want.ResourceUsage = usage
	wantOut := store.TaskFinishOutcome{Ref: refOf(leased), State: domain.TaskCompleted, Task: &want}
	if diff := taskDiff(wantOut, outs[0]); diff != "" {
		t.Errorf("TaskFinishMany() outcome mismatch (-want +got):\n%s", diff)
	}
	if diff := taskDiff(&want, b.get(t, leased.ID)); diff != "" {
		t.Errorf("TaskGet() after finish mismatch (-want +got):\n%s", diff)
	}
	if got := b.workerGet(t, w.ID); got.TasksCompleted != 1 || got.TasksFailed != 0 {
		t.Errorf("WorkerGet() counters = (completed %d, failed %d), want (1, 0)", got.TasksCompleted, got.TasksFailed)
	}
}

func testFinishStaleEpoch(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w := b.register(t, "w1")
	leased := b.leaseOne(t, w)
	stale := refOf(leased)
	stale.Epoch--
	if out := b.finish(t, w, stale, true); !out.StaleLease || out.Task != nil {
		t.Errorf("TaskFinishMany(older epoch) = %+v, want StaleLease and no task", out)
	}
	if diff := taskDiff(leased, b.get(t, leased.ID)); diff != "" {
		t.Errorf("TaskGet() after a stale result changed (-want +got):\n%s", diff)
	}
	if got := b.workerGet(t, w.ID); got.TasksCompleted != 0 {
		t.Errorf("WorkerGet().TasksCompleted after a stale result = %d, want 0", got.TasksCompleted)
	}
}

func testFinishWrongWorker(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w1, w2 := b.register(t, "w1"), b.register(t, "w2")
	leased := b.leaseOne(t, w1)
	if out := b.finish(t, w2, refOf(leased), true); !out.StaleLease {
		t.Errorf("TaskFinishMany(by another worker) = %+v, want StaleLease", out)
	}
	if diff := taskDiff(leased, b.get(t, leased.ID)); diff != "" {
		t.Errorf("TaskGet() after another worker's result changed (-want +got):\n%s", diff)
	}
}

func testFinishTwice(t *testing.T, b *bundle) {
	b.insert(t, b.newTask())
	w := b.register(t, "w1")
	leased := b.leaseOne(t, w)
	if out := b.finish(t, w, refOf(leased), true); out.StaleLease || out.State != domain.TaskCompleted {
		t.Fatalf("TaskFinishMany() first = %+v, want completed", out)
	}
	done := b.get(t, leased.ID)
	b.step(time.Second)
	for _, ok := range []bool{true, false} {
		if out := b.finish(t, w, refOf(leased), ok); !out.StaleLease {
			t.Errorf("TaskFinishMany(again, succeeded=%t) = %+v, want StaleLease", ok, out)
		}
	}
	if diff := taskDiff(done, b.get(t, leased.ID)); diff != "" {
		t.Errorf("TaskGet() after repeated results changed (-want +got):\n%s", diff)
	}
	if got := b.workerGet(t, w.ID); got.TasksCompleted != 1 || got.TasksFailed != 0 {
		t.Errorf("WorkerGet() counters = (completed %d, failed %d), want (1, 0)", got.TasksCompleted, got.TasksFailed)
	}
}

func testFinishRetryWithBackoff(t *testing.T, b *bundle) {
	task := b.insert(t, b.newTask(retries(2)))[0]
	w := b.register(t, "w1")
	for attempt := 1; attempt <= 3; attempt++ {
		leased := b.leaseOne(t, w)
		if leased.Attempt != attempt {
			t.Fatalf("TaskLease() attempt = %d, want %d", leased.Attempt, attempt)
		}
		b.step(time.Second)
		out := b.finish(t, w, refOf(leased), false)
		got := b.get(t, task.ID)
		if attempt <= 2 {
			retryAt := b.now.Add(linearBackoff(attempt, retryGap))
			if out.State != domain.TaskPending || got.State != domain.TaskPending || !got.AvailableAt.Equal(retryAt) ||
				got.Error != "exit status 2" || !got.CompletedAt.IsZero() || got.LeaseOwner != "" {
				t.Fatalf("attempt %d failed: outcome %s, task (state %s, available %v, error %q, completed %v, owner %q); "+
					"want pending, available %v, error \"exit status 2\", not completed, no owner",
					attempt, out.State, got.State, got.AvailableAt, got.Error, got.CompletedAt, got.LeaseOwner, retryAt)
			}
			b.now = retryAt.Add(-time.Microsecond)
			if early := b.lease(t, w, 1); len(early) != 0 {
				t.Fatalf("TaskLease() before the backoff ended = %v, want nothing", ids(early))
			}
			b.now = retryAt
			continue
		}
		if out.State != domain.TaskFailed || got.State != domain.TaskFailed || !got.CompletedAt.Equal(b.now) {
			t.Errorf("last attempt failed: outcome %s, task (state %s, completed %v); want failed at %v",
				out.State, got.State, got.CompletedAt, b.now)
		}
		if got.Result == nil || got.Result.ExitCode != 2 {
			t.Errorf("TaskGet().Result = %+v, want the last attempt's result (exit code 2)", got.Result)
		}
	}
	if got := b.workerGet(t, w.ID); got.TasksCompleted != 0 || got.TasksFailed != 3 {
		t.Errorf("WorkerGet() counters = (completed %d, failed %d), want (0, 3): each failed result counts", got.TasksCompleted, got.TasksFailed)
	}
}

func testFinishManyMixed(t *testing.T, b *bundle) {
	b.insertN(t, 3)
	w := b.register(t, "w1")
	held := b.lease(t, w, 3)
	stale := refOf(held[2])
	stale.Epoch++
	outs, err := b.s.TaskFinishMany(b.ctx, &store.TaskFinishManyParams{
		WorkerID: w.ID,
		Results: []store.TaskFinish{
			{Ref: refOf(held[0]), Succeeded: true},
			{Ref: refOf(held[1]), Succeeded: false, Result: &domain.Result{ExitCode: 1, Error: "bad"}},
			{Ref: stale, Succeeded: true},
		},
		Backoff: linearBackoff,
		Now:     b.now,
	})
	if err != nil {
		t.Fatalf("TaskFinishMany() error = %v", err)
	}
	type summary struct {
		Ref   domain.TaskRef
		Stale bool
		State domain.TaskState
	}
	var got []summary
	for _, o := range outs {
		got = append(got, summary{o.Ref, o.StaleLease, o.State})
	}
	want := []summary{
		{refOf(held[0]), false, domain.TaskCompleted},
		{refOf(held[1]), false, domain.TaskFailed},
		{stale, true, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TaskFinishMany() outcomes mismatch, in input order (-want +got):\n%s", diff)
	}
	if got := b.get(t, held[2].ID); got.State != domain.TaskRunning {
		t.Errorf("TaskGet() of the stale result's task: state = %s, want running", got.State)
	}
}
