package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Advance reconciles every active run with its tasks: it records the
// actions whose tasks changed, marks the steps below a failure
// upstream_failed, creates the tasks of steps whose parents completed, and
// settles the run's state. It works from stored state only and is
// idempotent, so it may run any number of times, after any crash.
func (e *Engine) Advance(ctx context.Context) error {
	runs, err := e.st.RunList(ctx, &store.RunListParams{States: []domain.RunState{domain.RunWaiting, domain.RunRunning}})
	if err != nil {
		return err
	}
	var errs []error
	for i := len(runs) - 1; i >= 0; i-- { // oldest first
		if ctx.Err() != nil {
			break
		}
		if err := e.AdvanceRun(ctx, runs[i].ID); err != nil && !errors.Is(err, domain.ErrNotFound) {
			errs = append(errs, fmt.Errorf("run %d: %w", runs[i].ID, err))
		}
	}
	return errors.Join(errs...)
}

// AdvanceRun reconciles one run.
func (e *Engine) AdvanceRun(ctx context.Context, id int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.st.RunGet(ctx, id)
	if err != nil {
		return err
	}
	w, g, err := e.graph(ctx, r.WorkflowID)
	if err != nil {
		return err
	}
	upd := &store.RunUpdateParams{RunID: r.ID, Now: e.storeNow()}
	if r.State == domain.RunWaiting {
		ok, err := e.upstreamDone(ctx, w, r)
		if err != nil || !ok {
			return err
		}
		r.State, upd.State = domain.RunRunning, domain.RunRunning
	}
	if !r.State.Active() {
		return nil
	}
	states := make(map[string]domain.ActionState, len(r.Actions))
	byStep := make(map[string]*domain.Action, len(r.Actions))
	for _, a := range r.Actions {
		byStep[a.Step] = a
		st := a.State
		if a.TaskID != "" {
			st = domain.ActionStateOf(a.TaskState)
			if a.TaskState == "" { // its task is gone (pruned): it cannot complete
				st = domain.ActionFailed
			}
		}
		if st != a.State {
			upd.Actions = append(upd.Actions, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation, State: st})
		}
		states[a.Step] = st
	}
	plan := g.Advance(states)
	for _, name := range plan.UpstreamFailed {
		a := byStep[name]
		upd.Actions = append(upd.Actions, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation, State: domain.ActionUpstreamFailed})
	}
	if len(plan.Ready) > 0 {
		ready := make([]*domain.Action, len(plan.Ready))
		for i, name := range plan.Ready {
			ready[i] = byStep[name]
		}
		ups, err := e.startSteps(ctx, w, g, r, ready)
		if err != nil {
			return err
		}
		upd.Actions = append(upd.Actions, ups...)
		// A step refused at admission failed: decide again with it.
		for _, u := range ups {
			if u.State == domain.ActionFailed {
				for _, a := range r.Actions {
					if a.ID == u.ID {
						states[a.Step] = domain.ActionFailed
					}
				}
			}
		}
		for _, name := range plan.Ready {
			if states[name] == domain.ActionWaiting {
				states[name] = domain.ActionPending
			}
		}
		plan.State = g.Advance(states).State
	}
	if plan.State != r.State {
		upd.State = plan.State
		if !plan.State.Active() {
			t := e.now()
			upd.FinishedAt = &t
		}
	}
	if upd.State == "" && len(upd.Actions) == 0 {
		return nil
	}
	if err := e.st.RunUpdate(ctx, upd); err != nil {
		return err
	}
	if len(plan.Ready) > 0 {
		e.cancelIfKilled(ctx, r.ID)
	}
	if upd.State != "" && !upd.State.Active() {
		e.log.Info("workflow run ended", "run_id", r.ID, "workflow_id", r.WorkflowID, "state", upd.State)
	}
	return nil
}

// cancelIfKilled cancels the live tasks of a run that was killed (on
// another server) while this pass created tasks for it.
func (e *Engine) cancelIfKilled(ctx context.Context, id int64) {
	r, err := e.st.RunGet(ctx, id)
	if err != nil || r.State != domain.RunKilled {
		return
	}
	upd := &store.RunUpdateParams{RunID: id}
	for _, a := range r.Actions {
		if ok, err := e.cancel(ctx, a, "workflow run killed"); err != nil {
			e.log.Warn("cancelling a task of a killed run", "run_id", id, "action_id", a.ID, "error", err)
		} else if ok || a.State == domain.ActionPending || a.State == domain.ActionRunning {
			upd.Actions = append(upd.Actions, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation, State: domain.ActionCancelled})
		}
	}
	if len(upd.Actions) > 0 {
		if err := e.st.RunUpdate(ctx, upd); err != nil {
			e.log.Warn("recording the cancelled actions of a killed run", "run_id", id, "error", err)
		}
	}
}

// storeNow is the Now for store writes: zero (the store's clock) unless a
// test clock is injected.
func (e *Engine) storeNow() time.Time { return time.Time{} }

// upstreamDone reports whether every upstream workflow's latest run for
// r's tick (for a manual run: its latest run) has completed.
func (e *Engine) upstreamDone(ctx context.Context, w *domain.Workflow, r *domain.Run) (bool, error) {
	if r.IgnoreDeps {
		return true, nil
	}
	for _, up := range w.DependsOn {
		p := &store.RunListParams{WorkflowID: up, Limit: 1}
		if !r.Tick.IsZero() {
			p.Tick = &r.Tick
		}
		runs, err := e.st.RunList(ctx, p)
		if err != nil {
			return false, err
		}
		if len(runs) == 0 || runs[0].State != domain.RunCompleted {
			return false, nil
		}
	}
	return true, nil
}

// startSteps creates the tasks of ready actions (idempotently: one task per
// action generation) and returns the actions' updates.
func (e *Engine) startSteps(ctx context.Context, w *domain.Workflow, g *Graph, r *domain.Run, ready []*domain.Action) ([]store.ActionUpdate, error) {
	env, err := e.substitutions(ctx)
	if err != nil {
		return nil, err
	}
	specs := make([]*domain.Task, 0, len(ready))
	var ups []store.ActionUpdate
	var ok []*domain.Action
	for _, a := range ready {
		step, _ := g.Step(a.Step)
		t, err := e.taskSpec(ctx, w, r, a, step, env)
		if err != nil {
			e.log.Warn("workflow step refused", "run_id", r.ID, "action_id", a.ID, "step", a.Step, "error", err)
			ups = append(ups, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation, State: domain.ActionFailed})
			continue
		}
		specs = append(specs, t)
		ok = append(ok, a)
	}
	link := func(a *domain.Action, t *domain.Task) {
		id := t.ID
		ups = append(ups, store.ActionUpdate{ID: a.ID, Expect: a.Generation, Generation: a.Generation,
			State: domain.ActionStateOf(t.State), TaskID: &id})
	}
	if len(specs) == 0 {
		return ups, nil
	}
	out, err := e.tasks.Submit(ctx, specs)
	if err == nil {
		for i, s := range out {
			link(ok[i], s.Task)
		}
		return ups, nil
	}
	var de *domain.Error
	if !errors.As(err, &de) {
		return nil, err
	}
	// One spec was refused (admission): submit one by one so the others go on.
	for i, spec := range specs {
		one, err := e.tasks.Submit(ctx, []*domain.Task{spec})
		if err != nil {
			if !errors.As(err, &de) {
				return nil, err
			}
			e.log.Warn("workflow step refused", "run_id", r.ID, "action_id", ok[i].ID, "step", ok[i].Step, "error", err)
			ups = append(ups, store.ActionUpdate{ID: ok[i].ID, Expect: ok[i].Generation, Generation: ok[i].Generation, State: domain.ActionFailed})
			continue
		}
		link(ok[i], one[0].Task)
	}
	return ups, nil
}

// IdempotencyKey is the key of an action generation's task.
func IdempotencyKey(actionID int64, generation int) string {
	return fmt.Sprintf("wf-action-%d-%d", actionID, generation)
}

// taskSpec builds the task of one action: the step over its template, with
// ${NAME} variables substituted and connections as environment.
func (e *Engine) taskSpec(ctx context.Context, w *domain.Workflow, r *domain.Run, a *domain.Action, step domain.Step, env map[string]string) (*domain.Task, error) {
	if step.Template != "" {
		base, err := e.Template(ctx, step.Template)
		if err != nil {
			return nil, err
		}
		step = overlay(*base, step)
	}
	vars := map[string]string{"RUN_ID": strconv.FormatInt(r.ID, 10), "WORKFLOW_ID": strconv.FormatInt(w.ID, 10),
		"WORKFLOW": w.Name, "ACTION_ID": strconv.FormatInt(a.ID, 10), "STEP": a.Step}
	if !r.Tick.IsZero() {
		vars["TICK"] = r.Tick.Format(time.RFC3339)
	}
	for k, v := range env {
		if _, builtin := vars[k]; !builtin {
			vars[k] = v
		}
	}
	payload := substituteJSON(step.Payload, vars)
	if len(step.Connections) > 0 {
		var err error
		if payload, err = e.withConnections(ctx, step, payload); err != nil {
			return nil, err
		}
	}
	if err := domain.ValidateBuiltinPayload(step.TaskType, payload); err != nil {
		return nil, invalid("step '%s': %v", step.Name, err)
	}
	prio, err := domain.ParsePriority(step.Priority)
	if err != nil {
		return nil, err
	}
	t := &domain.Task{
		Type:           step.TaskType,
		Payload:        payload,
		Priority:       prio,
		Queue:          substitute(step.Queue, vars),
		Requirements:   step.Requirements,
		TimeoutSeconds: step.TimeoutSeconds,
		MaxRetries:     step.MaxRetries,
		IdempotencyKey: IdempotencyKey(a.ID, a.Generation),
		Labels: map[string]string{"workflow_id": vars["WORKFLOW_ID"], "run_id": vars["RUN_ID"],
			"action_id": vars["ACTION_ID"], "step": a.Step},
	}
	if r.Delay > 0 {
		t.AvailableAt = r.CreatedAt.Add(r.Delay)
	}
	return t, nil
}

// overlay is template base with the step's own fields over it.
func overlay(base, step domain.Step) domain.Step {
	out := base
	out.Name, out.DependsOn, out.Template = step.Name, step.DependsOn, ""
	if step.TaskType != "" {
		out.TaskType = step.TaskType
	}
	if len(step.Payload) > 0 {
		out.Payload = step.Payload
	}
	if step.Queue != "" {
		out.Queue = step.Queue
	}
	if step.Priority != "" {
		out.Priority = step.Priority
	}
	if !step.Requirements.IsZero() {
		out.Requirements = step.Requirements
	}
	if step.TimeoutSeconds != 0 {
		out.TimeoutSeconds = step.TimeoutSeconds
	}
	if step.MaxRetries != 0 {
		out.MaxRetries = step.MaxRetries
	}
	if len(step.Connections) > 0 {
		out.Connections = step.Connections
	}
	return out
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// substitute replaces ${NAME} by its value; unknown names stay as written.
func substitute(s string, vars map[string]string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// substituteJSON replaces ${NAME} inside the JSON strings of raw, escaping
// each value so the payload stays valid JSON whatever the value holds.
func substituteJSON(raw json.RawMessage, vars map[string]string) json.RawMessage {
	if !bytes.Contains(raw, []byte("${")) {
		return raw
	}
	return json.RawMessage(varRef.ReplaceAllStringFunc(string(raw), func(m string) string {
		v, ok := vars[m[2:len(m)-1]]
		if !ok {
			return m
		}
		q, _ := json.Marshal(v)
		return string(q[1 : len(q)-1])
	}))
}

// withConnections adds the step's connections to a shell payload's env, one
// variable per connection, named by the connection in upper case.
func (e *Engine) withConnections(ctx context.Context, step domain.Step, payload json.RawMessage) (json.RawMessage, error) {
	var p map[string]any
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, invalid("step '%s': payload: %v", step.Name, err)
		}
	}
	if p == nil {
		p = map[string]any{}
	}
	env, _ := p["env"].(map[string]any)
	if env == nil {
		env = map[string]any{}
	}
	for _, name := range step.Connections {
		v, err := e.connectionValue(ctx, name)
		if err != nil {
			return nil, invalid("step '%s': connection '%s': %v", step.Name, name, err)
		}
		env[EnvName(name)] = v
	}
	p["env"] = env
	return json.Marshal(p)
}

// EnvName is the environment variable a connection is handed to a task as.
func EnvName(conn string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, conn)
}
