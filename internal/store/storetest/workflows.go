package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var workflowTests = []test{
	{"InsertGetListDelete", testWorkflowCRUD},
	{"RunWithActionsAndTaskState", testRunActions},
	{"RunUpdateFencedByGeneration", testRunUpdateFence},
	{"RunListFilters", testRunList},
	{"CronTickFiresOnce", testCronFireOnce},
	{"Objects", testObjects},
}

func (b *bundle) workflow(t *testing.T, name string, next time.Time) *domain.Workflow {
	t.Helper()
	w := &domain.Workflow{Name: name, Overlap: domain.OverlapSkip, DependsOn: []int64{7},
		Steps:      []domain.Step{{Name: "a", TaskType: "echo"}, {Name: "b", TaskType: "echo", DependsOn: []string{"a"}}},
		NextFireAt: next, CreatedAt: b.now}
	if !next.IsZero() {
		w.Schedule, w.Timezone = "@every 1m", "Europe/Berlin"
	}
	if err := b.s.WorkflowInsert(b.ctx, w); err != nil {
		t.Fatalf("WorkflowInsert: %v", err)
	}
	return w
}

func (b *bundle) run(t *testing.T, w *domain.Workflow, fire *store.CronFire) *domain.Run {
	t.Helper()
	r := &domain.Run{WorkflowID: w.ID, State: domain.RunRunning, Trigger: "manual", Delay: 5 * time.Second}
	for _, s := range w.Steps {
		r.Actions = append(r.Actions, &domain.Action{Step: s.Name})
	}
	if fire != nil {
		r.Trigger, r.Tick = "cron", fire.Tick
	}
	if err := b.s.RunInsert(b.ctx, &store.RunInsertParams{Run: r, Fire: fire, Now: b.now}); err != nil {
		t.Fatalf("RunInsert: %v", err)
	}
	return r
}

func testWorkflowCRUD(t *testing.T, b *bundle) {
	w := b.workflow(t, "nightly", start.Add(time.Minute))
	if w.ID <= 0 {
		t.Fatalf("id %d, want a positive integer", w.ID)
	}
	got, err := b.s.WorkflowGet(b.ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("WorkflowGet differs (-inserted +got):\n%s", diff)
	}
	wantErr(t, "WorkflowInsert same name", b.s.WorkflowInsert(b.ctx, &domain.Workflow{Name: "nightly", Steps: w.Steps}), domain.ErrConflict)
	other := b.workflow(t, "manual", time.Time{})
	all, err := b.s.WorkflowList(b.ctx, &store.WorkflowListParams{})
	if err != nil || len(all) != 2 || all[0].ID != w.ID || all[1].ID != other.ID {
		t.Fatalf("WorkflowList = %v, %v; want both by id", all, err)
	}
	due, err := b.s.WorkflowList(b.ctx, &store.WorkflowListParams{DueBefore: start.Add(time.Minute)})
	if err != nil || len(due) != 1 || due[0].ID != w.ID {
		t.Fatalf("WorkflowList due = %v, %v; want the scheduled one", due, err)
	}
	next, err := b.s.WorkflowNextFire(b.ctx)
	if err != nil || !next.Equal(start.Add(time.Minute)) {
		t.Fatalf("WorkflowNextFire = %v, %v", next, err)
	}
	r := b.run(t, w, nil)
	if err := b.s.WorkflowDelete(b.ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	_, err = b.s.WorkflowGet(b.ctx, w.ID)
	wantErr(t, "WorkflowGet deleted", err, domain.ErrNotFound)
	_, err = b.s.RunGet(b.ctx, r.ID)
	wantErr(t, "RunGet of a deleted workflow", err, domain.ErrNotFound)
	wantErr(t, "WorkflowDelete twice", b.s.WorkflowDelete(b.ctx, w.ID), domain.ErrNotFound)
}

func testRunActions(t *testing.T, b *bundle) {
	w := b.workflow(t, "w", time.Time{})
	r := b.run(t, w, nil)
	if r.ID <= 0 || len(r.Actions) != 2 || r.Actions[0].ID <= 0 || r.Actions[1].ID <= r.Actions[0].ID {
		t.Fatalf("run %+v: want integer ids for the run and each action, in step order", r)
	}
	task := b.insert(t, b.newTask())[0]
	id := task.ID
	if err := b.s.RunUpdate(b.ctx, &store.RunUpdateParams{RunID: r.ID, Now: b.now, Actions: []store.ActionUpdate{
		{ID: r.Actions[0].ID, State: domain.ActionPending, TaskID: &id},
	}}); err != nil {
		t.Fatal(err)
	}
	got, err := b.s.RunGet(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.WorkflowName != "w" || got.State != domain.RunRunning || got.Delay != 5*time.Second || !got.CreatedAt.Equal(b.now) {
		t.Errorf("RunGet = %+v", got)
	}
	a := got.Actions[0]
	if a.TaskID != id || a.TaskState != domain.TaskPending || a.State != domain.ActionPending || got.Actions[1].TaskState != "" {
		t.Errorf("actions %+v %+v: want the first linked to its pending task", a, got.Actions[1])
	}
	one, err := b.s.ActionGet(b.ctx, a.ID)
	if err != nil || one.TaskID != id || one.RunID != r.ID {
		t.Errorf("ActionGet = %+v, %v", one, err)
	}
	_, err = b.s.ActionGet(b.ctx, 99999)
	wantErr(t, "ActionGet unknown", err, domain.ErrNotFound)
	_, err = b.s.RunGet(b.ctx, 99999)
	wantErr(t, "RunGet unknown", err, domain.ErrNotFound)
}

func testRunUpdateFence(t *testing.T, b *bundle) {
	w := b.workflow(t, "w", time.Time{})
	r := b.run(t, w, nil)
	a := r.Actions[0]
	// A restart bumps the generation...
	if err := b.s.RunUpdate(b.ctx, &store.RunUpdateParams{RunID: r.ID, Actions: []store.ActionUpdate{
		{ID: a.ID, Expect: 0, Generation: 1, State: domain.ActionWaiting},
	}}); err != nil {
		t.Fatal(err)
	}
	// ...so an update decided on the old generation changes nothing.
	stale := "task-stale"
	finished := b.now
	if err := b.s.RunUpdate(b.ctx, &store.RunUpdateParams{RunID: r.ID, State: domain.RunFailed, FinishedAt: &finished, Actions: []store.ActionUpdate{
		{ID: a.ID, Expect: 0, Generation: 0, State: domain.ActionFailed, TaskID: &stale},
	}}); err != nil {
		t.Fatal(err)
	}
	got, _ := b.s.RunGet(b.ctx, r.ID)
	if got.Actions[0].Generation != 1 || got.Actions[0].TaskID != "" || got.Actions[0].State != domain.ActionWaiting {
		t.Errorf("action %+v: a stale update applied", got.Actions[0])
	}
	if got.State != domain.RunFailed || !got.FinishedAt.Equal(finished) {
		t.Errorf("run %+v: want failed at %v", got, finished)
	}
	wantErr(t, "RunUpdate unknown", b.s.RunUpdate(b.ctx, &store.RunUpdateParams{RunID: 99999, State: domain.RunFailed}), domain.ErrNotFound)
}

func testRunList(t *testing.T, b *bundle) {
	w1, w2 := b.workflow(t, "one", start), b.workflow(t, "two", time.Time{})
	tick := start
	r1 := b.run(t, w1, &store.CronFire{WorkflowID: w1.ID, Tick: tick, Expect: start, Next: start.Add(time.Minute)})
	r2 := b.run(t, w1, nil)
	r3 := b.run(t, w2, nil)
	if err := b.s.RunUpdate(b.ctx, &store.RunUpdateParams{RunID: r2.ID, State: domain.RunCompleted}); err != nil {
		t.Fatal(err)
	}
	list := func(p store.RunListParams) []int64 {
		t.Helper()
		rs, err := b.s.RunList(b.ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	zero := time.Time{}
	for _, tc := range []struct {
		name string
		p    store.RunListParams
		want []int64
	}{
		{"all, newest first", store.RunListParams{}, []int64{r3.ID, r2.ID, r1.ID}},
		{"by workflow", store.RunListParams{WorkflowID: w1.ID}, []int64{r2.ID, r1.ID}},
		{"by state", store.RunListParams{States: []domain.RunState{domain.RunRunning, domain.RunWaiting}}, []int64{r3.ID, r1.ID}},
		{"by tick", store.RunListParams{WorkflowID: w1.ID, Tick: &tick}, []int64{r1.ID}},
		{"manual runs", store.RunListParams{WorkflowID: w1.ID, Tick: &zero}, []int64{r2.ID}},
		{"limit", store.RunListParams{Limit: 1, Offset: 1}, []int64{r2.ID}},
	} {
		if got := list(tc.p); !cmp.Equal(got, tc.want) {
			t.Errorf("RunList %s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testCronFireOnce(t *testing.T, b *bundle) {
	w := b.workflow(t, "cron", start)
	fire := store.CronFire{WorkflowID: w.ID, Tick: start, Expect: start, Next: start.Add(time.Minute)}
	r := b.run(t, w, &fire)
	// A second server firing the same tick (having read the same NextFireAt) stores nothing.
	again := &domain.Run{WorkflowID: w.ID, State: domain.RunRunning, Trigger: "cron", Tick: start,
		Actions: []*domain.Action{{Step: "a"}, {Step: "b"}}}
	err := b.s.RunInsert(b.ctx, &store.RunInsertParams{Run: again, Fire: &fire, Now: b.now})
	wantErr(t, "RunInsert of a fired tick", err, domain.ErrConflict)
	// A server with a stale NextFireAt for a new tick stores nothing either.
	err = b.s.RunInsert(b.ctx, &store.RunInsertParams{Run: &domain.Run{WorkflowID: w.ID, State: domain.RunRunning, Trigger: "cron",
		Tick: start.Add(30 * time.Second)}, Fire: &store.CronFire{WorkflowID: w.ID, Tick: start.Add(30 * time.Second), Expect: start, Next: start.Add(time.Minute)}, Now: b.now})
	wantErr(t, "RunInsert with a stale NextFireAt", err, domain.ErrConflict)
	rs, _ := b.s.RunList(b.ctx, &store.RunListParams{WorkflowID: w.ID})
	if len(rs) != 1 || rs[0].ID != r.ID {
		t.Fatalf("runs %v: want only the first fire's", rs)
	}
	// A skipped tick is recorded without a run and moves the schedule on.
	next := start.Add(time.Minute)
	if err := b.s.RunInsert(b.ctx, &store.RunInsertParams{Fire: &store.CronFire{WorkflowID: w.ID, Tick: next, Expect: next, Next: next.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	got, _ := b.s.WorkflowGet(b.ctx, w.ID)
	if !got.NextFireAt.Equal(next.Add(time.Minute)) {
		t.Errorf("NextFireAt %v, want %v", got.NextFireAt, next.Add(time.Minute))
	}
}

func testObjects(t *testing.T, b *bundle) {
	put := func(kind, name, value string) *domain.Object {
		t.Helper()
		o := &domain.Object{Kind: kind, Name: name, Value: []byte(value), UpdatedAt: b.now}
		if err := b.s.ObjectPut(b.ctx, o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	v := put(domain.ObjectVariable, "DAY", "monday")
	put(domain.ObjectConnection, "DAY", "sealed")
	b.step(time.Second)
	v2 := put(domain.ObjectVariable, "DAY", "tuesday")
	if v2.ID != v.ID {
		t.Errorf("a replaced object got id %d, want %d kept", v2.ID, v.ID)
	}
	got, err := b.s.ObjectGet(b.ctx, domain.ObjectVariable, "DAY", 0)
	if err != nil || string(got.Value) != "tuesday" || !got.UpdatedAt.Equal(b.now) {
		t.Fatalf("ObjectGet = %+v, %v", got, err)
	}
	byID, err := b.s.ObjectGet(b.ctx, domain.ObjectVariable, "", v.ID)
	if err != nil || byID.Name != "DAY" {
		t.Fatalf("ObjectGet by id = %+v, %v", byID, err)
	}
	put(domain.ObjectVariable, "A", "1")
	list, err := b.s.ObjectList(b.ctx, domain.ObjectVariable)
	if err != nil || len(list) != 2 || list[0].Name != "A" {
		t.Fatalf("ObjectList = %v, %v", list, err)
	}
	if err := b.s.ObjectDelete(b.ctx, domain.ObjectVariable, "DAY"); err != nil {
		t.Fatal(err)
	}
	_, err = b.s.ObjectGet(b.ctx, domain.ObjectVariable, "DAY", 0)
	wantErr(t, "ObjectGet deleted", err, domain.ErrNotFound)
	if err := b.s.ObjectDelete(b.ctx, domain.ObjectVariable, "DAY"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("ObjectDelete twice = %v", err)
	}
	if c, err := b.s.ObjectGet(b.ctx, domain.ObjectConnection, "DAY", 0); err != nil || string(c.Value) != "sealed" {
		t.Errorf("a connection of the same name: %+v, %v", c, err)
	}
}
