package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Sealer encrypts connection secrets for the store (auth.Sealer does).
type Sealer interface {
	Seal(id, secret string) []byte
	Open(id string, sealed []byte) (string, error)
}

// Options configure New.
type Options struct {
	Store  store.Store
	Tasks  *dispatch.Service
	Logger *slog.Logger
	// Sealer seals connection secrets; nil stores them unsealed (they are
	// still never returned).
	Sealer Sealer
	// CatchUp is how late a missed cron tick may still fire after downtime;
	// default 1h. Older missed ticks are logged, not run.
	CatchUp time.Duration
	// Clock replaces the real clock, for tests.
	Clock func() time.Time
}

// Engine runs workflows. It is safe for concurrent use.
type Engine struct {
	st      store.Store
	tasks   *dispatch.Service
	log     *slog.Logger
	sealer  Sealer
	catchUp time.Duration
	clock   func() time.Time

	mu     sync.Mutex // serialises changes to runs on this server
	wake   chan struct{}
	cronCh chan struct{}

	graphMu sync.Mutex
	graphs  map[int64]*Graph // workflows never change after creation
}

// New makes an engine.
func New(opts Options) *Engine {
	e := &Engine{st: opts.Store, tasks: opts.Tasks, log: opts.Logger, sealer: opts.Sealer, catchUp: opts.CatchUp,
		clock: opts.Clock, wake: make(chan struct{}, 1), cronCh: make(chan struct{}, 1), graphs: map[int64]*Graph{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.catchUp <= 0 {
		e.catchUp = time.Hour
	}
	if e.clock == nil {
		e.clock = time.Now
	}
	return e
}

// Wake asks the advance loop for a pass soon (a task of a run ended).
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Woken delivers the wake-ups Wake sends.
func (e *Engine) Woken() <-chan struct{} { return e.wake }

// CronChanged delivers a signal when a schedule was added or removed.
func (e *Engine) CronChanged() <-chan struct{} { return e.cronCh }

func (e *Engine) now() time.Time { return e.clock().UTC().Truncate(time.Microsecond) }

// notFound is the API error for an unknown id.
func notFound(err error, what string, id int64) error {
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Errorf(domain.CodeNotFound, "%s %d does not exist", what, id).With(strings.ReplaceAll(what, " ", "_")+"_id", id)
	}
	return err
}

// Limits.
const (
	MaxDelay      = 60 * time.Second // document 002: delay is at most 60 s
	maxNameLen    = 200
	maxDependsOn  = 100
	maxRunRetries = 100
)

// Create validates and stores a workflow; the error names the step and the
// problem. Its ID, CreatedAt and NextFireAt are set. A workflow with a
// shell step needs an actor allowed to run shell.
func (e *Engine) Create(ctx context.Context, actor domain.Actor, w *domain.Workflow) (*domain.Workflow, error) {
	if err := e.MayRun(ctx, actor, w.Steps); err != nil {
		return nil, err
	}
	w.Name = strings.TrimSpace(w.Name)
	if w.Name == "" || len(w.Name) > maxNameLen {
		return nil, invalid("name is required (at most %d characters)", maxNameLen).With("field", "name")
	}
	if w.Overlap == "" {
		w.Overlap = domain.OverlapSkip
	}
	if w.Overlap != domain.OverlapSkip && w.Overlap != domain.OverlapAllow {
		return nil, invalid("overlap %q is not one of skip, allow", w.Overlap).With("field", "overlap")
	}
	if _, err := NewGraph(w.Steps); err != nil {
		return nil, err
	}
	for _, s := range w.Steps {
		if err := checkStep(s); err != nil {
			return nil, err
		}
	}
	if len(w.DependsOn) > maxDependsOn {
		return nil, invalid("depends_on names at most %d workflows", maxDependsOn).With("field", "depends_on")
	}
	for _, up := range w.DependsOn {
		if _, err := e.st.WorkflowGet(ctx, up); err != nil {
			if errors.Is(err, domain.ErrNotFound) {
				return nil, invalid("depends_on: workflow %d does not exist", up).With("field", "depends_on").With("workflow_id", up)
			}
			return nil, err
		}
	}
	now := e.now()
	w.CreatedAt = now
	w.NextFireAt = time.Time{}
	if w.Schedule != "" || w.Timezone != "" {
		sched, loc, err := ParseSchedule(w.Schedule, w.Timezone)
		if err != nil {
			return nil, err
		}
		w.NextFireAt = sched.Next(now.In(loc)).UTC()
	}
	if err := e.st.WorkflowInsert(ctx, w); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return nil, invalid("a workflow named '%s' already exists", w.Name).With("field", "name")
		}
		return nil, err
	}
	if !w.NextFireAt.IsZero() {
		e.signalCron()
	}
	return w, nil
}

func (e *Engine) signalCron() {
	select {
	case e.cronCh <- struct{}{}:
	default:
	}
}

// checkStep validates one step's task spec, naming the step.
func checkStep(s domain.Step) error {
	at := func(err error) error {
		return invalid("step '%s': %v", s.Name, err).With("step", s.Name)
	}
	if s.TaskType == "" && s.Template == "" {
		return at(errors.New("task_type (or template) is required"))
	}
	if s.TaskType != "" && !domain.ValidTypeName(s.TaskType) {
		return at(fmt.Errorf("task_type %q is not a valid type name", s.TaskType))
	}
	if _, err := domain.ParsePriority(s.Priority); err != nil {
		return at(err)
	}
	if s.TimeoutSeconds < 0 || s.TimeoutSeconds > 7*24*3600 {
		return at(errors.New("timeout must be between 0 and 604800 seconds"))
	}
	if s.MaxRetries < 0 || s.MaxRetries > maxRunRetries {
		return at(fmt.Errorf("max_retries must be between 0 and %d", maxRunRetries))
	}
	if len(s.Payload) > 0 {
		var v any
		if err := json.Unmarshal(s.Payload, &v); err != nil {
			return at(fmt.Errorf("payload is not JSON: %v", err))
		}
		// Payloads with ${VARIABLES} are checked when their tasks are made.
		if s.Template == "" && !strings.Contains(string(s.Payload), "${") {
			if err := domain.ValidateBuiltinPayload(s.TaskType, s.Payload); err != nil {
				return at(err)
			}
		}
	}
	return nil
}

// Workflow returns one workflow.
func (e *Engine) Workflow(ctx context.Context, id int64) (*domain.Workflow, error) {
	w, err := e.st.WorkflowGet(ctx, id)
	if err != nil {
		return nil, notFound(err, "workflow", id)
	}
	return w, nil
}

// Workflows lists workflows by id.
func (e *Engine) Workflows(ctx context.Context, limit, offset int) ([]*domain.Workflow, error) {
	return e.st.WorkflowList(ctx, &store.WorkflowListParams{Limit: limit, Offset: offset})
}

// Delete kills a workflow's active runs, then removes it with its runs.
func (e *Engine) Delete(ctx context.Context, id int64) error {
	if _, err := e.Workflow(ctx, id); err != nil {
		return err
	}
	if _, err := e.KillWorkflow(ctx, id); err != nil {
		return err
	}
	if err := e.st.WorkflowDelete(ctx, id); err != nil {
		return notFound(err, "workflow", id)
	}
	e.graphMu.Lock()
	delete(e.graphs, id)
	e.graphMu.Unlock()
	e.signalCron()
	return nil
}

// graph is a workflow's validated graph, cached.
func (e *Engine) graph(ctx context.Context, id int64) (*domain.Workflow, *Graph, error) {
	w, err := e.Workflow(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	e.graphMu.Lock()
	defer e.graphMu.Unlock()
	if g, ok := e.graphs[id]; ok {
		return w, g, nil
	}
	g, err := NewGraph(w.Steps)
	if err != nil {
		return nil, nil, err
	}
	e.graphs[id] = g
	return w, g, nil
}

// RunOptions are the choices of a run started now.
type RunOptions struct {
	Delay      time.Duration // 0 to MaxDelay
	IgnoreDeps bool          // start without waiting for upstream workflows
	Creator    int64
	Actor      domain.Actor // who asks: a workflow with shell steps needs one allowed to run shell
}

// RunNow creates a run of workflow id and starts it (after Delay).
func (e *Engine) RunNow(ctx context.Context, id int64, o RunOptions) (*domain.Run, error) {
	if o.Delay < 0 || o.Delay > MaxDelay {
		return nil, invalid("delay must be between 0 and %d seconds, not %g", int(MaxDelay/time.Second), o.Delay.Seconds()).With("field", "delay")
	}
	w, err := e.Workflow(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := e.MayRun(ctx, o.Actor, w.Steps); err != nil {
		return nil, err
	}
	r := newRun(w, "manual", time.Time{})
	r.Delay, r.IgnoreDeps, r.Creator = o.Delay, o.IgnoreDeps, o.Creator
	if len(w.DependsOn) > 0 && !o.IgnoreDeps {
		r.State = domain.RunWaiting
	}
	if err := e.st.RunInsert(ctx, &store.RunInsertParams{Run: r, Now: e.now()}); err != nil {
		return nil, notFound(err, "workflow", id)
	}
	e.Wake()
	return r, nil
}

func newRun(w *domain.Workflow, trigger string, tick time.Time) *domain.Run {
	r := &domain.Run{WorkflowID: w.ID, WorkflowName: w.Name, State: domain.RunRunning, Trigger: trigger, Tick: tick}
	if len(w.DependsOn) > 0 {
		r.State = domain.RunWaiting
	}
	for _, s := range w.Steps {
		r.Actions = append(r.Actions, &domain.Action{Step: s.Name, State: domain.ActionWaiting})
	}
	return r
}

// Run returns one run with its actions.
func (e *Engine) Run(ctx context.Context, id int64) (*domain.Run, error) {
	r, err := e.st.RunGet(ctx, id)
	if err != nil {
		return nil, notFound(err, "run", id)
	}
	return r, nil
}

// RunFilter selects runs. Empty fields do not filter.
type RunFilter struct {
	WorkflowID int64
	States     []domain.RunState
	Limit      int // 0: no limit
	Offset     int
}

// Runs lists runs, newest first.
func (e *Engine) Runs(ctx context.Context, f RunFilter) ([]*domain.Run, error) {
	if f.WorkflowID != 0 {
		if _, err := e.Workflow(ctx, f.WorkflowID); err != nil {
			return nil, err
		}
	}
	return e.st.RunList(ctx, &store.RunListParams{WorkflowID: f.WorkflowID, States: f.States, Limit: f.Limit, Offset: f.Offset})
}

// Action returns one action.
func (e *Engine) Action(ctx context.Context, id int64) (*domain.Action, error) {
	a, err := e.st.ActionGet(ctx, id)
	if err != nil {
		return nil, notFound(err, "action", id)
	}
	return a, nil
}

// StepFailure says why a step failed: what a run's page shows.
type StepFailure struct {
	ActionID int64
	Step     string
	TaskID   string
	ExitCode int
	Error    string
	LogTail  []string
}

// Failures explains each failed step of r: its task's exit code, error
// and the last lines of its log.
func (e *Engine) Failures(ctx context.Context, r *domain.Run) []StepFailure {
	var out []StepFailure
	for _, a := range r.Actions {
		if a.State != domain.ActionFailed || a.TaskID == "" {
			continue
		}
		f := StepFailure{ActionID: a.ID, Step: a.Step, TaskID: a.TaskID, ExitCode: -1}
		if t, err := e.st.TaskGet(ctx, a.TaskID); err == nil {
			f.Error = t.Error
			if t.Result != nil {
				f.ExitCode = t.Result.ExitCode
				if f.Error == "" {
					f.Error = t.Result.Error
				}
			}
		}
		if lines, err := e.st.LogList(ctx, &store.LogListParams{TaskID: a.TaskID}); err == nil {
			for _, l := range lines[max(0, len(lines)-10):] {
				f.LogTail = append(f.LogTail, l.Message)
			}
		}
		out = append(out, f)
	}
	return out
}

// MayRun refuses steps the actor may not start (domain.Actor.MayRun: a shell
// step needs the exec:shell scope), a template step judged by its template's
// type as it stands now. A missing template is not refused here: the run
// fails on it with its own error.
func (e *Engine) MayRun(ctx context.Context, actor domain.Actor, steps []domain.Step) error {
	for _, st := range steps {
		typ := st.TaskType
		if st.Template != "" {
			if t, err := e.Template(ctx, st.Template); err == nil {
				typ = t.TaskType
			}
		}
		if err := actor.MayRun(typ); err != nil {
			return err
		}
	}
	return nil
}
