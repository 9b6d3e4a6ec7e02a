package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var poolTests = []test{
	{"InsertGetList", testPoolInsertGetList},
	{"InsertConflicts", testPoolInsertConflicts},
	{"ScaleRecordsOneEventPerChange", testPoolScale},
	{"UpdateKeepsPoints", testPoolUpdate},
	{"DeleteForgetsEvents", testPoolDelete},
	{"WorkersByStoredPoolID", testPoolWorkers},
	{"DrainStartKeepsFirstDeadline", testPoolDrain},
	{"QueueStats", testPoolQueueStats},
}

func newPool(name string, opts ...func(*domain.Pool)) *domain.Pool {
	p := &domain.Pool{
		Name: name, Points: 1, MinPoints: 0, MaxPoints: 5,
		Worker:   domain.WorkerTemplate{Queues: []string{"gpu"}, Labels: map[string]string{"zone": "a"}, Concurrency: 2, AllowShell: true},
		Provider: "command", ProviderConfig: json.RawMessage(`{"scale_up":"up.sh"}`),
		Autoscale:    domain.Autoscale{Enabled: true, TasksPerWorker: 4, MaxPendingAge: 30 * time.Second, Cooldown: time.Minute},
		DrainTimeout: 20 * time.Second,
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func (b *bundle) insertPool(t *testing.T, p *domain.Pool) *domain.Pool {
	t.Helper()
	got, err := b.s.PoolInsert(b.ctx, &store.PoolInsertParams{Pool: p, Actor: "test", Now: b.now})
	if err != nil {
		t.Fatalf("PoolInsert(%s) error = %v", p.Name, err)
	}
	return got
}

// poolCmp compares pools with JSON documents by meaning, not by spelling
// (PostgreSQL's jsonb reorders keys and spaces).
var poolCmp = cmp.Options{cmp.Comparer(func(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
})}

func testPoolInsertGetList(t *testing.T, b *bundle) {
	a := b.insertPool(t, newPool("a"))
	if a.ID <= 0 {
		t.Fatalf("PoolInsert() id = %d, want > 0", a.ID)
	}
	want := newPool("a", func(p *domain.Pool) { p.ID, p.CreatedAt, p.UpdatedAt, p.ScaledAt = a.ID, start, start, start })
	if diff := cmp.Diff(want, a, poolCmp); diff != "" {
		t.Errorf("PoolInsert() mismatch (-want +got):\n%s", diff)
	}
	chosen := b.insertPool(t, newPool("doc", func(p *domain.Pool) { p.ID = 3000 }))
	if chosen.ID != 3000 {
		t.Errorf("PoolInsert(id 3000) id = %d", chosen.ID)
	}
	next := b.insertPool(t, newPool("c"))
	if next.ID <= 3000 {
		t.Errorf("PoolInsert() after a chosen id 3000 gave id %d, want > 3000", next.ID)
	}
	got, err := b.s.PoolGet(b.ctx, a.ID)
	if err != nil || !cmp.Equal(a, got, poolCmp) {
		t.Errorf("PoolGet(%d) = %+v, %v; want %+v", a.ID, got, err, a)
	}
	if _, err := b.s.PoolGet(b.ctx, 99999); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PoolGet(unknown) error = %v, want ErrNotFound", err)
	}
	list, err := b.s.PoolList(b.ctx, &store.PoolListParams{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	if !cmp.Equal(ids, []int64{a.ID, 3000, next.ID}) {
		t.Errorf("PoolList() ids = %v, want [%d 3000 %d]", ids, a.ID, next.ID)
	}
	evs, err := b.s.PoolEventList(b.ctx, &store.PoolEventListParams{PoolID: a.ID})
	if err != nil || len(evs) != 1 || evs[0].From != 0 || evs[0].To != 1 || evs[0].Actor != "test" || !evs[0].At.Equal(start) {
		t.Errorf("PoolEventList() after insert = %+v, %v; want one event 0 -> 1 by test at start", evs, err)
	}
}

func testPoolInsertConflicts(t *testing.T, b *bundle) {
	a := b.insertPool(t, newPool("a"))
	for name, p := range map[string]*domain.Pool{
		"same name": newPool("a"),
		"same id":   newPool("b", func(p *domain.Pool) { p.ID = a.ID }),
	} {
		if _, err := b.s.PoolInsert(b.ctx, &store.PoolInsertParams{Pool: p, Now: b.now}); !errors.Is(err, domain.ErrConflict) {
			t.Errorf("PoolInsert(%s) error = %v, want ErrConflict", name, err)
		}
	}
}

func testPoolScale(t *testing.T, b *bundle) {
	p := b.insertPool(t, newPool("a"))
	b.step(time.Second)
	got, ev, err := b.s.PoolScale(b.ctx, &store.PoolScaleParams{ID: p.ID, Points: 3, Actor: "api", Reason: "more", Now: b.now})
	if err != nil {
		t.Fatal(err)
	}
	if got.Points != 3 || !got.ScaledAt.Equal(b.now) {
		t.Errorf("PoolScale(3) pool = points %d scaled %v, want 3 at %v", got.Points, got.ScaledAt, b.now)
	}
	if ev == nil || ev.From != 1 || ev.To != 3 || ev.Actor != "api" || ev.Reason != "more" || !ev.At.Equal(b.now) || ev.ID == 0 {
		t.Errorf("PoolScale(3) event = %+v, want 1 -> 3 by api", ev)
	}
	b.step(time.Second)
	again, ev, err := b.s.PoolScale(b.ctx, &store.PoolScaleParams{ID: p.ID, Points: 3, Actor: "api", Now: b.now})
	if err != nil || ev != nil || again.Points != 3 || !again.ScaledAt.Equal(got.ScaledAt) {
		t.Errorf("PoolScale(3) again = %+v, %+v, %v; want no event and no change", again, ev, err)
	}
	evs, err := b.s.PoolEventList(b.ctx, &store.PoolEventListParams{PoolID: p.ID})
	if err != nil || len(evs) != 2 || evs[0].To != 3 || evs[1].To != 1 {
		t.Errorf("PoolEventList() = %+v, %v; want 1->3 then 0->1 (newest first)", evs, err)
	}
	if _, _, err := b.s.PoolScale(b.ctx, &store.PoolScaleParams{ID: 99999, Points: 1, Now: b.now}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PoolScale(unknown) error = %v, want ErrNotFound", err)
	}
}

func testPoolUpdate(t *testing.T, b *bundle) {
	p := b.insertPool(t, newPool("a"))
	q := b.insertPool(t, newPool("q"))
	b.step(time.Second)
	changed := *p
	changed.Name, changed.MaxPoints, changed.Points = "renamed", 9, 4
	changed.Worker.Queues = []string{"x", "y"}
	got, err := b.s.PoolUpdate(b.ctx, &store.PoolUpdateParams{Pool: &changed, Now: b.now})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.MaxPoints != 9 || got.Points != 1 || !cmp.Equal(got.Worker.Queues, []string{"x", "y"}) || !got.UpdatedAt.Equal(b.now) {
		t.Errorf("PoolUpdate() = %+v; want renamed, max 9, points still 1", got)
	}
	dup := *q
	dup.Name = "renamed"
	if _, err := b.s.PoolUpdate(b.ctx, &store.PoolUpdateParams{Pool: &dup, Now: b.now}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("PoolUpdate(taken name) error = %v, want ErrConflict", err)
	}
	unknown := *p
	unknown.ID = 99999
	if _, err := b.s.PoolUpdate(b.ctx, &store.PoolUpdateParams{Pool: &unknown, Now: b.now}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PoolUpdate(unknown) error = %v, want ErrNotFound", err)
	}
}

func testPoolDelete(t *testing.T, b *bundle) {
	p := b.insertPool(t, newPool("a"))
	if err := b.s.PoolDelete(b.ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.PoolGet(b.ctx, p.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PoolGet(deleted) error = %v, want ErrNotFound", err)
	}
	if evs, err := b.s.PoolEventList(b.ctx, &store.PoolEventListParams{PoolID: p.ID}); err != nil || len(evs) != 0 {
		t.Errorf("PoolEventList(deleted) = %+v, %v; want none", evs, err)
	}
	if err := b.s.PoolDelete(b.ctx, p.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PoolDelete(again) error = %v, want ErrNotFound", err)
	}
}

func testPoolWorkers(t *testing.T, b *bundle) {
	p := b.insertPool(t, newPool("a"))
	b.register(t, "w1", func(w *domain.Worker) { w.PoolID = p.ID })
	b.register(t, "w2", func(w *domain.Worker) { w.PoolID = p.ID; w.State = domain.WorkerOffline })
	b.register(t, "w3", func(w *domain.Worker) { w.PoolID = p.ID + 1 })
	b.register(t, "solo")
	if got, err := b.s.WorkerGet(b.ctx, "w1"); err != nil || got.PoolID != p.ID {
		t.Errorf("WorkerGet(w1) PoolID = %v, %v; want %d", got, err, p.ID)
	}
	// Joining (the worker protocol's way) records the pool id too, and a
	// worker coming back with its credential keeps it.
	joined, err := b.s.WorkerJoin(b.ctx, &store.WorkerJoinParams{Worker: newWorker("", func(w *domain.Worker) {
		w.Name, w.PoolID, w.CredentialHash = "pooled", p.ID, "cred-pooled"
	}), Now: b.now})
	if err != nil || joined.PoolID != p.ID {
		t.Fatalf("WorkerJoin(pool %d) = %+v, %v", p.ID, joined, err)
	}
	back, err := b.s.WorkerJoin(b.ctx, &store.WorkerJoinParams{Worker: newWorker("", func(w *domain.Worker) {
		w.Name, w.PoolID, w.CredentialHash = "pooled", p.ID, "cred-new"
	}), ReturningID: joined.ID, ReturningCredentialHash: "cred-pooled", Now: b.now})
	if err != nil || back.ID != joined.ID || back.PoolID != p.ID {
		t.Errorf("WorkerJoin(returning) = %+v, %v; want %s in pool %d", back, err, joined.ID, p.ID)
	}
	if err := b.s.WorkerSetState(b.ctx, &store.WorkerSetStateParams{ID: joined.ID, State: domain.WorkerOffline, Now: b.now}); err != nil {
		t.Fatal(err)
	}
	ids := func(ws []*domain.Worker) (out []string) {
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return out
	}
	for _, tc := range []struct {
		p    store.PoolWorkerListParams
		want []string
	}{
		{store.PoolWorkerListParams{PoolID: p.ID}, []string{"pooled", "w1", "w2"}},
		{store.PoolWorkerListParams{PoolID: p.ID, Live: true}, []string{"w1"}},
		{store.PoolWorkerListParams{}, []string{"pooled", "w1", "w2", "w3"}},
	} {
		got, err := b.s.PoolWorkerList(b.ctx, &tc.p)
		if err != nil || !cmp.Equal(ids(got), tc.want) {
			t.Errorf("PoolWorkerList(%+v) = %v, %v; want %v", tc.p, ids(got), err, tc.want)
		}
	}
}

func testPoolDrain(t *testing.T, b *bundle) {
	b.register(t, "w1", func(w *domain.Worker) { w.PoolID = 7 })
	b.register(t, "gone", func(w *domain.Worker) { w.PoolID = 7; w.State = domain.WorkerOffline })
	first := b.now.Add(30 * time.Second)
	if err := b.s.PoolDrainStart(b.ctx, &store.PoolDrainStartParams{WorkerID: "w1", PoolID: 7, Deadline: first, Now: b.now}); err != nil {
		t.Fatal(err)
	}
	b.step(time.Second)
	if err := b.s.PoolDrainStart(b.ctx, &store.PoolDrainStartParams{WorkerID: "w1", PoolID: 7, Deadline: b.now.Add(time.Hour), Now: b.now}); err != nil {
		t.Fatal(err)
	}
	if w, _ := b.s.WorkerGet(b.ctx, "w1"); w.State != domain.WorkerDraining {
		t.Errorf("after PoolDrainStart state = %s, want draining", w.State)
	}
	if err := b.s.PoolDrainStart(b.ctx, &store.PoolDrainStartParams{WorkerID: "gone", PoolID: 7, Deadline: first, Now: b.now}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PoolDrainStart(offline) error = %v, want ErrNotFound", err)
	}
	want := []store.PoolDrain{{WorkerID: "w1", PoolID: 7, Deadline: first, Started: start}}
	for _, pool := range []int64{7, 0} {
		got, err := b.s.PoolDrainList(b.ctx, pool)
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("PoolDrainList(%d) = %+v, %v; want %+v", pool, got, err, want)
		}
	}
	if err := b.s.PoolDrainEnd(b.ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.s.PoolDrainList(b.ctx, 0); err != nil || len(got) != 0 {
		t.Errorf("PoolDrainList() after end = %+v, %v; want none", got, err)
	}
}

func testPoolQueueStats(t *testing.T, b *bundle) {
	first := b.newTask(func(tk *domain.Task) { tk.Queue = "a" })
	b.insert(t, first,
		b.newTask(func(tk *domain.Task) { tk.Queue = "b" }),
		b.newTask(func(tk *domain.Task) { tk.Queue = "a"; tk.AvailableAt = start.Add(time.Hour) }), // delayed
		b.newTask(func(tk *domain.Task) { tk.Queue = "c" }),
		b.newTask(func(tk *domain.Task) { tk.Queue = "a" }),
	)
	w := b.register(t, "w1", func(w *domain.Worker) { w.Queues = []string{"a"} })
	b.leaseOne(t, w) // the oldest of a now runs
	got, err := b.s.PoolQueueStats(b.ctx, &store.PoolQueueStatsParams{Queues: []string{"a", "b"}, Now: b.now})
	if err != nil {
		t.Fatal(err)
	}
	want := &store.PoolQueueStats{Pending: 2, Running: 1, OldestPending: first.CreatedAt.Add(time.Millisecond)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PoolQueueStats() mismatch (-want +got):\n%s", diff)
	}
	if got, err := b.s.PoolQueueStats(b.ctx, &store.PoolQueueStatsParams{Queues: []string{"none"}, Now: b.now}); err != nil || *got != (store.PoolQueueStats{}) {
		t.Errorf("PoolQueueStats(empty queue) = %+v, %v", got, err)
	}
}
