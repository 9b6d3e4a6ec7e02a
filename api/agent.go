package api

import (
	"encoding/json"
	"time"
)

// The worker protocol: plain HTTP+JSON on the agent port (8080 by default),
// documented in docs/worker-protocol.md. Every call but register carries the
// worker credential as "Authorization: Bearer <credential>". Errors use the
// native envelope's error object.
const (
	AgentRegisterPath   = "/agent/v1/register"
	AgentHeartbeatPath  = "/agent/v1/heartbeat"
	AgentLeasePath      = "/agent/v1/lease"
	AgentLogsPath       = "/agent/v1/logs"
	AgentResultsPath    = "/agent/v1/results"
	AgentDeregisterPath = "/agent/v1/deregister"
	AgentProgressPath   = "/agent/v1/progress"
)

// RegisterRequest describes a worker joining the cluster.
type RegisterRequest struct {
	// Name is the device id the worker asks for (default: its hostname). The
	// server keeps it when free, or when WorkerID+Credential prove it is the
	// same worker coming back; otherwise it picks a free variant.
	Name       string `json:"name"`
	WorkerID   string `json:"worker_id,omitempty"`  // a previous registration's id, to resume it
	Credential string `json:"credential,omitempty"` // that registration's credential

	Hostname     string            `json:"hostname"`
	Role         string            `json:"role,omitempty"`
	Platform     Platform          `json:"platform"`
	Resources    Resources         `json:"resources"`
	DetailedInfo DetailedInfo      `json:"detailed_info"`
	Queues       []string          `json:"queues"`
	Labels       map[string]string `json:"labels,omitempty"`
	TaskTypes    []string          `json:"task_types"`
	Concurrency  int               `json:"concurrency"`
	PID          int               `json:"pid"`
	Version      string            `json:"version,omitempty"`
	PoolID       int64             `json:"pool_id,omitempty"` // the pool that started it (issue 10)
}

// RegisterResponse gives the worker its id, credential and timing.
type RegisterResponse struct {
	WorkerID          string `json:"worker_id"`
	Credential        string `json:"credential"`
	HeartbeatInterval Millis `json:"heartbeat_interval_ms"`
	LeaseTTL          Millis `json:"lease_ttl_ms"`
}

// HeartbeatRequest reports resources and the leases the worker holds.
type HeartbeatRequest struct {
	Resources Resources `json:"resources"`
	Running   []Lease   `json:"running"`
}

// HeartbeatResponse renews leases and tells the worker what to stop.
type HeartbeatResponse struct {
	// Stop lists leases the worker must abandon at once, killing their
	// processes: cancelled, or expired and handed to another worker.
	Stop              []StopOrder `json:"stop"`
	Drain             bool        `json:"drain"` // take no new tasks; finish or hand back and leave
	HeartbeatInterval Millis      `json:"heartbeat_interval_ms"`
	LeaseTTL          Millis      `json:"lease_ttl_ms"`
}

// StopOrder tells a worker to abandon one lease.
type StopOrder struct {
	TaskID string `json:"task_id"`
	Epoch  int64  `json:"epoch"`
	Reason string `json:"reason"` // "cancelled", "lease_lost"
}

// Lease names one attempt of a task: every report on it carries both.
type Lease struct {
	TaskID string `json:"task_id"`
	Epoch  int64  `json:"epoch"`
}

// LeaseRequest asks for up to Max tasks, waiting up to Wait for some.
type LeaseRequest struct {
	Max  int    `json:"max"`
	Wait Millis `json:"wait_ms"`
}

// LeasedTask is one task handed to a worker.
type LeasedTask struct {
	TaskID    string          `json:"task_id"`
	Epoch     int64           `json:"epoch"`
	Attempt   int             `json:"attempt"`
	TaskType  string          `json:"task_type"`
	Payload   json.RawMessage `json:"payload"`
	Timeout   int             `json:"timeout"` // seconds
	Deadline  time.Time       `json:"lease_expires_at"`
	Queue     string          `json:"queue"`
	Priority  string          `json:"priority"`
	CreatedAt time.Time       `json:"created_at"`
}

// LeaseResponse carries the leased tasks (possibly none, after Wait).
type LeaseResponse struct {
	Tasks []LeasedTask `json:"tasks"`
	Drain bool         `json:"drain,omitempty"`
}

// LogBatch carries log lines of running tasks.
type LogBatch struct {
	Lines []AgentLogLine `json:"lines"`
}

// AgentLogLine is one line a task wrote.
type AgentLogLine struct {
	TaskID  string    `json:"task_id"`
	Epoch   int64     `json:"epoch"`
	Time    time.Time `json:"ts"`
	Stream  string    `json:"stream"` // stdout, stderr
	Message string    `json:"message"`
}

// ProgressBatch carries progress reports of running tasks. The server
// stores a task's reports at two a second on average, in bursts of two
// at most (see ProgressOutcome): a worker keeps only each task's latest
// report, sends it about once a second, and sends an attempt's last one
// just before its result.
type ProgressBatch struct {
	Reports []AgentProgress `json:"reports"`
}

// AgentProgress is how far one attempt of a task got.
type AgentProgress struct {
	TaskID   string    `json:"task_id"`
	Epoch    int64     `json:"epoch"`
	Fraction float64   `json:"fraction"`          // 0 to 1
	Message  string    `json:"message,omitempty"` // one short line; cut to 200 bytes
	Time     time.Time `json:"ts,omitzero"`
}

// ProgressBatchResponse answers a ProgressBatch, in order.
type ProgressBatchResponse struct {
	Outcomes []ProgressOutcome `json:"outcomes"`
}

// ProgressOutcome says what became of one report: "kept"; "throttled"
// (over the task's rate: send the latest later); or "stale_lease" (the
// task is not running under this lease: forget it).
type ProgressOutcome struct {
	TaskID  string `json:"task_id"`
	Epoch   int64  `json:"epoch"`
	Outcome string `json:"outcome"`
}

// ResultBatch carries finished attempts.
type ResultBatch struct {
	Results []AgentResult `json:"results"`
}

// AgentResult is one finished attempt.
type AgentResult struct {
	TaskID        string         `json:"task_id"`
	Epoch         int64          `json:"epoch"`
	Status        string         `json:"status"` // "completed" or "failed"
	Result        TaskResult     `json:"result"`
	ResourceUsage *ResourceUsage `json:"resource_usage,omitempty"`
}

// ResultOutcome says whether a result was accepted.
type ResultOutcome struct {
	TaskID   string `json:"task_id"`
	Epoch    int64  `json:"epoch"`
	Accepted bool   `json:"accepted"`
	Code     string `json:"code,omitempty"` // STALE_LEASE when refused
	Status   string `json:"status,omitempty"`
}

// ResultBatchResponse answers a ResultBatch, in order.
type ResultBatchResponse struct {
	Outcomes []ResultOutcome `json:"outcomes"`
}

// Millis is a duration carried as whole milliseconds on the wire.
type Millis int64

// Duration converts m to a time.Duration.
func (m Millis) Duration() time.Duration { return time.Duration(m) * time.Millisecond }

// MillisOf converts d to Millis.
func MillisOf(d time.Duration) Millis { return Millis(d / time.Millisecond) }
