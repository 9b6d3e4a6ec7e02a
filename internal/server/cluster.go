package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/store"
)

// health answers GET /health: the API is up and its store answers.
func (s *Server) clusterRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/health", Access: httpapi.Public, Tag: "cluster",
			Summary: "API health: the server is up and its store answers", Handler: s.health},
		{Method: "GET", Path: "/ready", Access: httpapi.Public, Tag: "cluster",
			Summary: "Readiness, for load balancers", Handler: s.ready},
		{Method: "GET", Path: "/api/v1/cluster/status", Tag: "cluster", Summary: "Cluster summary",
			Response: api.ClusterStatus{}, Handler: s.clusterStatus},
		{Method: "GET", Path: "/api/v1/cluster/health", Tag: "cluster", Summary: "Health checks of the cluster's parts",
			Response: api.ClusterHealth{}, Handler: s.clusterHealth},
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	data := map[string]any{
		"status":         "healthy",
		"version":        s.version,
		"uptime_seconds": int64(time.Since(s.engine.StartedAt()) / time.Second),
	}
	if err := s.store.Ping(ctx); err != nil {
		s.log.Error("health: store unreachable", "err", err)
		return domain.Errorf(domain.CodeUnavailable, "the store does not answer")
	}
	envelope.OK(w, r, data, "")
	return nil
}

// ready answers GET /ready, for load balancers: 200 once the server can serve.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return domain.Errorf(domain.CodeUnavailable, "the store does not answer")
	}
	envelope.OK(w, r, map[string]string{"status": "ready"}, "")
	return nil
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.store.WorkerList(r.Context(), &store.WorkerListParams{})
	if err != nil {
		return err
	}
	counts, err := s.store.TaskCount(r.Context(), &store.TaskListParams{})
	if err != nil {
		return err
	}
	st := api.ClusterStats{ByRole: map[string]int{}, Tasks: map[string]int{}}
	for _, wk := range ws {
		st.TotalDevices++
		st.ByRole[wk.Role]++
		if !wk.State.Live() {
			st.OfflineDevices++
			continue
		}
		st.OnlineDevices++
		st.TotalResources.CPUCores += wk.Resources.CPUCores
		st.TotalResources.MemoryGB += wk.Resources.MemoryTotalGB
		st.TotalResources.StorageGB += wk.Resources.StorageTotalGB
	}
	if st.TotalDevices > 0 {
		st.HealthPercentage = round1(100 * float64(st.OnlineDevices) / float64(st.TotalDevices))
	}
	st.TotalResources.MemoryGB = round1(st.TotalResources.MemoryGB)
	st.TotalResources.StorageGB = round1(st.TotalResources.StorageGB)
	for _, state := range domain.TaskStates {
		st.Tasks[string(state)] = counts[state]
	}
	st.Uptime = formatUptime(time.Since(s.engine.StartedAt()))
	envelope.OK(w, r, api.ClusterStatus{ClusterStats: st}, "")
	return nil
}

// Thresholds above which resource use is a warning.
const (
	warnCPUPercent    = 80
	warnMemoryPercent = 85
)

func (s *Server) clusterHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]api.HealthCheck{}

	start := time.Now()
	dbErr := s.store.Ping(ctx)
	ms := round1(float64(time.Since(start).Microseconds()) / 1000)
	db := api.HealthCheck{Status: "healthy", ResponseTimeMS: &ms}
	if dbErr != nil {
		db = api.HealthCheck{Status: "unhealthy", Message: "the store does not answer"}
	}
	checks["database"] = db

	var online, total int
	var cpu, mem float64
	if dbErr == nil {
		ws, err := s.store.WorkerList(ctx, &store.WorkerListParams{})
		if err != nil {
			return err
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
	network := api.HealthCheck{Status: "healthy", ConnectedDevices: &online}
	switch {
	case online == 0:
		network.Status, network.Message = "warning", "no device is online"
	case online < total:
		network.Status, network.Message = "warning", fmt.Sprintf("%d of %d devices are offline", total-online, total)
	}
	checks["network"] = network

	res := api.HealthCheck{Status: "healthy"}
	if online > 0 {
		cpu, mem = round1(cpu/float64(online)), round1(mem/float64(online))
		res.CPUUsage, res.MemoryUsage = &cpu, &mem
		if cpu > warnCPUPercent || mem > warnMemoryPercent {
			res.Status = "warning"
		}
	}
	checks["resources"] = res

	overall := "healthy"
	for _, c := range checks {
		switch {
		case c.Status == "unhealthy":
			overall = "unhealthy"
		case c.Status == "warning" && overall == "healthy":
			overall = "degraded"
		}
	}
	envelope.OK(w, r, api.ClusterHealth{OverallHealth: overall, Checks: checks}, "")
	return nil
}

// formatUptime writes d as document 001 does: "15d 6h 42m".
func formatUptime(d time.Duration) string {
	m := int64(d / time.Minute)
	return fmt.Sprintf("%dd %dh %dm", m/(24*60), m/60%24, m%60)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
