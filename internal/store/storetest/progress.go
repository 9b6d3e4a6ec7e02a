package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var progressTests = []test{
	{"SetGet", testProgressSetGet},
	{"Fence", testProgressFence},
	{"LastOfBatchWins", testProgressLastOfBatchWins},
}

func (b *bundle) progressSet(t *testing.T, worker string, reports ...domain.Progress) []bool {
	t.Helper()
	kept, err := b.s.TaskProgressSet(b.ctx, &store.TaskProgressSetParams{WorkerID: worker, Reports: reports, Now: b.now})
	if err != nil {
		t.Fatalf("TaskProgressSet(%s) error = %v", worker, err)
	}
	return kept
}

func testProgressSetGet(t *testing.T, b *bundle) {
	tasks := b.running(t, 2)
	a := tasks[0]
	_, err := b.s.TaskProgressGet(b.ctx, a.ID)
	wantErr(t, "TaskProgressGet(no report)", err, domain.ErrNotFound)

	first := domain.Progress{TaskID: a.ID, Epoch: a.LeaseEpoch, Fraction: 0.25, Message: "copying", Time: b.now}
	if kept := b.progressSet(t, "w1", first); !kept[0] {
		t.Fatalf("TaskProgressSet(valid lease) kept = %v, want [true]", kept)
	}
	b.step(time.Second)
	// No time: the store's Now.
	second := domain.Progress{TaskID: a.ID, Epoch: a.LeaseEpoch, Fraction: 0.5, Message: "half"}
	b.progressSet(t, "w1", second)
	second.Time = b.now
	got, err := b.s.TaskProgressGet(b.ctx, a.ID)
	if err != nil {
		t.Fatalf("TaskProgressGet() error = %v", err)
	}
	if diff := cmp.Diff(&second, got); diff != "" {
		t.Errorf("TaskProgressGet() mismatch (-want +got):\n%s", diff)
	}
	// The other task has none.
	_, err = b.s.TaskProgressGet(b.ctx, tasks[1].ID)
	wantErr(t, "TaskProgressGet(other task)", err, domain.ErrNotFound)
}

// testProgressFence: reports of a lease no longer held (another worker,
// an old epoch, a finished or unknown task) change nothing.
func testProgressFence(t *testing.T, b *bundle) {
	b.insert(t, b.newTask(retries(1)))
	zombie, next := b.register(t, "w1"), b.register(t, "w2")
	first := b.leaseOne(t, zombie)
	b.progressSet(t, zombie.ID, domain.Progress{TaskID: first.ID, Epoch: first.LeaseEpoch, Fraction: 0.9, Message: "zombie's"})
	b.now = first.LeaseExpiresAt.Add(time.Second)
	b.rescue(t, 0)
	b.now = b.get(t, first.ID).AvailableAt
	second := b.leaseOne(t, next)

	kept := b.progressSet(t, zombie.ID,
		domain.Progress{TaskID: first.ID, Epoch: first.LeaseEpoch, Fraction: 1, Message: "stale epoch"},
		domain.Progress{TaskID: first.ID, Epoch: second.LeaseEpoch, Fraction: 1, Message: "not its lease"},
		domain.Progress{TaskID: "task-unknown", Epoch: 1, Fraction: 1, Message: "unknown"})
	if diff := cmp.Diff([]bool{false, false, false}, kept); diff != "" {
		t.Errorf("TaskProgressSet(zombie) kept mismatch (-want +got):\n%s", diff)
	}
	if kept := b.progressSet(t, next.ID, domain.Progress{TaskID: first.ID, Epoch: second.LeaseEpoch, Fraction: 0.1, Message: "second attempt"}); !kept[0] {
		t.Errorf("TaskProgressSet(successor) kept = %v, want [true]", kept)
	}
	got, err := b.s.TaskProgressGet(b.ctx, first.ID)
	if err != nil {
		t.Fatalf("TaskProgressGet() error = %v", err)
	}
	if got.Epoch != second.LeaseEpoch || got.Message != "second attempt" {
		t.Errorf("TaskProgressGet() = epoch %d %q, want epoch %d %q", got.Epoch, got.Message, second.LeaseEpoch, "second attempt")
	}
	// Once the task has finished, its worker's reports are dropped.
	b.finish(t, next, domain.TaskRef{TaskID: first.ID, Epoch: second.LeaseEpoch}, true)
	if kept := b.progressSet(t, next.ID, domain.Progress{TaskID: first.ID, Epoch: second.LeaseEpoch, Fraction: 1, Message: "late"}); kept[0] {
		t.Errorf("TaskProgressSet(finished task) kept = %v, want [false]", kept)
	}
	if got, _ := b.s.TaskProgressGet(b.ctx, first.ID); got == nil || got.Message != "second attempt" {
		t.Errorf("TaskProgressGet(after finish) = %+v, want the last report of the attempt", got)
	}
}

// testProgressLastOfBatchWins: several reports of one task in one call
// leave the last.
func testProgressLastOfBatchWins(t *testing.T, b *bundle) {
	tk := b.running(t, 1)[0]
	kept := b.progressSet(t, "w1",
		domain.Progress{TaskID: tk.ID, Epoch: tk.LeaseEpoch, Fraction: 0.1, Message: "one", Time: b.now},
		domain.Progress{TaskID: tk.ID, Epoch: tk.LeaseEpoch, Fraction: 0.2, Message: "two", Time: b.now})
	if diff := cmp.Diff([]bool{true, true}, kept); diff != "" {
		t.Errorf("TaskProgressSet() kept mismatch (-want +got):\n%s", diff)
	}
	got, err := b.s.TaskProgressGet(b.ctx, tk.ID)
	if err != nil {
		t.Fatalf("TaskProgressGet() error = %v", err)
	}
	if got.Message != "two" || got.Fraction != 0.2 {
		t.Errorf("TaskProgressGet() = %v %q, want 0.2 %q", got.Fraction, got.Message, "two")
	}
}
