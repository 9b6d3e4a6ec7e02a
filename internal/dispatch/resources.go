package dispatch

import (
	"math"
	"regexp"

	"github.com/drover-run/drover/internal/domain"
)

// Bounds on what a worker may report of itself: generous for any real
// machine, tight enough that sums and averages over a fleet stay finite.
const (
	maxCPUCores = 1 << 16 // cores
	maxSizeGB   = 1 << 30 // memory and storage, GB (an exabyte)
)

// validResources refuses numbers no machine has: negative, not finite,
// beyond the bounds, or a use above 100 %. A worker reports them on
// register and on every heartbeat; one wild value must not break the
// cluster's summaries for everyone.
func validResources(r domain.Resources) error {
	bad := func(field, format string, args ...any) error {
		return domain.Errorf(domain.CodeValidation, format, args...).With("field", "resources."+field)
	}
	size := func(field string, v float64) error {
		if math.IsNaN(v) || v < 0 || v > maxSizeGB {
			return bad(field, "%s must be between 0 and %d GB", field, maxSizeGB)
		}
		return nil
	}
	if r.CPUCores < 0 || r.CPUCores > maxCPUCores {
		return bad("cpu_cores", "cpu_cores must be between 0 and %d", maxCPUCores)
	}
	if math.IsNaN(r.CPUUsage) || r.CPUUsage < 0 || r.CPUUsage > 100 {
		return bad("cpu_usage", "cpu_usage is a percentage, between 0 and 100")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"memory_total_gb", r.MemoryTotalGB}, {"memory_used_gb", r.MemoryUsedGB}, {"storage_total_gb", r.StorageTotalGB}, {"storage_used_gb", r.StorageUsedGB}} {
		if err := size(f.name, f.v); err != nil {
			return err
		}
	}
	if b := r.Battery; b != nil && (math.IsNaN(b.Level) || b.Level < 0 || b.Level > 100) {
		return bad("battery.level", "battery.level is a percentage, between 0 and 100")
	}
	return nil
}

var workerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$`)

// CheckWorker validates what a worker says of itself as it registers, and
// fills in what it left out: its name (its hostname), queues (FifoQ) and
// role (compute).
func CheckWorker(w *domain.Worker) error {
	bad := func(field, format string, args ...any) error {
		return domain.Errorf(domain.CodeValidation, format, args...).With("field", field)
	}
	if w.Name == "" {
		w.Name = w.Hostname
	}
	switch {
	case !workerNameRE.MatchString(w.Name):
		return bad("name", "name must be 1 to 128 letters, digits or _.:@- starting with a letter or digit")
	case w.Concurrency < 1 || w.Concurrency > 10000:
		return bad("concurrency", "concurrency must be between 1 and 10000")
	case len(w.TaskTypes) == 0 || len(w.TaskTypes) > 1000:
		return bad("task_types", "task_types must list 1 to 1000 types")
	case len(w.Queues) > 100:
		return bad("queues", "at most 100 queues")
	case len(w.Labels) > 64:
		return bad("labels", "at most 64 labels")
	}
	for _, t := range w.TaskTypes {
		if !domain.ValidTypeName(t) {
			return bad("task_types", "task type '%s' is not a valid name", t)
		}
	}
	if len(w.Queues) == 0 {
		w.Queues = []string{domain.DefaultQueue}
	}
	if w.Role == "" {
		w.Role = "compute"
	}
	return validResources(w.Resources)
}
