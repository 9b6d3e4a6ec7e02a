package domain

import (
	"slices"
	"time"
)

// WorkerState is a worker's standing with the control plane.
//
//	online ──no heartbeat for offline_threshold──▶ offline ──heartbeat──▶ online
//	online ──drain (SIGTERM, scale-down)──▶ draining ──deregister──▶ offline
//	any ──DELETE /devices/{id}──▶ removed (its credential is void)
type WorkerState string

// The worker states.
const (
	WorkerOnline   WorkerState = "online"
	WorkerDraining WorkerState = "draining"
	WorkerOffline  WorkerState = "offline"
	WorkerRemoved  WorkerState = "removed"
)

// Live reports whether a worker in state s may hold leases.
func (s WorkerState) Live() bool { return s == WorkerOnline || s == WorkerDraining }

// Platform is what a worker runs on.
type Platform struct {
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	PythonVersion string `json:"python_version,omitempty"` // reported by Python agents, as in document 001
	GoVersion     string `json:"go_version,omitempty"`
	Kernel        string `json:"kernel,omitempty"`
}

// Battery is a battery's charge, where the OS tells it.
type Battery struct {
	Level    float64 `json:"level"`
	Charging bool    `json:"charging"`
}

// Resources is a worker's capacity and current use.
type Resources struct {
	CPUCores       int      `json:"cpu_cores"`
	CPUUsage       float64  `json:"cpu_usage"`
	MemoryTotalGB  float64  `json:"memory_total_gb"`
	MemoryUsedGB   float64  `json:"memory_used_gb"`
	StorageTotalGB float64  `json:"storage_total_gb"`
	StorageUsedGB  float64  `json:"storage_used_gb"`
	Battery        *Battery `json:"battery,omitempty"`
}

// WorkerInfo is what a worker says of itself beyond its resources.
type WorkerInfo struct {
	Capabilities      []string `json:"capabilities"`
	NetworkInterfaces []string `json:"network_interfaces"`
	Sensors           []string `json:"sensors"`
}

// Worker is an agent process on a machine (document 001's "device").
type Worker struct {
	ID             string
	Name           string
	Hostname       string
	Role           string
	Platform       Platform
	Resources      Resources
	Info           WorkerInfo
	Queues         []string
	Labels         map[string]string
	TaskTypes      []string // the task types it has handlers for
	Concurrency    int
	PID            int
	Version        string
	CredentialHash string // SHA-256 of the worker's credential; the credential itself is never stored
	PoolID         int64  // the pool that started it (0: none), recorded at registration

	State        WorkerState
	RegisteredAt time.Time
	LastSeen     time.Time

	// Counters, kept in the same transaction as the task transitions they count.
	TasksCompleted int64
	TasksFailed    int64
	TasksActive    int64 // derived from running tasks when read
}

// Handles reports whether w has a handler for task type typ.
func (w *Worker) Handles(typ string) bool { return slices.Contains(w.TaskTypes, typ) }

// Listens reports whether w leases from queue q.
func (w *Worker) Listens(q string) bool { return slices.Contains(w.Queues, q) }

// Satisfies reports whether w meets r. Resource minimums compare with the
// worker's totals, not its free capacity: they say what a machine must be, and
// concurrency says how much it takes on.
func (w *Worker) Satisfies(r Requirements) bool {
	if r.MinCPUCores > 0 && w.Resources.CPUCores < r.MinCPUCores {
		return false
	}
	// Memory is reported in GB with decimals; allow a rounding hair.
	if r.MinMemoryGB > 0 && w.Resources.MemoryTotalGB+0.05 < r.MinMemoryGB {
		return false
	}
	if r.Platform != "" && r.Platform != w.Platform.OS {
		return false
	}
	if r.Role != "" && r.Role != w.Role {
		return false
	}
	for k, v := range r.Labels {
		if got, ok := w.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// CanRun reports whether w could ever run t: it has the handler, meets the
// requirements, is the pinned device if there is one, and listens on the
// task's queue unless the task is pinned to it.
func (w *Worker) CanRun(t *Task) bool {
	if t.DeviceID != "" && t.DeviceID != w.ID {
		return false
	}
	if t.DeviceID == "" && !w.Listens(t.Queue) {
		return false
	}
	return w.Handles(t.Type) && w.Satisfies(t.Requirements)
}
