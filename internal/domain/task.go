// Package domain is Drover's vocabulary: tasks, workers and their state
// machines, placement rules and the errors every layer shares. It imports only
// the standard library, so every other package may depend on it.
package domain

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TaskState is where a task is in its life.
//
//	pending ──lease──▶ running ──result ok──▶ completed
//	   ▲                 │  │
//	   └──retry/expiry───┘  └──result failed, retries spent──▶ failed
//	pending|running ──cancel──▶ cancelled
//
// completed, failed and cancelled are terminal: nothing leaves them.
type TaskState string

// The task states.
const (
	TaskPending   TaskState = "pending"
	TaskRunning   TaskState = "running"
	TaskCompleted TaskState = "completed"
	TaskFailed    TaskState = "failed"
	TaskCancelled TaskState = "cancelled"
)

// TaskStates lists every state, in lifecycle order.
var TaskStates = []TaskState{TaskPending, TaskRunning, TaskCompleted, TaskFailed, TaskCancelled}

// Terminal reports whether no transition leaves s.
func (s TaskState) Terminal() bool {
	return s == TaskCompleted || s == TaskFailed || s == TaskCancelled
}

// Valid reports whether s is one of the task states.
func (s TaskState) Valid() bool {
	for _, v := range TaskStates {
		if s == v {
			return true
		}
	}
	return false
}

// Priority orders tasks within a queue: higher runs first.
type Priority int

// The priorities, lowest first.
const (
	PriorityLow Priority = iota
	PriorityNormal
	PriorityHigh
	PriorityCritical
)

var priorityNames = [...]string{"low", "normal", "high", "critical"}

func (p Priority) String() string {
	if p < PriorityLow || p > PriorityCritical {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// ParsePriority parses a priority name; the empty string means normal.
func ParsePriority(s string) (Priority, error) {
	if s == "" {
		return PriorityNormal, nil
	}
	for i, n := range priorityNames {
		if strings.EqualFold(s, n) {
			return Priority(i), nil
		}
	}
	return 0, fmt.Errorf("priority %q is not one of low, normal, high, critical", s)
}

// DefaultQueue is the queue a task goes to when none is named (NetPulse's FIFO queue).
const DefaultQueue = "FifoQ"

// Requirements restrict which workers may run a task.
type Requirements struct {
	MinCPUCores int               `json:"min_cpu_cores,omitempty"`
	MinMemoryGB float64           `json:"min_memory_gb,omitempty"`
	Platform    string            `json:"platform,omitempty"` // the worker's OS, e.g. "linux", "android"
	Role        string            `json:"role,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"` // every pair must be among the worker's labels
}

// IsZero reports whether r restricts nothing.
func (r Requirements) IsZero() bool {
	return r.MinCPUCores == 0 && r.MinMemoryGB == 0 && r.Platform == "" && r.Role == "" && len(r.Labels) == 0
}

// Result is what a finished attempt produced.
type Result struct {
	Output   string          `json:"output"`
	ExitCode int             `json:"exit_code"`
	Error    string          `json:"error,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"` // type-specific structured result, e.g. an http task's status
}

// ResourceUsage is what a finished attempt consumed, as its worker measured it.
type ResourceUsage struct {
	PeakCPUPercent      float64 `json:"peak_cpu_percent"`
	PeakMemoryMB        float64 `json:"peak_memory_mb"`
	TotalCPUTimeSeconds float64 `json:"total_cpu_time_seconds"`
}

// Task is one unit of work, run by one worker at a time.
//
// Invariants, held by every store:
//   - State is running exactly when LeaseOwner is set; LeaseEpoch grows by one on
//     every lease, so a write carrying an older epoch is stale and refused.
//   - A task reaches completed at most once; terminal states are absorbing.
//   - Attempt counts leases: attempt n is the n-th time the task ran.
type Task struct {
	ID             string
	Type           string
	Payload        json.RawMessage
	Priority       Priority
	Queue          string
	DeviceID       string // pin: only this worker may run the task
	Requirements   Requirements
	TimeoutSeconds int
	MaxRetries     int
	RetryBackoff   time.Duration // base of the exponential backoff between attempts
	IdempotencyKey string
	RequestHash    string // hash of the submit that created the task, to tell a replay from a conflicting reuse of its key
	OriginalTaskID string // set on a task created by retrying another
	Labels         map[string]string

	State          TaskState
	Attempt        int
	LeaseOwner     string // the worker running it
	LeaseEpoch     int64
	LeaseExpiresAt time.Time
	AvailableAt    time.Time // not leased before this (delay, retry backoff)
	LastDeviceID   string    // the worker that ran the latest attempt, kept after the lease ends

	CreatedAt   time.Time
	StartedAt   time.Time // zero until first leased; the latest attempt's start
	CompletedAt time.Time // zero until terminal

	Result        *Result
	ResourceUsage *ResourceUsage
	Error         string // why the latest attempt failed, or why it was cancelled
}

// DeviceOf is the worker a task is or was on: its lease owner, else its last runner, else its pin.
func (t *Task) DeviceOf() string {
	switch {
	case t.LeaseOwner != "":
		return t.LeaseOwner
	case t.LastDeviceID != "":
		return t.LastDeviceID
	}
	return t.DeviceID
}

// ExecutionTime is how long the latest attempt ran, or zero if it has not finished.
func (t *Task) ExecutionTime() time.Duration {
	if t.StartedAt.IsZero() || t.CompletedAt.IsZero() || t.CompletedAt.Before(t.StartedAt) {
		return 0
	}
	return t.CompletedAt.Sub(t.StartedAt)
}

// TaskRef names one lease of a task: the pair a worker must present to report on it.
type TaskRef struct {
	TaskID string `json:"task_id"`
	Epoch  int64  `json:"epoch"`
}

// LogLine is one line a task wrote, or one line about it.
type LogLine struct {
	TaskID  string
	Seq     int64 // assigned by the store, increasing per task
	Time    time.Time
	Stream  string // "stdout", "stderr" or "system"
	Level   string // "info", "error", "debug"
	Message string
}

// AttemptResult is what a worker reports of one attempt of a task, under
// the lease (Ref) it ran it with.
type AttemptResult struct {
	Ref           TaskRef
	Succeeded     bool
	Result        *Result
	ResourceUsage *ResourceUsage
}

// AttemptOutcome says what a reported result did.
type AttemptOutcome struct {
	Ref        TaskRef
	StaleLease bool      // refused: the lease was no longer held
	State      TaskState // the task's state after the result (when not stale)
	Task       *Task     // the task after the result (when not stale)
}
