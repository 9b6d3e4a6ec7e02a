package domain

import (
	"encoding/json"
	"time"
)

// Workflow is a named DAG of steps, run on demand, on a cron schedule, or
// after other workflows (document 002's "job").
type Workflow struct {
	ID        int64
	Name      string
	Schedule  string  // cron expression; empty: runs only on demand
	Timezone  string  // IANA zone the schedule is read in; empty: UTC
	DependsOn []int64 // upstream workflows whose run for the same tick must have completed
	Overlap   string  // OverlapSkip (default) or OverlapAllow: a tick while a run is active
	Steps     []Step
	// NextFireAt is the next tick of the schedule not yet fired (zero without a schedule).
	NextFireAt time.Time
	CreatedAt  time.Time
}

// The overlap policies of a scheduled workflow.
const (
	OverlapSkip  = "skip"
	OverlapAllow = "allow"
)

// Step is one node of a workflow: the spec of the task each run creates for it.
type Step struct {
	Name           string          `json:"name"`
	Template       string          `json:"template,omitempty"` // a named template the other fields override
	TaskType       string          `json:"task_type,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	DependsOn      []string        `json:"depends_on,omitempty"`
	Queue          string          `json:"queue,omitempty"`
	Priority       string          `json:"priority,omitempty"`
	Requirements   Requirements    `json:"requirements,omitzero"`
	TimeoutSeconds int             `json:"timeout,omitempty"`
	MaxRetries     int             `json:"max_retries,omitempty"`
	Connections    []string        `json:"connections,omitempty"` // handed to the task as environment
}

// RunState is where a run is: derived from its actions.
//
//	waiting ──upstream workflows done──▶ running ──▶ completed | failed
//	waiting|running ──kill──▶ killed;  failed|killed|completed ──restart──▶ running
type RunState string

// The run states.
const (
	RunWaiting   RunState = "waiting" // for upstream workflows' runs
	RunRunning   RunState = "running"
	RunCompleted RunState = "completed"
	RunFailed    RunState = "failed"
	RunKilled    RunState = "killed"
)

// Active reports whether a run may still create or run tasks.
func (s RunState) Active() bool { return s == RunWaiting || s == RunRunning }

// ActionState is where one step of one run is. pending, running, completed,
// failed and cancelled mirror the state of the step's task.
type ActionState string

// The action states.
const (
	ActionWaiting        ActionState = "waiting" // for its parents; no task yet
	ActionPending        ActionState = "pending"
	ActionRunning        ActionState = "running"
	ActionCompleted      ActionState = "completed"
	ActionFailed         ActionState = "failed"
	ActionCancelled      ActionState = "cancelled"       // killed
	ActionUpstreamFailed ActionState = "upstream_failed" // a parent failed: never runs
)

// Terminal reports whether the action will not change without a restart.
func (s ActionState) Terminal() bool {
	return s == ActionCompleted || s == ActionFailed || s == ActionCancelled || s == ActionUpstreamFailed
}

// ActionStateOf mirrors a task state.
func ActionStateOf(s TaskState) ActionState { return ActionState(s) }

// Run is one execution of a workflow (document 002's "task record").
type Run struct {
	ID           int64
	WorkflowID   int64
	WorkflowName string
	State        RunState
	Trigger      string    // "manual", "cron", "restart"
	Tick         time.Time // the schedule tick it fired for (zero for manual runs)
	Creator      int64
	Delay        time.Duration // its first tasks are not started before CreatedAt+Delay
	IgnoreDeps   bool
	RestartOf    int64 // for a WHOLE restart, the run restarted
	CreatedAt    time.Time
	FinishedAt   time.Time
	Actions      []*Action
}

// Action is one step of one run (document 002's "action"): its task is
// the current attempt; a restart gives it a new generation and a new task.
type Action struct {
	ID         int64
	RunID      int64
	Step       string
	State      ActionState
	TaskID     string // "" until its task is created
	Generation int
	// TaskState is the state of TaskID's task as the store read it with the
	// action ("" without a task): the truth State is reconciled with.
	TaskState TaskState
	UpdatedAt time.Time
}

// Kinds of named objects kept beside workflows.
const (
	ObjectVariable   = "variable"   // a value substituted as ${NAME}
	ObjectConnection = "connection" // a secret handed to tasks as environment; never shown
	ObjectTemplate   = "template"   // a reusable step spec (JSON)
)

// Object is a variable, connection or template.
type Object struct {
	ID        int64
	Kind      string
	Name      string
	Value     []byte // a connection's is sealed when the server has a key
	UpdatedAt time.Time
}
