package api

import "time"

// Queues: /api/v1/queues. A queue exists as soon as a task or a worker names
// it; FifoQ is the default, and pinned_{host} holds the tasks bound to one
// target host (submitted with "host", served by workers started with
// --pin-host). A paused queue admits tasks but leases none.

// Queue is one queue with its counts.
type Queue struct {
	Name     string     `json:"name"`
	Host     string     `json:"host,omitempty"` // the target host of a pinned queue
	Paused   bool       `json:"paused"`
	PausedAt *time.Time `json:"paused_at,omitempty"`
	// Counts holds the number of tasks in each state: pending, running,
	// completed, failed, cancelled (every state present).
	Counts map[string]int64 `json:"counts"`
	// OldestPendingAgeSeconds is how long the oldest pending task has been
	// available without being leased (0 when none waits).
	OldestPendingAgeSeconds float64 `json:"oldest_pending_age_seconds"`
	Workers                 int     `json:"workers"`      // registered workers serving it
	LiveWorkers             int     `json:"live_workers"` // of those, online or draining
}

// QueueList is data of GET /api/v1/queues.
type QueueList struct {
	Queues []Queue `json:"queues"`
	Total  int     `json:"total"`
}

// QueueResponse is data of GET /api/v1/queues/{name} and of pause and resume.
type QueueResponse struct {
	Queue Queue `json:"queue"`
}

// WorkerStateResponse is data of POST /api/v1/devices/{id}/suspend and
// /resume: the worker's status as document 003 names it (busy, idle,
// suspended, dead).
type WorkerStateResponse struct {
	DeviceID    string     `json:"device_id"`
	Status      string     `json:"status"`
	Suspended   bool       `json:"suspended"`
	SuspendedAt *time.Time `json:"suspended_at,omitempty"`
}
