package storetest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Reopen closes a store and opens its data again, as a server restart does.
type Reopen func(t *testing.T, s store.Store) store.Store

// RunModel is the model-based test of the task state machine
// (docs/guarantees.md, R9): rapid draws sequences of submit, lease,
// heartbeat, complete, fail, expire, cancel, retry, stale redelivery, a
// cancel racing a completion, and restarts, applies each to the real store
// and to a plain map, and after every step compares the two and checks the
// invariants:
//   - at most one valid lease per task: of all the leases ever handed out,
//     only the task's current (epoch, owner) is accepted, and only while
//     it is running;
//   - a write under a stale epoch or another owner is refused and changes
//     nothing;
//   - terminal states (completed, failed, cancelled) are absorbing;
//   - the attempt count never decreases;
//   - a cancel racing a completion leaves exactly one of them applied.
//
// Every check shares one store (opening one per check would make a
// PostgreSQL run mostly schema creation), isolated by a queue and worker
// ids of its own. rapid's flags tune it: -rapid.checks (checks is the
// default, sized by the caller to stay under a minute on a loaded two-core
// machine), -rapid.steps, -rapid.seed.
//
// It returns the store as the last restart left it, for the caller to close.
func RunModel(t *testing.T, s store.Store, reopen Reopen, checks int) store.Store {
	setChecks(checks)
	var (
		mu      sync.Mutex // the store, replaced by restarts
		ran     atomic.Int64
		reached sync.Map // domain.TaskState seen in the store
	)
	current := func() store.Store { mu.Lock(); defer mu.Unlock(); return s }
	rapid.Check(t, func(rt *rapid.T) {
		n := ran.Add(1)
		m := &model{
			ctx: context.Background(), store: current,
			reopen: func() { mu.Lock(); defer mu.Unlock(); s = reopen(t, s) },
			queue:  fmt.Sprintf("model-%d", n),
			now:    start,
			tasks:  map[string]*modelTask{},
		}
		for _, name := range []string{"a", "b"} {
			w := newWorker(fmt.Sprintf("m%d-%s", n, name), func(w *domain.Worker) { w.Queues = []string{m.queue} })
			reg, err := m.store().WorkerRegister(m.ctx, &store.WorkerRegisterParams{Worker: w, Now: m.now})
			if err != nil {
				rt.Fatalf("WorkerRegister(%s) error = %v", w.ID, err)
			}
			m.workers = append(m.workers, reg)
		}
		rt.Repeat(map[string]func(*rapid.T){
			"submit":             m.submit,
			"lease":              m.lease,
			"heartbeat":          m.heartbeat,
			"complete":           m.complete,
			"fail":               m.fail,
			"expire":             m.expire,
			"cancel":             m.cancel,
			"retry":              m.retry,
			"redeliver stale":    m.redeliverStale,
			"cancel vs complete": m.cancelVersusComplete,
			"restart":            m.restart,
			"": func(rt *rapid.T) {
				m.check(rt)
				for _, task := range m.tasks {
					reached.Store(task.state, true)
				}
			},
		})
	})
	// The model's states are all reachable in the store: a run that never
	// reached one tested less than it claims. Reaching failed takes a task
	// through all its attempts, which some 1 in 10 runs of 20 cases never
	// draws; from 50 cases a miss is about one in a hundred thousand, so
	// only a run that long is judged (the race detector's short runs are
	// not).
	for _, st := range []domain.TaskState{domain.TaskPending, domain.TaskRunning, domain.TaskCompleted, domain.TaskFailed, domain.TaskCancelled} {
		if _, ok := reached.Load(st); !ok && !t.Failed() && ran.Load() >= 50 {
			t.Errorf("no generated case reached state %s", st)
		}
	}
	return current()
}

// setChecks makes n rapid's number of checks unless -rapid.checks or
// RAPID_CHECKS says otherwise.
func setChecks(n int) {
	set := os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set {
		_ = flag.Set("rapid.checks", strconv.Itoa(n))
	}
}

// Timing of the model; the backoff is linearBackoff's.
const (
	modelTTL         = 30 * time.Second
	modelBackoff     = 5 * time.Second
	modelLostRetries = 1
)

// model is one check's expected state of its tasks.
type model struct {
	ctx     context.Context
	store   func() store.Store
	reopen  func()
	queue   string
	now     time.Time
	workers []*domain.Worker
	tasks   map[string]*modelTask
	order   []string   // task ids by insertion, the lease tie-break
	leases  []leaseRef // every lease ever handed out
	created atomic.Int64
}

type modelTask struct {
	state       domain.TaskState
	attempt     int
	epoch       int64
	owner       string
	expires     time.Time // the lease's expiry, while running
	availableAt time.Time
	maxRetries  int
	terminal    domain.TaskState // the first terminal state reached, "" before
	seenAttempt int              // the highest attempt the store has shown
}

// leaseRef is a lease as a worker holds it.
type leaseRef struct {
	ref   domain.TaskRef
	owner string
}

func (m *model) valid(l leaseRef) bool {
	mt := m.tasks[l.ref.TaskID]
	return mt.state == domain.TaskRunning && mt.epoch == l.ref.Epoch && mt.owner == l.owner
}

func (m *model) worker(rt *rapid.T) *domain.Worker {
	return rapid.SampledFrom(m.workers).Draw(rt, "worker")
}

// pick draws a task in one of the given states, skipping the step if none.
func (m *model) pick(rt *rapid.T, states ...domain.TaskState) string {
	var ids []string
	for _, id := range m.order {
		if slices.Contains(states, m.tasks[id].state) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		rt.Skip("no task in a state for this step")
	}
	return rapid.SampledFrom(ids).Draw(rt, "task")
}

func (m *model) insert(rt *rapid.T, maxRetries int, original string) {
	created := start.Add(-time.Hour + time.Duration(m.created.Add(1))*time.Millisecond)
	task := &domain.Task{
		ID: domain.NewTaskID(created), Type: "echo", Payload: []byte(`{}`), Priority: domain.PriorityNormal,
		Queue: m.queue, TimeoutSeconds: 60, MaxRetries: maxRetries, RetryBackoff: modelBackoff,
		OriginalTaskID: original, State: domain.TaskPending, CreatedAt: created, AvailableAt: created,
	}
	if _, err := m.store().TaskInsertMany(m.ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{task}}); err != nil {
		rt.Fatalf("TaskInsertMany() error = %v", err)
	}
	m.tasks[task.ID] = &modelTask{state: domain.TaskPending, availableAt: created, maxRetries: maxRetries}
	m.order = append(m.order, task.ID)
}

func (m *model) submit(rt *rapid.T) {
	m.insert(rt, rapid.IntRange(0, 2).Draw(rt, "max_retries"), "")
}

// retry submits a new task from a terminal one, as the API's retry does;
// the original stays as it was.
func (m *model) retry(rt *rapid.T) {
	id := m.pick(rt, domain.TaskCompleted, domain.TaskFailed, domain.TaskCancelled)
	m.insert(rt, m.tasks[id].maxRetries, id)
}

// lease leases one task; the store must pick the model's choice: the
// earliest available, then the oldest (all priorities are equal here).
func (m *model) lease(rt *rapid.T) {
	w := m.worker(rt)
	got, err := m.store().TaskLease(m.ctx, &store.TaskLeaseParams{Worker: w, Max: 1, TTL: modelTTL, Now: m.now})
	if err != nil {
		rt.Fatalf("TaskLease() error = %v", err)
	}
	want := ""
	for _, id := range m.order {
		mt := m.tasks[id]
		if mt.state == domain.TaskPending && !mt.availableAt.After(m.now) &&
			(want == "" || mt.availableAt.Before(m.tasks[want].availableAt)) {
			want = id
		}
	}
	if want == "" {
		if len(got) != 0 {
			rt.Fatalf("TaskLease() at %v leased %s, the model has nothing available", m.now, got[0].ID)
		}
		return
	}
	if len(got) != 1 || got[0].ID != want {
		rt.Fatalf("TaskLease() at %v = %v, want %s", m.now, ids(got), want)
	}
	mt := m.tasks[want]
	mt.state, mt.attempt, mt.epoch, mt.owner, mt.expires = domain.TaskRunning, mt.attempt+1, mt.epoch+1, w.ID, m.now.Add(modelTTL)
	m.leases = append(m.leases, leaseRef{domain.TaskRef{TaskID: want, Epoch: mt.epoch}, w.ID})
}

// heartbeat renews every lease the worker holds and names the held leases
// it lost; it names some stale leases of its own too. It goes in one batch
// with the heartbeat of a worker that does not exist, which is refused
// alone and changes nothing.
func (m *model) heartbeat(rt *rapid.T) {
	w := m.worker(rt)
	var held []domain.TaskRef
	for _, l := range m.leases {
		if l.owner == w.ID && (m.valid(l) || rapid.Bool().Draw(rt, "name a stale lease")) {
			held = append(held, l.ref)
		}
	}
	hbs := []store.Heartbeat{{ID: w.ID, Held: held}, {ID: "no-such-worker", Held: held}}
	res, err := m.store().WorkerHeartbeatMany(m.ctx, &store.WorkerHeartbeatManyParams{Heartbeats: hbs, TTL: modelTTL, Now: m.now})
	if err != nil || len(res) != 2 {
		rt.Fatalf("WorkerHeartbeatMany() = %d results, error %v; want 2 results", len(res), err)
	}
	if !errors.Is(res[1].Err, domain.ErrNotFound) || res[1].Lost != nil {
		rt.Fatalf("WorkerHeartbeatMany()[1] (unknown worker) = lost %v, error %v; want ErrNotFound alone", res[1].Lost, res[1].Err)
	}
	var want []store.LostLease
	for _, ref := range held {
		if !m.valid(leaseRef{ref, w.ID}) {
			reason := store.ReasonLeaseLost
			if m.tasks[ref.TaskID].state == domain.TaskCancelled {
				reason = store.ReasonCancelled
			}
			want = append(want, store.LostLease{Ref: ref, Reason: reason})
		}
	}
	if res[0].Err != nil || !slices.Equal(res[0].Lost, want) {
		rt.Fatalf("WorkerHeartbeatMany()[0] (%s, held %v) = lost %v, error %v; want lost %v", w.ID, held, res[0].Lost, res[0].Err, want)
	}
	for _, mt := range m.tasks {
		if mt.state == domain.TaskRunning && mt.owner == w.ID {
			mt.expires = m.now.Add(modelTTL)
		}
	}
}

// finish reports the current lease of a running task.
func (m *model) finish(rt *rapid.T, ok bool) {
	id := m.pick(rt, domain.TaskRunning)
	mt := m.tasks[id]
	out := m.report(rt, leaseRef{domain.TaskRef{TaskID: id, Epoch: mt.epoch}, mt.owner}, ok)
	if out.StaleLease {
		rt.Fatalf("TaskFinishMany(%s epoch %d by %s) refused the valid lease", id, mt.epoch, mt.owner)
	}
	m.applyFinish(mt, ok)
	if out.State != mt.state {
		rt.Fatalf("TaskFinishMany(%s, ok %v) state = %s, want %s", id, ok, out.State, mt.state)
	}
}

func (m *model) complete(rt *rapid.T) { m.finish(rt, true) }
func (m *model) fail(rt *rapid.T)     { m.finish(rt, false) }

func (m *model) applyFinish(mt *modelTask, ok bool) {
	mt.owner, mt.expires = "", time.Time{}
	switch {
	case ok:
		mt.state = domain.TaskCompleted
	case mt.attempt <= mt.maxRetries:
		mt.state, mt.availableAt = domain.TaskPending, m.now.Add(linearBackoff(mt.attempt, modelBackoff))
	default:
		mt.state = domain.TaskFailed
	}
}

func (m *model) report(rt *rapid.T, l leaseRef, ok bool) store.TaskFinishOutcome {
	out, err := m.tryReport(l, ok)
	if err != nil {
		rt.Fatalf("TaskFinishMany(%v) error = %v", l.ref, err)
	}
	return out
}

func (m *model) tryReport(l leaseRef, ok bool) (store.TaskFinishOutcome, error) {
	res := &domain.Result{Output: "out"}
	if !ok {
		res = &domain.Result{Output: "boom", ExitCode: 2, Error: "exit status 2"}
	}
	outs, err := m.store().TaskFinishMany(m.ctx, &store.TaskFinishManyParams{WorkerID: l.owner,
		Results: []store.TaskFinish{{Ref: l.ref, Succeeded: ok, Result: res}}, Backoff: linearBackoff, Now: m.now})
	if err == nil && len(outs) != 1 {
		err = fmt.Errorf("%d outcomes for 1 result", len(outs))
	}
	if err != nil {
		return store.TaskFinishOutcome{}, err
	}
	return outs[0], nil
}

// redeliverStale replays a result under a lease that is no longer valid
// (an old epoch), or under the current epoch from the other worker: both
// are refused and change nothing.
func (m *model) redeliverStale(rt *rapid.T) {
	var stale []leaseRef
	for _, l := range m.leases {
		if !m.valid(l) {
			stale = append(stale, l)
		}
		for _, w := range m.workers {
			if other := (leaseRef{l.ref, w.ID}); w.ID != l.owner && m.tasks[l.ref.TaskID].epoch == l.ref.Epoch {
				stale = append(stale, other)
			}
		}
	}
	if len(stale) == 0 {
		rt.Skip("no stale lease yet")
	}
	l := rapid.SampledFrom(stale).Draw(rt, "stale lease")
	if out := m.report(rt, l, rapid.Bool().Draw(rt, "succeeded")); !out.StaleLease {
		rt.Fatalf("TaskFinishMany(%v by %s) accepted a stale lease: state %s", l.ref, l.owner, out.State)
	}
}

// expire moves time on and runs the reaper: every lease that expired
// before now is rescued, none earlier.
func (m *model) expire(rt *rapid.T) {
	m.now = m.now.Add(time.Duration(rapid.IntRange(1, 60).Draw(rt, "seconds")) * time.Second)
	rescued, err := m.store().TaskRescueExpired(m.ctx, &store.TaskRescueExpiredParams{
		Backoff: linearBackoff, LostRetries: modelLostRetries, Now: m.now})
	if err != nil {
		rt.Fatalf("TaskRescueExpired() error = %v", err)
	}
	var got, want []string
	for _, r := range rescued {
		if _, ours := m.tasks[r.ID]; ours {
			got = append(got, r.ID)
		}
	}
	for _, id := range m.order {
		mt := m.tasks[id]
		if mt.state != domain.TaskRunning || !mt.expires.Before(m.now) {
			continue
		}
		want = append(want, id)
		mt.owner, mt.expires = "", time.Time{}
		if mt.attempt <= mt.maxRetries+modelLostRetries {
			mt.state, mt.availableAt = domain.TaskPending, m.now.Add(linearBackoff(mt.attempt, modelBackoff))
		} else {
			mt.state = domain.TaskFailed
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		rt.Fatalf("TaskRescueExpired() at %v rescued %v, want %v", m.now, got, want)
	}
}

// cancel cancels a task in any state: pending and running ones end
// cancelled, terminal ones are refused and stay as they are.
func (m *model) cancel(rt *rapid.T) {
	id := m.pick(rt, domain.TaskPending, domain.TaskRunning, domain.TaskCompleted, domain.TaskFailed, domain.TaskCancelled)
	mt := m.tasks[id]
	_, wasRunning, err := m.store().TaskCancel(m.ctx, &store.TaskCancelParams{ID: id, Reason: "model", Now: m.now})
	if mt.state.Terminal() {
		if domain.CodeOf(err) != domain.CodeTaskNotCancellable {
			rt.Fatalf("TaskCancel(%s, %s) error = %v, want %s", id, mt.state, err, domain.CodeTaskNotCancellable)
		}
		return
	}
	if err != nil || wasRunning != (mt.state == domain.TaskRunning) {
		rt.Fatalf("TaskCancel(%s, %s) = running %v, %v", id, mt.state, wasRunning, err)
	}
	mt.state, mt.owner, mt.expires = domain.TaskCancelled, "", time.Time{}
}

// cancelVersusComplete races a cancel with the completion of the running
// attempt: exactly one of them applies.
func (m *model) cancelVersusComplete(rt *rapid.T) {
	id := m.pick(rt, domain.TaskRunning)
	mt := m.tasks[id]
	l := leaseRef{domain.TaskRef{TaskID: id, Epoch: mt.epoch}, mt.owner}
	var (
		out                  store.TaskFinishOutcome
		finishErr, cancelErr error
		wg                   sync.WaitGroup
	)
	wg.Go(func() { out, finishErr = m.tryReport(l, true) })
	wg.Go(func() {
		_, _, cancelErr = m.store().TaskCancel(m.ctx, &store.TaskCancelParams{ID: id, Reason: "race", Now: m.now})
	})
	wg.Wait()
	if finishErr != nil {
		rt.Fatalf("TaskFinishMany(%v) error = %v", l.ref, finishErr)
	}
	switch cancelled := cancelErr == nil; {
	case cancelled && out.StaleLease:
		mt.state, mt.owner, mt.expires = domain.TaskCancelled, "", time.Time{}
	case !cancelled && !out.StaleLease && domain.CodeOf(cancelErr) == domain.CodeTaskNotCancellable:
		m.applyFinish(mt, true)
	default:
		rt.Fatalf("cancel racing completion of %s: cancel error %v, completion stale %v; want exactly one applied", id, cancelErr, out.StaleLease)
	}
}

// restart closes the store and opens it again: nothing the model holds may
// change.
func (m *model) restart(*rapid.T) { m.reopen() }

// check compares every task of the model with the store.
func (m *model) check(rt *rapid.T) {
	for _, id := range m.order {
		mt := m.tasks[id]
		got, err := m.store().TaskGet(m.ctx, id)
		if err != nil {
			rt.Fatalf("TaskGet(%s) error = %v", id, err)
		}
		if got.State != mt.state || got.Attempt != mt.attempt || got.LeaseEpoch != mt.epoch || got.LeaseOwner != mt.owner ||
			!got.AvailableAt.Equal(mt.availableAt) || (mt.state == domain.TaskRunning && !got.LeaseExpiresAt.Equal(mt.expires)) {
			rt.Fatalf("task %s at %v: store has %s attempt %d epoch %d owner %q expires %v available %v;\n"+
				"model has %s attempt %d epoch %d owner %q expires %v available %v",
				id, m.now, got.State, got.Attempt, got.LeaseEpoch, got.LeaseOwner, got.LeaseExpiresAt, got.AvailableAt,
				mt.state, mt.attempt, mt.epoch, mt.owner, mt.expires, mt.availableAt)
		}
		// Invariants the model itself keeps, checked outright.
		if got.Attempt < mt.seenAttempt {
			rt.Fatalf("task %s attempt went back from %d to %d", id, mt.seenAttempt, got.Attempt)
		}
		mt.seenAttempt = got.Attempt
		if mt.terminal != "" && got.State != mt.terminal {
			rt.Fatalf("task %s left terminal state %s for %s", id, mt.terminal, got.State)
		}
		if got.State.Terminal() {
			mt.terminal = got.State
		}
	}
	valid := map[string]int{}
	for _, l := range m.leases {
		if m.valid(l) {
			valid[l.ref.TaskID]++
		}
	}
	for id, n := range valid {
		if n > 1 {
			rt.Fatalf("task %s has %d valid leases", id, n)
		}
	}
}
