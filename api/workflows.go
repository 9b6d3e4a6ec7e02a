package api

import (
	"encoding/json"
	"time"
)

// WorkflowStep is one step of a workflow: a task spec and the steps it waits for.
type WorkflowStep struct {
	Name         string          `json:"name"`
	Template     string          `json:"template,omitempty"`
	TaskType     string          `json:"task_type,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	DependsOn    []string        `json:"depends_on,omitempty"`
	Queue        string          `json:"queue,omitempty"`
	Priority     string          `json:"priority,omitempty"`
	Requirements *Requirements   `json:"requirements,omitempty"`
	Timeout      int             `json:"timeout,omitempty"` // seconds
	MaxRetries   int             `json:"max_retries,omitempty"`
	Connections  []string        `json:"connections,omitempty"` // handed to shell steps as environment
}

// CreateWorkflowRequest is the body of POST /api/v1/workflows.
type CreateWorkflowRequest struct {
	Name      string         `json:"name"`
	Schedule  string         `json:"schedule,omitempty"` // cron expression
	Timezone  string         `json:"timezone,omitempty"` // IANA zone of the schedule; default UTC
	Overlap   string         `json:"overlap,omitempty"`  // skip (default) or allow
	DependsOn []int64        `json:"depends_on,omitempty"`
	Steps     []WorkflowStep `json:"steps"`
}

// Workflow is a workflow as the API shows it.
type Workflow struct {
	ID         int64          `json:"id"`
	Name       string         `json:"name"`
	Schedule   string         `json:"schedule,omitempty"`
	Timezone   string         `json:"timezone,omitempty"`
	Overlap    string         `json:"overlap"`
	DependsOn  []int64        `json:"depends_on"`
	Steps      []WorkflowStep `json:"steps"`
	NextFireAt *time.Time     `json:"next_fire_at"`
	CreatedAt  time.Time      `json:"created_at"`
}

// WorkflowResponse is data of POST and GET /api/v1/workflows/{id}.
type WorkflowResponse struct {
	Workflow Workflow `json:"workflow"`
}

// WorkflowList is data of GET /api/v1/workflows.
type WorkflowList struct {
	Workflows []Workflow `json:"workflows"`
	Total     int        `json:"total"`
}

// DeleteWorkflowResponse is data of DELETE /api/v1/workflows/{id}.
type DeleteWorkflowResponse struct {
	Deleted            int64   `json:"deleted_workflow"`
	InterruptedActions []int64 `json:"interrupted_actions"`
}

// RunWorkflowRequest is the body of POST /api/v1/workflows/{id}/runs.
type RunWorkflowRequest struct {
	DelaySeconds       int   `json:"delay_seconds,omitempty"` // 0-60
	IgnoreDependencies bool  `json:"ignore_dependencies,omitempty"`
	Creator            int64 `json:"creator,omitempty"`
}

// RunStep is one step of a run (an action).
type RunStep struct {
	ActionID   int64  `json:"action_id"`
	Name       string `json:"name"`
	Status     string `json:"status"` // waiting, pending, running, completed, failed, cancelled, upstream_failed
	TaskID     string `json:"task_id,omitempty"`
	Generation int    `json:"generation"`
}

// StepFailure says why a step failed.
type StepFailure struct {
	ActionID int64    `json:"action_id"`
	Step     string   `json:"step"`
	TaskID   string   `json:"task_id"`
	ExitCode int      `json:"exit_code"`
	Error    string   `json:"error,omitempty"`
	LogTail  []string `json:"log_tail"`
}

// Run is one run of a workflow.
type Run struct {
	ID           int64         `json:"id"`
	WorkflowID   int64         `json:"workflow_id"`
	WorkflowName string        `json:"workflow_name"`
	Status       string        `json:"status"` // waiting, running, completed, failed, killed
	Trigger      string        `json:"trigger"`
	Tick         *time.Time    `json:"tick,omitempty"`
	DelaySeconds int           `json:"delay_seconds,omitempty"`
	RestartOf    int64         `json:"restart_of,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
	FinishedAt   *time.Time    `json:"finished_at"`
	Steps        []RunStep     `json:"steps,omitempty"`
	Failures     []StepFailure `json:"failures,omitempty"`
}

// RunResponse is data of the run routes.
type RunResponse struct {
	Run Run `json:"run"`
}

// RunList is data of GET /api/v1/runs.
type RunList struct {
	Runs  []Run `json:"runs"`
	Total int   `json:"total"`
}

// RestartRunRequest is the body of POST /api/v1/runs/{id}/restart.
type RestartRunRequest struct {
	Mode    string  `json:"mode"`            // whole, failed, steps
	Steps   []int64 `json:"steps,omitempty"` // action ids, for mode steps
	Starter int64   `json:"starter,omitempty"`
}

// KillResponse is data of the kill routes.
type KillResponse struct {
	InterruptedActions []int64 `json:"interrupted_actions"`
}

// RunLogLine is one line of a run's log.
type RunLogLine struct {
	ActionID int64     `json:"action_id"`
	Step     string    `json:"step"`
	TaskID   string    `json:"task_id"`
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Stream   string    `json:"stream"`
	Level    string    `json:"level"`
	Message  string    `json:"message"`
}

// RunLogs is data of GET /api/v1/runs/{id}/logs.
type RunLogs struct {
	Logs   []RunLogLine `json:"logs"`
	Cursor int          `json:"cursor"` // pass it back to read on
	Done   bool         `json:"done"`   // the run has ended: nothing more will come
}

// SetVariableRequest is the body of PUT /api/v1/variables/{name}.
type SetVariableRequest struct {
	Value string `json:"value"`
}

// Variable is a named value substituted as ${NAME}.
type Variable struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	UpdatedAt time.Time `json:"updated_at"`
}

// VariableList is data of GET /api/v1/variables.
type VariableList struct {
	Variables []Variable `json:"variables"`
}

// SetConnectionRequest is the body of PUT /api/v1/connections/{name}.
type SetConnectionRequest struct {
	Value string `json:"value"` // the secret; never shown again
}

// Connection is a named secret, shown without its value.
type Connection struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Env       string    `json:"env"` // the environment variable tasks get it as
	UpdatedAt time.Time `json:"updated_at"`
}

// ConnectionList is data of GET /api/v1/connections.
type ConnectionList struct {
	Connections []Connection `json:"connections"`
}

// Template is a named, reusable step spec.
type Template struct {
	ID        int64        `json:"id"`
	Name      string       `json:"name"`
	Spec      WorkflowStep `json:"spec"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// TemplateList is data of GET /api/v1/templates.
type TemplateList struct {
	Templates []Template `json:"templates"`
}
