package domain

import (
	"encoding/json"
	"time"
)

// Pool is a group of workers with a desired size (document 000's "task"
// whose node count is its points). A provider makes the workers exist; the
// reconciler brings the pool's live workers to Points.
type Pool struct {
	ID        int64
	Name      string
	Points    int // desired workers
	MinPoints int
	MaxPoints int
	// Worker is what each worker of the pool is started as.
	Worker WorkerTemplate
	// Provider names how workers are made ("local", "command");
	// ProviderConfig is that provider's own settings, as JSON.
	Provider       string
	ProviderConfig json.RawMessage
	Autoscale      Autoscale
	// DrainTimeout is how long a worker being removed may finish its running
	// tasks before they are handed back; 0 means the default (30s).
	DrainTimeout time.Duration

	CreatedAt time.Time
	UpdatedAt time.Time
	ScaledAt  time.Time // the last change of Points (the autoscaler's cooldown counts from it)
}

// WorkerTemplate is what a pool's workers are started with.
type WorkerTemplate struct {
	Queues      []string          `json:"queues"`
	Labels      map[string]string `json:"labels,omitempty"`
	Concurrency int               `json:"concurrency"`
	AllowShell  bool              `json:"allow_shell"`
}

// Autoscale drives a pool's size from the backlog of its queues. Off unless
// Enabled.
type Autoscale struct {
	Enabled bool `json:"enabled"`
	// TasksPerWorker is the backlog (pending + running tasks of the pool's
	// queues) one worker is sized for; 0 means the template's concurrency.
	TasksPerWorker int `json:"tasks_per_worker,omitempty"`
	// MaxPendingAge adds a worker when the oldest runnable pending task has
	// waited longer than this; 0 turns the rule off.
	MaxPendingAge time.Duration `json:"max_pending_age,omitempty"`
	// Cooldown is the least time between two changes of the pool's size
	// by the autoscaler, counted from the last change by anyone; 0 means 60s.
	Cooldown time.Duration `json:"cooldown,omitempty"`
}

// PoolEvent records one change of a pool's desired size: who or what asked,
// from and to, and when. Asking for the size a pool already has records
// nothing.
type PoolEvent struct {
	ID     int64
	PoolID int64
	Actor  string // "api", "change_points", "autoscaler", "cli", a key id…
	Reason string
	From   int
	To     int
	At     time.Time
}
