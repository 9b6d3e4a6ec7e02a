package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// memStore keeps pending tasks in memory, for the lease long poll. It
// implements only the calls submitting and leasing make; any other call
// panics on the nil embedded Store.
type memStore struct {
	store.Store
	mu      sync.Mutex
	workers []*domain.Worker
	pending []*domain.Task
	leased  map[string]string // task id -> worker id
	looks   map[string]int    // worker id -> TaskLease calls
}

func newMemStore(workers ...*domain.Worker) *memStore {
	return &memStore{workers: workers, leased: map[string]string{}, looks: map[string]int{}}
}

func (s *memStore) WorkerList(context.Context, *store.WorkerListParams) ([]*domain.Worker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workers, nil
}

func (s *memStore) TaskInsertMany(_ context.Context, p *store.TaskInsertManyParams) ([]store.TaskInsertOutcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.TaskInsertOutcome, len(p.Tasks))
	for i, t := range p.Tasks {
		stored, returned := *t, *t // the caller's copy is its own, as with a real store
		s.pending = append(s.pending, &stored)
		out[i] = store.TaskInsertOutcome{Task: &returned}
	}
	return out, nil
}

func (s *memStore) TaskLease(_ context.Context, p *store.TaskLeaseParams) ([]*domain.Task, error) {
	runtime.Gosched() // let submits and other leases interleave with this one
	s.mu.Lock()
	defer s.mu.Unlock()
	s.looks[p.Worker.ID]++
	var got []*domain.Task
	rest := s.pending[:0]
	for _, t := range s.pending {
		if len(got) < p.Max && p.Worker.CanRun(t) {
			t.State, t.LeaseOwner = domain.TaskRunning, p.Worker.ID
			s.leased[t.ID] = p.Worker.ID
			got = append(got, t)
			continue
		}
		rest = append(rest, t)
	}
	s.pending = rest
	return got, nil
}

// WorkerLeaseGate gates no one (stop_test.go's gateStore does).
func (s *memStore) WorkerLeaseGate(context.Context, string) (bool, error) { return false, nil }

func (s *memStore) TaskNextAvailable(context.Context, *store.TaskNextAvailableParams) (time.Time, error) {
	return time.Time{}, nil
}

func (s *memStore) looksOf(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.looks[id]
}

func worker(id, queue string, types ...string) *domain.Worker {
	return &domain.Worker{ID: id, Name: id, Queues: []string{queue}, TaskTypes: types, State: domain.WorkerOnline,
		Resources: domain.Resources{CPUCores: 4, MemoryTotalGB: 8}}
}

func task(queue, typ string) *domain.Task {
	return &domain.Task{Type: typ, Queue: queue, Payload: []byte(`{}`), MaxRetries: -1}
}

// poll is one long poll running in the background.
type poll struct {
	done  chan struct{}
	tasks []*domain.Task
	err   error
}

func startPoll(ctx context.Context, eng *dispatch.Service, w *domain.Worker) *poll {
	p := &poll{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.tasks, p.err = eng.Lease(ctx, w, 1, 30*time.Second)
	}()
	return p
}

func (p *poll) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func newEngine(t *testing.T, st store.Store) *dispatch.Service {
	t.Helper()
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// A submit to queue A wakes a waiter of A, and no waiter of B.
func TestSubmitWakesOnlyItsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wa, wb := worker("wa", "A", "echo"), worker("wb", "B", "echo")
		st := newMemStore(wa, wb)
		eng := newEngine(t, st)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		pa, pb := startPoll(ctx, eng, wa), startPoll(ctx, eng, wb)
		synctest.Wait()
		if st.looksOf("wa") != 1 || st.looksOf("wb") != 1 {
			t.Fatalf("looks before the submit: wa %d, wb %d; want 1 each", st.looksOf("wa"), st.looksOf("wb"))
		}
		if _, err := eng.Submit(ctx, []*domain.Task{task("A", "echo")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !pa.finished() || len(pa.tasks) != 1 {
			t.Errorf("waiter on A: finished %v with %d tasks, want the submitted task", pa.finished(), len(pa.tasks))
		}
		if pb.finished() || st.looksOf("wb") != 1 {
			t.Errorf("waiter on B: finished %v after %d looks; want still waiting after its first look", pb.finished(), st.looksOf("wb"))
		}
		cancel()
		<-pb.done
	})
}

// A submit of n tasks wakes at most n of the waiters able to run them, and
// none that cannot.
func TestSubmitWakesAsManyAsTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ws []*domain.Worker
		for i := range 10 {
			ws = append(ws, worker(fmt.Sprintf("e%d", i), "A", "echo"))
		}
		sleeper := worker("s", "A", "sleep")
		ws = append(ws, sleeper)
		st := newMemStore(ws...)
		eng := newEngine(t, st)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var polls []*poll
		polls = append(polls, startPoll(ctx, eng, sleeper)) // first in line
		synctest.Wait()
		for _, w := range ws[:10] {
			polls = append(polls, startPoll(ctx, eng, w))
		}
		synctest.Wait()
		if _, err := eng.Submit(ctx, []*domain.Task{task("A", "echo"), task("A", "echo"), task("A", "echo")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		looks, finished := 0, 0
		for _, w := range ws {
			looks += st.looksOf(w.ID)
		}
		for _, p := range polls {
			if p.finished() {
				finished++
			}
		}
		if looks != 11+3 || finished != 3 {
			t.Errorf("after 3 tasks: %d looks, %d polls finished; want 14 (11 first looks + 3) and 3", looks, finished)
		}
		if st.looksOf("s") != 1 {
			t.Errorf("the sleep-only waiter looked %d times, want 1: echo tasks must not wake it", st.looksOf("s"))
		}
		cancel()
		for _, p := range polls {
			<-p.done
		}
	})
}

// Submits racing the waiters' looks lose no wake-up: with as many able
// waiters as tasks, every task is leased before any time passes (a lost
// wake-up would leave a task pending until a poll times out).
func TestNoWakeUpLostUnderConcurrency(t *testing.T) {
	for round := range 20 {
		synctest.Test(t, func(t *testing.T) {
			var ws []*domain.Worker
			for i := range 16 {
				ws = append(ws, worker(fmt.Sprintf("echo%d", i), "A", "echo"))
				ws = append(ws, worker(fmt.Sprintf("sleep%d", i), "A", "sleep"))
				ws = append(ws, worker(fmt.Sprintf("b%d", i), "B", "echo", "sleep"))
			}
			st := newMemStore(ws...)
			eng := newEngine(t, st)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var polls []*poll
			for _, w := range ws {
				polls = append(polls, startPoll(ctx, eng, w))
			}
			// 16 tasks per kind, submitted one by one from 8 goroutines
			// while the polls make their first looks.
			kinds := [][2]string{{"A", "echo"}, {"A", "sleep"}, {"B", "echo"}}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 6 {
						k := kinds[(g*6+i+round)%3]
						if _, err := eng.Submit(ctx, []*domain.Task{task(k[0], k[1])}); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			synctest.Wait()
			st.mu.Lock()
			left := len(st.pending)
			st.mu.Unlock()
			if left != 0 {
				t.Errorf("round %d: %d tasks still pending with able waiters idle: a wake-up was lost", round, left)
			}
			cancel()
			for _, p := range polls {
				<-p.done
			}
		})
	}
}

// Another server's notification wakes the waiters of the queues it names
// (all of them: it names no tasks), or every waiter when it names none.
func TestWakeFromAnotherServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wa, wb := worker("wa", "A", "echo"), worker("wb", "B", "echo")
		st := newMemStore(wa, wb)
		eng := newEngine(t, st)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		pa, pb := startPoll(ctx, eng, wa), startPoll(ctx, eng, wb)
		synctest.Wait()
		eng.Wake([]string{"B", "C"})
		synctest.Wait()
		if st.looksOf("wa") != 1 || st.looksOf("wb") != 2 {
			t.Errorf("looks after a wake of B and C: wa %d, wb %d; want 1, 2", st.looksOf("wa"), st.looksOf("wb"))
		}
		eng.Wake(nil)
		synctest.Wait()
		if st.looksOf("wa") != 2 || st.looksOf("wb") != 3 {
			t.Errorf("looks after a wake of any queue: wa %d, wb %d; want 2, 3", st.looksOf("wa"), st.looksOf("wb"))
		}
		cancel()
		<-pa.done
		<-pb.done
	})
}

func (s *memStore) TaskGet(_ context.Context, id string) (*domain.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.pending {
		if t.ID == id {
			c := *t
			return &c, nil
		}
	}
	return nil, domain.ErrNotFound
}

// Retry reads the original once and checks the actor against it before
// anything else: a refusal stores nothing, whatever the task's state.
func TestRetryChecksTheActorOnTheOriginal(t *testing.T) {
	st := newMemStore(worker("w", "A", "shell", "echo"))
	eng := newEngine(t, st)
	ctx := t.Context()
	sub, err := eng.Submit(ctx, []*domain.Task{task("A", "shell")})
	if err != nil {
		t.Fatal(err)
	}
	writer := domain.Actor{Authenticated: true, KeyID: "k1", Name: "writer"}
	_, err = eng.Retry(ctx, writer, sub[0].Task.ID, nil)
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodePermissionDenied {
		t.Errorf("Retry(shell task, key without exec:shell) = %v, want %s", err, domain.CodePermissionDenied)
	}
	_, err = eng.Retry(ctx, domain.System, sub[0].Task.ID, nil)
	if !errors.As(err, &de) || de.Code != domain.CodeTaskNotRetryable {
		t.Errorf("Retry(pending task) = %v, want %s", err, domain.CodeTaskNotRetryable)
	}
	st.mu.Lock()
	n := len(st.pending)
	st.mu.Unlock()
	if n != 1 {
		t.Errorf("%d tasks stored, want 1: a refused retry stores nothing", n)
	}
}

// tailStore answers LogList and remembers what it was asked.
type tailStore struct {
	*memStore
	asked *store.LogListParams
}

func (s *tailStore) LogList(_ context.Context, p *store.LogListParams) ([]domain.LogLine, error) {
	s.asked = p
	return []domain.LogLine{{TaskID: p.TaskID, Seq: 7}}, nil
}

// A task's detail reads the last DetailLogLines lines by a bounded query.
func TestTaskDetailReadsABoundedTail(t *testing.T) {
	st := &tailStore{memStore: newMemStore(worker("w", "A", "echo"))}
	eng := newEngine(t, st)
	sub, err := eng.Submit(t.Context(), []*domain.Task{task("A", "echo")})
	if err != nil {
		t.Fatal(err)
	}
	got, lines, err := eng.TaskDetail(t.Context(), sub[0].Task.ID)
	if err != nil || got.ID != sub[0].Task.ID || len(lines) != 1 {
		t.Fatalf("TaskDetail() = %v, %v, %v", got, lines, err)
	}
	if p := st.asked; p == nil || p.Tail != dispatch.DetailLogLines || p.Limit != 0 || p.TaskID != got.ID {
		t.Errorf("TaskDetail asked LogList for %+v, want the last %d lines of %s", p, dispatch.DetailLogLines, got.ID)
	}
	if _, _, err := eng.TaskDetail(t.Context(), "task-nope"); !errors.As(err, new(*domain.Error)) {
		t.Errorf("TaskDetail(unknown) error = %v, want TASK_NOT_FOUND", err)
	}
}
