// Package storetest is the conformance suite of store.Store: the executable
// form of the contract written in store.go's comments. Every backend runs it
// from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
//	}
//
// Each subtest runs in parallel on a fresh store and drives time through the
// methods' Now parameters from a fixed start, so no test sleeps and every
// time it compares is exact (times are whole microseconds, the precision
// stores keep).
package storetest

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Run runs the suite against the stores newStore makes; newStore is called
// once per subtest and should arrange for the store to be closed when t ends.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Task", taskTests},
		{"Lease", leaseTests},
		{"Finish", finishTests},
		{"Worker", workerTests},
		{"Log", logTests},
		{"Progress", progressTests},
		{"KV", kvTests},
		{"Leader", leaderTests},
		{"Observe", observeTests},
		{"Key", keyTests},
		{"Pool", poolTests},
		{"Workflow", workflowTests},
		{"Queue", queueTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, setup(t, newStore))
				})
			}
		})
	}
}

// test is one subtest of the suite.
type test struct {
	name string
	fn   func(t *testing.T, b *bundle)
}

// start is the suite's "now" before any step: a whole second, so that every
// time derived from it by whole microseconds survives any store.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Lease timing used throughout.
const (
	ttl      = 30 * time.Second
	retryGap = 10 * time.Second // tasks' RetryBackoff base
)

// linearBackoff is the retry policy the suite passes: attempt × base, so
// that expected times are easy to state.
func linearBackoff(attempt int, base time.Duration) time.Duration {
	return time.Duration(attempt) * base
}

// bundle is what each subtest works with: a fresh store and a clock.
type bundle struct {
	s        store.Store
	ctx      context.Context
	now      time.Time // the current time of the test; step moves it
	created  atomic.Int64
	newStore func(t *testing.T) store.Store
}

func setup(t *testing.T, newStore func(t *testing.T) store.Store) *bundle {
	t.Helper()
	return &bundle{s: newStore(t), ctx: t.Context(), now: start, newStore: newStore}
}

// fresh is a new bundle on a new store, for a table test's subtests.
func (b *bundle) fresh(t *testing.T) *bundle {
	t.Helper()
	return setup(t, b.newStore)
}

// step moves the test's clock forward by d.
func (b *bundle) step(d time.Duration) { b.now = b.now.Add(d) }

// newTask is a pending echo task on the default queue, created (and
// available) in the hour before start, a millisecond after the previous one,
// so that creation order is id order; opts change it.
func (b *bundle) newTask(opts ...func(*domain.Task)) *domain.Task {
	created := start.Add(-time.Hour + time.Duration(b.created.Add(1))*time.Millisecond)
	t := &domain.Task{
		ID:             domain.NewTaskID(created),
		Type:           "echo",
		Payload:        []byte(`{"message":"hi"}`),
		Priority:       domain.PriorityNormal,
		Queue:          domain.DefaultQueue,
		TimeoutSeconds: 60,
		RetryBackoff:   retryGap,
		State:          domain.TaskPending,
		CreatedAt:      created,
		AvailableAt:    created,
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// insert stores tasks and returns them as stored.
func (b *bundle) insert(t *testing.T, tasks ...*domain.Task) []*domain.Task {
	t.Helper()
	outs, err := b.s.TaskInsertMany(b.ctx, &store.TaskInsertManyParams{Tasks: tasks})
	if err != nil {
		t.Fatalf("TaskInsertMany() error = %v", err)
	}
	if len(outs) != len(tasks) {
		t.Fatalf("TaskInsertMany() gave %d outcomes for %d tasks", len(outs), len(tasks))
	}
	out := make([]*domain.Task, len(outs))
	for i, o := range outs {
		out[i] = o.Task
	}
	return out
}

// insertN stores n tasks made by newTask(opts...).
func (b *bundle) insertN(t *testing.T, n int, opts ...func(*domain.Task)) []*domain.Task {
	t.Helper()
	tasks := make([]*domain.Task, n)
	for i := range tasks {
		tasks[i] = b.newTask(opts...)
	}
	return b.insert(t, tasks...)
}

// get returns a task, failing the test if it cannot.
func (b *bundle) get(t *testing.T, id string) *domain.Task {
	t.Helper()
	got, err := b.s.TaskGet(b.ctx, id)
	if err != nil {
		t.Fatalf("TaskGet(%s) error = %v", id, err)
	}
	return got
}

// newWorker is an online linux worker with 4 cores and 8 GB, listening on
// the default queue and handling echo and sleep, changed by opts. It is not
// registered: register does that.
func newWorker(id string, opts ...func(*domain.Worker)) *domain.Worker {
	w := &domain.Worker{
		ID:             id,
		Name:           id,
		Hostname:       id + ".local",
		Role:           "worker",
		Platform:       domain.Platform{OS: "linux", Arch: "amd64"},
		Resources:      domain.Resources{CPUCores: 4, MemoryTotalGB: 8},
		Queues:         []string{domain.DefaultQueue},
		Labels:         map[string]string{"zone": "a"},
		TaskTypes:      []string{"echo", "sleep"},
		Concurrency:    4,
		CredentialHash: "hash-" + id,
		State:          domain.WorkerOnline,
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// register stores a worker made by newWorker.
func (b *bundle) register(t *testing.T, id string, opts ...func(*domain.Worker)) *domain.Worker {
	t.Helper()
	w, err := b.s.WorkerRegister(b.ctx, &store.WorkerRegisterParams{Worker: newWorker(id, opts...), Now: b.now})
	if err != nil {
		t.Fatalf("WorkerRegister(%s) error = %v", id, err)
	}
	return w
}

// lease leases up to max tasks for w at the current time.
func (b *bundle) lease(t *testing.T, w *domain.Worker, max int) []*domain.Task {
	t.Helper()
	got, err := b.s.TaskLease(b.ctx, &store.TaskLeaseParams{Worker: w, Max: max, TTL: ttl, Now: b.now})
	if err != nil {
		t.Fatalf("TaskLease(%s) error = %v", w.ID, err)
	}
	return got
}

// leaseOne leases exactly one task for w.
func (b *bundle) leaseOne(t *testing.T, w *domain.Worker) *domain.Task {
	t.Helper()
	got := b.lease(t, w, 1)
	if len(got) != 1 {
		t.Fatalf("TaskLease(%s, max 1) leased %d tasks, want 1", w.ID, len(got))
	}
	return got[0]
}

// finish reports one result for w.
func (b *bundle) finish(t *testing.T, w *domain.Worker, ref domain.TaskRef, ok bool) store.TaskFinishOutcome {
	t.Helper()
	res := &domain.Result{Output: "out", ExitCode: 0}
	if !ok {
		res = &domain.Result{Output: "boom", ExitCode: 2, Error: "exit status 2"}
	}
	outs, err := b.s.TaskFinishMany(b.ctx, &store.TaskFinishManyParams{
		WorkerID: w.ID,
		Results:  []store.TaskFinish{{Ref: ref, Succeeded: ok, Result: res}},
		Backoff:  linearBackoff,
		Now:      b.now,
	})
	if err != nil {
		t.Fatalf("TaskFinishMany(%v) error = %v", ref, err)
	}
	if len(outs) != 1 {
		t.Fatalf("TaskFinishMany(%v) gave %d outcomes, want 1", ref, len(outs))
	}
	return outs[0]
}

// refOf is the lease a running task is under.
func refOf(t *domain.Task) domain.TaskRef {
	return domain.TaskRef{TaskID: t.ID, Epoch: t.LeaseEpoch}
}

func ids(tasks []*domain.Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// cmpEmpty treats nil and empty slices and maps alike.
var cmpEmpty = cmpopts.EquateEmpty()

// taskDiff compares tasks field by field, treating nil and empty alike.
func taskDiff(want, got any) string {
	return cmp.Diff(want, got, cmpEmpty)
}

// wantErr fails t unless err is target (by errors.Is).
func wantErr(t *testing.T, call string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s error = %v, want %v", call, err, target)
	}
}

// wantCode fails t unless err is a *domain.Error with code.
func wantCode(t *testing.T, call string, err error, code domain.Code) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != code {
		t.Errorf("%s error = %v, want a *domain.Error with code %s", call, err, code)
	}
}

// with returns opts as a slice, for table entries.
func with(opts ...func(*domain.Task)) []func(*domain.Task) { return opts }

// Task options.
func inQueue(q string) func(*domain.Task)           { return func(t *domain.Task) { t.Queue = q } }
func ofType(typ string) func(*domain.Task)          { return func(t *domain.Task) { t.Type = typ } }
func pinnedTo(id string) func(*domain.Task)         { return func(t *domain.Task) { t.DeviceID = id } }
func retries(n int) func(*domain.Task)              { return func(t *domain.Task) { t.MaxRetries = n } }
func priority(p domain.Priority) func(*domain.Task) { return func(t *domain.Task) { t.Priority = p } }
func availableAt(at time.Time) func(*domain.Task)   { return func(t *domain.Task) { t.AvailableAt = at } }
func requires(r domain.Requirements) func(*domain.Task) {
	return func(t *domain.Task) { t.Requirements = r }
}

func idempotencyKey(k string) func(*domain.Task) {
	return func(t *domain.Task) { t.IdempotencyKey = k; t.RequestHash = "h-" + k }
}
