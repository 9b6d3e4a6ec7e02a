package api

import (
	"encoding/json"
	"time"
)

// Pools (issue 10): groups of workers with a desired size, under
// /api/v1/pools. Document 000 changes a pool's size with change_points.

// WorkerTemplate is what each worker of a pool is started as.
type WorkerTemplate struct {
	Queues      []string          `json:"queues,omitempty"` // default ["FifoQ"]
	Labels      map[string]string `json:"labels,omitempty"`
	Concurrency int               `json:"concurrency,omitempty"` // default 1
	AllowShell  bool              `json:"allow_shell,omitempty"`
}

// Autoscale sizes a pool from the backlog of its queues; off unless enabled.
type Autoscale struct {
	Enabled bool `json:"enabled"`
	// TasksPerWorker is the backlog one worker is sized for; 0: the
	// template's concurrency.
	TasksPerWorker int `json:"tasks_per_worker,omitempty"`
	// MaxPendingAgeSeconds adds a worker when a pending task waited longer; 0: off.
	MaxPendingAgeSeconds int `json:"max_pending_age_seconds,omitempty"`
	// CooldownSeconds is the least time between two changes; 0: 60.
	CooldownSeconds int `json:"cooldown_seconds,omitempty"`
}

// CreatePoolRequest creates a pool. ID, when set, is the id it gets.
type CreatePoolRequest struct {
	ID        int64  `json:"id,omitempty"`
	Name      string `json:"name"`
	Points    int    `json:"points"`
	MinPoints int    `json:"min_points"`
	MaxPoints int    `json:"max_points"`
	// Provider is "local" (worker processes on the server's machine) or
	// "command" (the operator's scale_up/scale_down commands).
	Provider       string          `json:"provider"`
	ProviderConfig json.RawMessage `json:"provider_config,omitempty"`
	Worker         WorkerTemplate  `json:"worker"`
	Autoscale      Autoscale       `json:"autoscale"`
	// DrainTimeoutSeconds is how long a worker being removed may finish its
	// tasks before they are handed back; 0: 30.
	DrainTimeoutSeconds int `json:"drain_timeout_seconds,omitempty"`
}

// UpdatePoolRequest changes some of a pool's settings (PATCH).
type UpdatePoolRequest struct {
	Name                *string         `json:"name,omitempty"`
	Points              *int            `json:"points,omitempty"`
	MinPoints           *int            `json:"min_points,omitempty"`
	MaxPoints           *int            `json:"max_points,omitempty"`
	Provider            *string         `json:"provider,omitempty"`
	ProviderConfig      json.RawMessage `json:"provider_config,omitempty"`
	Worker              *WorkerTemplate `json:"worker,omitempty"`
	Autoscale           *Autoscale      `json:"autoscale,omitempty"`
	DrainTimeoutSeconds *int            `json:"drain_timeout_seconds,omitempty"`
}

// ScalePoolRequest sets a pool's desired size.
type ScalePoolRequest struct {
	Points int    `json:"points"`
	Reason string `json:"reason,omitempty"`
}

// Pool is a pool as the API shows it.
type Pool struct {
	ID                  int64           `json:"id"`
	Name                string          `json:"name"`
	Points              int             `json:"points"`
	MinPoints           int             `json:"min_points"`
	MaxPoints           int             `json:"max_points"`
	Provider            string          `json:"provider"`
	ProviderConfig      json.RawMessage `json:"provider_config"`
	Worker              WorkerTemplate  `json:"worker"`
	Autoscale           Autoscale       `json:"autoscale"`
	DrainTimeoutSeconds int             `json:"drain_timeout_seconds"`
	// Running is how many of its workers are online (not draining).
	Running   int          `json:"running"`
	Workers   []PoolWorker `json:"workers"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	ScaledAt  time.Time    `json:"scaled_at"`
}

// PoolWorker is one live worker of a pool.
type PoolWorker struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"` // online, draining
	Hostname    string    `json:"hostname"`
	PID         int       `json:"pid"`
	ActiveTasks int64     `json:"active_tasks"`
	LastSeen    time.Time `json:"last_seen"`
}

// PoolResponse is data of GET/POST/PATCH /api/v1/pools[/{id}].
type PoolResponse struct {
	Pool Pool `json:"pool"`
	// Changed says whether a scale request changed the desired size
	// (asking for the size a pool has is a no-op).
	Changed *bool `json:"changed,omitempty"`
}

// PoolList is data of GET /api/v1/pools.
type PoolList struct {
	Pools []Pool `json:"pools"`
	Total int    `json:"total"`
}

// PoolEvent is one change of a pool's desired size.
type PoolEvent struct {
	ID     int64     `json:"id"`
	PoolID int64     `json:"pool_id"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	At     time.Time `json:"at"`
}

// PoolEventList is data of GET /api/v1/pools/{id}/events, newest first.
type PoolEventList struct {
	Events []PoolEvent `json:"events"`
	Total  int         `json:"total"`
}

// DeletePoolResponse is data of DELETE /api/v1/pools/{id}.
type DeletePoolResponse struct {
	DeletedPool int64 `json:"deleted_pool"`
}
