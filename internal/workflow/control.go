package workflow

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// live reports whether an action's task may still run.
func live(a *domain.Action) bool {
	return a.TaskID != "" && (a.TaskState == domain.TaskPending || a.TaskState == domain.TaskRunning)
}

// cancel cancels an action's task; one that ended meanwhile is not an error.
func (e *Engine) cancel(ctx context.Context, a *domain.Action, why string) (bool, error) {
	if !live(a) {
		return false, nil
	}
	_, _, err := e.tasks.Cancel(ctx, a.TaskID, why)
	if err != nil {
		if domain.CodeOf(err) == domain.CodeTaskNotCancellable {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// KillRun kills a waiting or running run: its tasks are cancelled and its
// waiting steps will not run. It returns the ids of the actions interrupted
// (those whose task was pending or running); none when the run was not active.
func (e *Engine) KillRun(ctx context.Context, id int64) ([]int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.st.RunGet(ctx, id)
	if err != nil {
		return nil, notFound(err, "run", id)
	}
	return e.killLocked(ctx, r)
}

func (e *Engine) killLocked(ctx context.Context, r *domain.Run) ([]int64, error) {
	interrupted := []int64{}
	if !r.State.Active() {
		return interrupted, nil
	}
	now := e.now()
	upd := &store.RunUpdateParams{RunID: r.ID, State: domain.RunKilled, FinishedAt: &now}
	for _, a := range r.Actions {
		if a.TaskID == "" && a.State == domain.ActionWaiting {
			upd.Actions = append(upd.Actions, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation, State: domain.ActionCancelled})
		}
	}
	// The run is killed first, so no pass creates a task after this; its
	// actions are read again after, so a task a pass on another server
	// linked meanwhile is seen (and that pass, reading the run again after
	// linking, cancels what it linked later: see AdvanceRun).
	if err := e.st.RunUpdate(ctx, upd); err != nil {
		return nil, err
	}
	if again, err := e.st.RunGet(ctx, r.ID); err == nil {
		r = again
	}
	upd = &store.RunUpdateParams{RunID: r.ID}
	for _, a := range r.Actions {
		ok, err := e.cancel(ctx, a, "workflow run killed")
		if err != nil {
			return interrupted, err
		}
		if ok {
			interrupted = append(interrupted, a.ID)
			upd.Actions = append(upd.Actions, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation, State: domain.ActionCancelled})
		}
	}
	if len(upd.Actions) > 0 {
		if err := e.st.RunUpdate(ctx, upd); err != nil {
			return interrupted, err
		}
	}
	e.log.Info("workflow run killed", "run_id", r.ID, "interrupted", interrupted)
	return interrupted, nil
}

// KillWorkflow kills every active run of a workflow and returns the
// interrupted action ids.
func (e *Engine) KillWorkflow(ctx context.Context, id int64) ([]int64, error) {
	if _, err := e.Workflow(ctx, id); err != nil {
		return nil, err
	}
	runs, err := e.st.RunList(ctx, &store.RunListParams{WorkflowID: id, States: []domain.RunState{domain.RunWaiting, domain.RunRunning}})
	if err != nil {
		return nil, err
	}
	all := []int64{}
	for _, r := range runs {
		ids, err := e.KillRun(ctx, r.ID)
		if err != nil {
			return all, err
		}
		all = append(all, ids...)
	}
	return all, nil
}

// KillAction kills one action's task. It returns the action's id, or 0
// when it was not running (document 002). Its run goes on without it: the
// steps below it become upstream_failed.
func (e *Engine) KillAction(ctx context.Context, id int64) (int64, error) {
	a, err := e.Action(ctx, id)
	if err != nil {
		return 0, err
	}
	ok, err := e.cancel(ctx, a, "workflow action killed")
	if err != nil || !ok {
		return 0, err
	}
	e.Wake()
	return a.ID, nil
}

// Restart reruns a run. RestartWhole creates a new run record of the same
// workflow and returns it; RestartExceptional reruns the failed (and
// killed) steps and their descendants in the same record; RestartSteps
// reruns the actions named by actionIDs and their descendants, whatever
// their state, in the same record. Tasks of rerun actions still going are
// cancelled first.
func (e *Engine) Restart(ctx context.Context, actor domain.Actor, id int64, mode string, actionIDs []int64, starter int64) (*domain.Run, error) {
	if mode == "failed" {
		mode = RestartExceptional
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.st.RunGet(ctx, id)
	if err != nil {
		return nil, notFound(err, "run", id)
	}
	w, g, err := e.graph(ctx, r.WorkflowID)
	if err != nil {
		return nil, err
	}
	if err := e.MayRun(ctx, actor, w.Steps); err != nil {
		return nil, err
	}
	if mode == RestartWhole {
		nr := newRun(w, "restart", r.Tick)
		nr.IgnoreDeps, nr.RestartOf, nr.Creator = r.IgnoreDeps, r.ID, starter
		if nr.IgnoreDeps {
			nr.State = domain.RunRunning
		}
		if err := e.st.RunInsert(ctx, &store.RunInsertParams{Run: nr}); err != nil {
			return nil, err
		}
		e.Wake()
		return nr, nil
	}
	states := map[string]domain.ActionState{}
	var from []string
	for _, a := range r.Actions {
		states[a.Step] = a.State
		if a.TaskID != "" && a.TaskState != "" {
			states[a.Step] = domain.ActionStateOf(a.TaskState)
		}
	}
	if mode == RestartSteps {
		if len(actionIDs) == 0 {
			return nil, invalid("name at least one action to restart from").With("field", "steps")
		}
		for _, aid := range actionIDs {
			i := slices.IndexFunc(r.Actions, func(a *domain.Action) bool { return a.ID == aid })
			if i < 0 {
				return nil, invalid("action %d is not an action of run %d", aid, r.ID).With("action_id", aid)
			}
			from = append(from, r.Actions[i].Step)
		}
	}
	rerun, err := g.RestartSet(mode, states, from)
	if err != nil {
		return nil, err
	}
	if len(rerun) == 0 {
		return r, nil
	}
	zero := time.Time{}
	upd := &store.RunUpdateParams{RunID: r.ID, State: domain.RunRunning, FinishedAt: &zero}
	if r.State == domain.RunWaiting {
		upd.State = domain.RunWaiting
	}
	empty := ""
	for _, a := range r.Actions {
		if !slices.Contains(rerun, a.Step) {
			continue
		}
		if _, err := e.cancel(ctx, a, "workflow run restarted"); err != nil {
			return nil, err
		}
		upd.Actions = append(upd.Actions, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation + 1,
			State: domain.ActionWaiting, TaskID: &empty})
	}
	if err := e.st.RunUpdate(ctx, upd); err != nil {
		return nil, err
	}
	e.log.Info("workflow run restarted", "run_id", r.ID, "mode", mode, "steps", rerun, "starter", starter)
	e.Wake()
	r, err = e.st.RunGet(ctx, id)
	if err != nil {
		return nil, errors.Join(err)
	}
	return r, nil
}
