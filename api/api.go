// Package api holds the public wire types of Drover's native REST API
// (document 001, under /api/v1) and of the worker protocol (/agent/v1). It
// imports only the standard library: the Go SDK, the worker and any other
// client depend on it, never on the server.
package api

import (
	"encoding/json"
	"time"
)

// Envelope wraps every answer of the native API.
type Envelope struct {
	Status    string          `json:"status"` // "success" or "error"
	Data      json.RawMessage `json:"data,omitempty"`
	Message   string          `json:"message,omitempty"`
	Error     *Error          `json:"error,omitempty"`
	Timestamp time.Time       `json:"timestamp"`
	RequestID string          `json:"request_id"`
}

// Error is the error object of the native API envelope.
type Error struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Requirements restrict which devices may run a task.
type Requirements struct {
	MinCPUCores int               `json:"min_cpu_cores,omitempty"`
	MinMemoryGB float64           `json:"min_memory_gb,omitempty"`
	Platform    string            `json:"platform,omitempty"`
	Role        string            `json:"role,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// SubmitTaskRequest is the body of POST /api/v1/tasks and one item of a batch.
type SubmitTaskRequest struct {
	TaskType            string            `json:"task_type"`
	Payload             json.RawMessage   `json:"payload,omitempty"`
	Priority            string            `json:"priority,omitempty"` // low, normal (default), high, critical
	Queue               string            `json:"queue,omitempty"`    // default FifoQ
	Host                string            `json:"host,omitempty"`     // the target host: the task goes to queue pinned_{host}
	DeviceID            string            `json:"device_id,omitempty"`
	Requirements        *Requirements     `json:"requirements,omitempty"`
	Timeout             *int              `json:"timeout,omitempty"` // seconds; default from the cluster config
	MaxRetries          *int              `json:"max_retries,omitempty"`
	RetryBackoffSeconds *float64          `json:"retry_backoff_seconds,omitempty"`
	DelaySeconds        *float64          `json:"delay_seconds,omitempty"`
	RunAt               *time.Time        `json:"run_at,omitempty"`
	IdempotencyKey      string            `json:"idempotency_key,omitempty"`
	Labels              map[string]string `json:"labels,omitempty"`
}

// SubmitTaskResponse is data of POST /api/v1/tasks.
type SubmitTaskResponse struct {
	TaskID              string     `json:"task_id"`
	Status              string     `json:"status"`
	AssignedDevice      *string    `json:"assigned_device"`
	EstimatedCompletion *time.Time `json:"estimated_completion"`
	Duplicate           bool       `json:"duplicate,omitempty"` // an earlier submit with the same idempotency key
}

// SubmitBatchRequest is the body of POST /api/v1/tasks/batch.
type SubmitBatchRequest struct {
	Tasks []SubmitTaskRequest `json:"tasks"`
}

// SubmitBatchResponse is data of POST /api/v1/tasks/batch, in request order.
type SubmitBatchResponse struct {
	Tasks []SubmitTaskResponse `json:"tasks"`
	Count int                  `json:"count"`
}

// TaskResult is what a task produced.
type TaskResult struct {
	Output   string          `json:"output"`
	ExitCode int             `json:"exit_code"`
	Error    string          `json:"error,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// ResourceUsage is what a task consumed.
type ResourceUsage struct {
	PeakCPUPercent      float64 `json:"peak_cpu_percent"`
	PeakMemoryMB        float64 `json:"peak_memory_mb"`
	TotalCPUTimeSeconds float64 `json:"total_cpu_time_seconds"`
}

// Task is a task as GET /api/v1/tasks lists it and GET /api/v1/tasks/{id}
// details it (the detail adds detailed_log, resource_usage and payload).
type Task struct {
	TaskID               string            `json:"task_id"`
	TaskType             string            `json:"task_type"`
	Status               string            `json:"status"`
	DeviceID             *string           `json:"device_id"`
	Priority             string            `json:"priority"`
	Queue                string            `json:"queue"`
	CreatedAt            time.Time         `json:"created_at"`
	StartedAt            *time.Time        `json:"started_at"`
	CompletedAt          *time.Time        `json:"completed_at"`
	ExecutionTimeSeconds *float64          `json:"execution_time_seconds"`
	Result               *TaskResult       `json:"result"`
	Attempt              int               `json:"attempt"`
	MaxRetries           int               `json:"max_retries"`
	Timeout              int               `json:"timeout"`
	Requirements         *Requirements     `json:"requirements,omitempty"`
	PinnedDevice         string            `json:"pinned_device,omitempty"`
	IdempotencyKey       string            `json:"idempotency_key,omitempty"`
	OriginalTaskID       string            `json:"original_task_id,omitempty"`
	AvailableAt          *time.Time        `json:"available_at,omitempty"`
	Error                string            `json:"error,omitempty"`
	Labels               map[string]string `json:"labels,omitempty"`
	// Progress is what the current (or last) attempt last reported of how
	// far it got; absent when it reported nothing. Shown in detail only.
	Progress *TaskProgress `json:"progress,omitempty"`

	DetailedLog   []string        `json:"detailed_log,omitempty"`
	ResourceUsage *ResourceUsage  `json:"resource_usage,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
}

// TaskList is data of GET /api/v1/tasks: a page of tasks and counts over
// every task the filter matches.
type TaskList struct {
	Tasks     []Task `json:"tasks"`
	Total     int    `json:"total"`
	Pending   int    `json:"pending"`
	Running   int    `json:"running"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	Cancelled int    `json:"cancelled"`
}

// TaskDetail is data of GET /api/v1/tasks/{id}.
type TaskDetail struct {
	Task Task `json:"task"`
}

// CancelTaskResponse is data of DELETE /api/v1/tasks/{id}.
type CancelTaskResponse struct {
	CancelledTask string `json:"cancelled_task"`
	WasRunning    bool   `json:"was_running"`
}

// RetryTaskRequest is the body of POST /api/v1/tasks/{id}/retry.
type RetryTaskRequest struct {
	Priority string `json:"priority,omitempty"`
}

// RetryTaskResponse is data of POST /api/v1/tasks/{id}/retry.
type RetryTaskResponse struct {
	NewTaskID      string `json:"new_task_id"`
	OriginalTaskID string `json:"original_task_id"`
}

// LogLine is one line of a task's log.
type LogLine struct {
	Seq       int64     `json:"seq"`
	Timestamp time.Time `json:"timestamp"`
	Stream    string    `json:"stream"`
	Level     string    `json:"level"`
	Message   string    `json:"message"`
}

// TaskLogs is data of GET /api/v1/tasks/{id}/logs. Pass Cursor back as
// ?cursor= to read on.
type TaskLogs struct {
	TaskID   string        `json:"task_id"`
	Logs     []LogLine     `json:"logs"`
	Cursor   int64         `json:"cursor"`
	Status   string        `json:"status"`             // the task's state, so a follower knows when to stop
	Progress *TaskProgress `json:"progress,omitempty"` // as in the task's detail, so a follower shows it too
}

// TaskProgress is how far a running task's attempt got, as it reported.
type TaskProgress struct {
	Fraction  float64   `json:"fraction"` // 0 to 1
	Percent   float64   `json:"percent"`  // the fraction in percent, to one decimal
	Message   string    `json:"message"`
	Attempt   int       `json:"attempt"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Platform is what a device runs on.
type Platform struct {
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	PythonVersion string `json:"python_version,omitempty"`
	GoVersion     string `json:"go_version,omitempty"`
	Kernel        string `json:"kernel,omitempty"`
}

// Battery is a battery's charge.
type Battery struct {
	Level    float64 `json:"level"`
	Charging bool    `json:"charging"`
}

// Resources is a device's capacity and use.
type Resources struct {
	CPUCores       int      `json:"cpu_cores"`
	CPUUsage       float64  `json:"cpu_usage"`
	MemoryTotalGB  float64  `json:"memory_total_gb"`
	MemoryUsedGB   float64  `json:"memory_used_gb"`
	StorageTotalGB float64  `json:"storage_total_gb"`
	StorageUsedGB  float64  `json:"storage_used_gb"`
	Battery        *Battery `json:"battery,omitempty"`
}

// DeviceTasks counts a device's tasks.
type DeviceTasks struct {
	Active    int64 `json:"active"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
}

// Device is a worker as GET /api/v1/devices lists it.
type Device struct {
	ID            string            `json:"id"`
	Hostname      string            `json:"hostname"`
	Status        string            `json:"status"`
	Role          string            `json:"role"`
	Platform      Platform          `json:"platform"`
	Resources     Resources         `json:"resources"`
	Tasks         DeviceTasks       `json:"tasks"`
	LastSeen      time.Time         `json:"last_seen"`
	UptimeSeconds int64             `json:"uptime_seconds"`
	Queues        []string          `json:"queues"`
	Labels        map[string]string `json:"labels,omitempty"`
	TaskTypes     []string          `json:"task_types"`
	Concurrency   int               `json:"concurrency"`
	Version       string            `json:"version,omitempty"`
	PoolID        int64             `json:"pool_id,omitempty"` // the pool that started it (issue 10)
}

// DeviceList is data of GET /api/v1/devices.
type DeviceList struct {
	Devices []Device `json:"devices"`
	Total   int      `json:"total"`
	Online  int      `json:"online"`
	Offline int      `json:"offline"`
}

// DetailedInfo is what a device says of itself.
type DetailedInfo struct {
	Capabilities      []string `json:"capabilities"`
	NetworkInterfaces []string `json:"network_interfaces"`
	Sensors           []string `json:"sensors"`
	Battery           *Battery `json:"battery"`
}

// PerformanceHistory is a device's last 24 hours, one point per hour it
// was seen in, oldest first: Timestamps24h[i] is the start of the hour of
// the i-th point of every other series.
type PerformanceHistory struct {
	Timestamps24h  []time.Time `json:"timestamps_24h"`
	CPUUsage24h    []float64   `json:"cpu_usage_24h"`
	MemoryUsage24h []float64   `json:"memory_usage_24h"`
	TaskCount24h   []int64     `json:"task_count_24h"`
}

// DeviceDetail is a device as GET /api/v1/devices/{id} shows it: the list
// fields and, as in document 001, detailed_info and performance_history.
type DeviceDetail struct {
	Device
	DetailedInfo       DetailedInfo       `json:"detailed_info"`
	PerformanceHistory PerformanceHistory `json:"performance_history"`
}

// DeviceDetailResponse is data of GET /api/v1/devices/{id}.
type DeviceDetailResponse struct {
	Device DeviceDetail `json:"device"`
}

// RemoveDeviceResponse is data of DELETE /api/v1/devices/{id}.
type RemoveDeviceResponse struct {
	RemovedDevice  string `json:"removed_device"`
	CancelledTasks int    `json:"cancelled_tasks"`
}

// TotalResources sums the online devices' capacity.
type TotalResources struct {
	CPUCores  int     `json:"cpu_cores"`
	MemoryGB  float64 `json:"memory_gb"`
	StorageGB float64 `json:"storage_gb"`
}

// ClusterStats is the cluster summary of GET /api/v1/cluster/status.
type ClusterStats struct {
	TotalDevices     int            `json:"total_devices"`
	OnlineDevices    int            `json:"online_devices"`
	OfflineDevices   int            `json:"offline_devices"`
	HealthPercentage float64        `json:"health_percentage"`
	TotalResources   TotalResources `json:"total_resources"`
	ByRole           map[string]int `json:"by_role"`
	Uptime           string         `json:"uptime"`
	Tasks            map[string]int `json:"tasks"`
}

// ClusterStatus is data of GET /api/v1/cluster/status.
type ClusterStatus struct {
	ClusterStats ClusterStats `json:"cluster_stats"`
}

// HealthCheck is one component's health.
type HealthCheck struct {
	Status           string   `json:"status"` // healthy, warning, unhealthy
	ResponseTimeMS   *float64 `json:"response_time_ms,omitempty"`
	ConnectedDevices *int     `json:"connected_devices,omitempty"`
	CPUUsage         *float64 `json:"cpu_usage,omitempty"`
	MemoryUsage      *float64 `json:"memory_usage,omitempty"`
	Message          string   `json:"message,omitempty"`
}

// ClusterHealth is data of GET /api/v1/cluster/health.
type ClusterHealth struct {
	OverallHealth string                 `json:"overall_health"`
	Checks        map[string]HealthCheck `json:"checks"`
}
