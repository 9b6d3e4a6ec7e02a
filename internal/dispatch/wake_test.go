package dispatch

import (
	"testing"

	"github.com/drover-run/drover/internal/domain"
)

func wakeWorker(id string, queues []string, types ...string) *domain.Worker {
	return &domain.Worker{ID: id, Queues: queues, TaskTypes: types, State: domain.WorkerOnline}
}

func pendingTask(queue, typ string) *domain.Task {
	return &domain.Task{Queue: queue, Type: typ, State: domain.TaskPending}
}

// woken reports which of wts hold a wake-up, taking it.
func woken(wts ...*waiter) []bool {
	out := make([]bool, len(wts))
	for i, wt := range wts {
		select {
		case <-wt.ch:
			out[i] = true
		default:
		}
	}
	return out
}

func wantWoken(t *testing.T, when string, wts []*waiter, want ...bool) {
	t.Helper()
	got := woken(wts...)
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: woken %v, want %v", when, got, want)
			return
		}
	}
}

func TestWakerTargetsQueueTypeAndCount(t *testing.T) {
	k := newWaker()
	a1 := k.add(wakeWorker("a1", []string{"A"}, "echo"))
	sleeper := k.add(wakeWorker("s", []string{"A"}, "sleep"))
	a2 := k.add(wakeWorker("a2", []string{"A", "C"}, "echo"))
	b := k.add(wakeWorker("b", []string{"B"}, "echo"))
	all := []*waiter{a1, sleeper, a2, b}

	k.tasks([]*domain.Task{pendingTask("A", "echo")})
	wantWoken(t, "one echo task on A", all, true, false, false, false)
	k.rearm(a1) // back at the end of the line

	k.tasks([]*domain.Task{pendingTask("A", "echo"), pendingTask("A", "echo"), pendingTask("A", "echo")})
	wantWoken(t, "three echo tasks on A, two able waiters", all, true, false, true, false)
	for _, wt := range all {
		k.rearm(wt)
	}

	done := pendingTask("A", "echo")
	done.State = domain.TaskCompleted
	k.tasks([]*domain.Task{done, pendingTask("Z", "echo")})
	wantWoken(t, "a finished task, a task on a queue nobody serves", all, false, false, false, false)

	pinned := pendingTask("elsewhere", "echo")
	pinned.DeviceID = "b"
	k.tasks([]*domain.Task{pinned})
	wantWoken(t, "a task pinned to b, on a queue b does not serve", all, false, false, false, true)
	k.rearm(b)

	k.keys(queueKey("C"))
	wantWoken(t, "queue C", all, false, false, true, false)
	k.rearm(a2)
	k.all()
	wantWoken(t, "all", all, true, true, true, true)
	for _, wt := range all {
		k.rearm(wt)
		k.remove(wt)
	}
	if len(k.free) != 0 {
		t.Errorf("free lists after every waiter left: %d keys, want none", len(k.free))
	}
}

// A waiter that leaves with a wake-up it did not use passes it on.
func TestWakerPassesOnUnusedWakeUp(t *testing.T) {
	k := newWaker()
	first := k.add(wakeWorker("w1", []string{"A"}, "echo"))
	second := k.add(wakeWorker("w2", []string{"A"}, "echo"))
	k.tasks([]*domain.Task{pendingTask("A", "echo")})
	k.remove(first) // its poll ended before it looked
	wantWoken(t, "after the woken waiter left", []*waiter{first, second}, false, true)
	if n := k.waiting(queueKey("A")); n != 0 {
		t.Errorf("free waiters on A = %d, want 0 (the second holds a wake-up)", n)
	}
	k.rearm(second)
	k.remove(second)
	if n := k.waiting(queueKey("A")); n != 0 {
		t.Errorf("free waiters on A after all left = %d, want 0", n)
	}
}

// A wake-up for a task no free waiter can run is not given to one that
// cannot: it would find nothing, and those able to run it are already
// woken and will look.
func TestWakerSkipsWaitersThatCannotRun(t *testing.T) {
	k := newWaker()
	var wts []*waiter
	for range 100 {
		wts = append(wts, k.add(wakeWorker("s", []string{"A"}, "sleep")))
	}
	echo := k.add(wakeWorker("e", []string{"A"}, "echo"))
	k.tasks([]*domain.Task{pendingTask("A", "echo"), pendingTask("A", "echo")})
	for i, w := range woken(wts...) {
		if w {
			t.Fatalf("sleep-only waiter %d woken for echo tasks", i)
		}
	}
	wantWoken(t, "echo waiter", []*waiter{echo}, true)
}
