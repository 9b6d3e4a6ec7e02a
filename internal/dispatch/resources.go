package dispatch

import (
	"math"

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
