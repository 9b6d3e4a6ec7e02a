package insight

import (
	"context"
	"fmt"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Status is the cluster's summary.
type Status struct {
	TotalDevices, OnlineDevices, OfflineDevices int
	HealthPercentage                            float64 // online / total × 100
	CPUCores                                    int     // of the online devices
	MemoryGB, StorageGB                         float64
	ByRole                                      map[string]int
	Tasks                                       map[domain.TaskState]int
	Uptime                                      time.Duration
}

// Status summarises the devices and tasks.
func (s *Service) Status(ctx context.Context) (*Status, error) {
	ws, err := s.store.WorkerList(ctx, &store.WorkerListParams{})
	if err != nil {
		return nil, err
	}
	counts, err := s.store.TaskCount(ctx, &store.TaskListParams{})
	if err != nil {
		return nil, err
	}
	st := &Status{ByRole: map[string]int{}, Tasks: map[domain.TaskState]int{}, Uptime: s.Uptime()}
	seen := machines{}
	for _, wk := range ws {
		st.TotalDevices++
		st.ByRole[wk.Role]++
		if !wk.State.Live() {
			st.OfflineDevices++
			continue
		}
		st.OnlineDevices++
		if !seen.first(wk) {
			continue
		}
		st.CPUCores += wk.Resources.CPUCores
		st.MemoryGB += wk.Resources.MemoryTotalGB
		st.StorageGB += wk.Resources.StorageTotalGB
	}
	if st.TotalDevices > 0 {
		st.HealthPercentage = round1(100 * float64(st.OnlineDevices) / float64(st.TotalDevices))
	}
	st.MemoryGB, st.StorageGB = round1(st.MemoryGB), round1(st.StorageGB)
	for _, state := range domain.TaskStates {
		st.Tasks[state] = counts[state]
	}
	return st, nil
}

// Check statuses.
const (
	Healthy   = "healthy"
	Warning   = "warning"
	Unhealthy = "unhealthy"
	Degraded  = "degraded" // overall: some check warns
)

// Thresholds above which resource use is a warning.
const (
	WarnCPUPercent    = 80
	WarnMemoryPercent = 85
)

// Check is one health check's verdict.
type Check struct {
	Status  string
	Message string
	// ResponseTime is the store's answer time (database check).
	ResponseTime time.Duration
	// Connected devices (network check).
	Connected int
	// Average CPU and memory use of the online devices, in percent
	// (resources check; absent when none is online).
	CPUUsage, MemoryUsage *float64
}

// Health is every check and the overall verdict: unhealthy if any check
// is, degraded if any warns.
type Health struct {
	Overall string
	Checks  map[string]Check
}

// Health runs the health checks: the store, the devices' connectivity and
// their resource use.
func (s *Service) Health(ctx context.Context) (*Health, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h := &Health{Overall: Healthy, Checks: map[string]Check{}}
	rtt, dbErr := s.Ping(ctx)
	db := Check{Status: Healthy, ResponseTime: rtt}
	if dbErr != nil {
		db = Check{Status: Unhealthy, Message: "the store does not answer or cannot write"}
	}
	h.Checks["database"] = db

	var online, total int
	var cpu, mem float64
	if dbErr == nil {
		ws, err := s.store.WorkerList(ctx, &store.WorkerListParams{})
		if err != nil {
			return nil, err
		}
		for _, wk := range ws {
			total++
			if !wk.State.Live() {
				continue
			}
			online++
			cpu += wk.Resources.CPUUsage
			if wk.Resources.MemoryTotalGB > 0 {
				mem += 100 * wk.Resources.MemoryUsedGB / wk.Resources.MemoryTotalGB
			}
		}
	}
	network := Check{Status: Healthy, Connected: online}
	switch {
	case online == 0:
		network.Status, network.Message = Warning, "no device is online"
	case online < total:
		network.Status, network.Message = Warning, fmt.Sprintf("%d of %d devices are offline", total-online, total)
	}
	h.Checks["network"] = network

	res := Check{Status: Healthy}
	if online > 0 {
		cpu, mem = round1(cpu/float64(online)), round1(mem/float64(online))
		res.CPUUsage, res.MemoryUsage = &cpu, &mem
		if cpu > WarnCPUPercent || mem > WarnMemoryPercent {
			res.Status = Warning
		}
	}
	h.Checks["resources"] = res

	for _, c := range h.Checks {
		switch {
		case c.Status == Unhealthy:
			h.Overall = Unhealthy
		case c.Status == Warning && h.Overall == Healthy:
			h.Overall = Degraded
		}
	}
	return h, nil
}

// machines counts each machine's resources once: several workers on one
// host (drover dev's local workers, or a worker per queue) share its cores,
// memory and disk, so only the first of them adds to the totals.
type machines map[string]bool

func (m machines) first(wk *domain.Worker) bool {
	key := wk.Hostname
	if key == "" {
		key = "id:" + wk.ID
	}
	if m[key] {
		return false
	}
	m[key] = true
	return true
}
