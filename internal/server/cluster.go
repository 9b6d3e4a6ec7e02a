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
	"github.com/drover-run/drover/internal/insight"
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
	if _, err := s.insight.Ping(ctx); err != nil {
		s.log.Error("health: the store does not answer or cannot write", "err", err)
		return storeDown(err)
	}
	envelope.OK(w, r, map[string]any{
		"status":         "healthy",
		"version":        s.version,
		"schema_version": s.schemaVersion,
		"uptime_seconds": int64(s.insight.Uptime() / time.Second),
	}, "")
	return nil
}

// ready answers GET /ready, for load balancers: 200 once the server can serve.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.insight.Ping(ctx); err != nil {
		return storeDown(err)
	}
	envelope.OK(w, r, map[string]string{"status": "ready"}, "")
	return nil
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.insight.Status(r.Context())
	if err != nil {
		return err
	}
	out := api.ClusterStats{
		TotalDevices: st.TotalDevices, OnlineDevices: st.OnlineDevices, OfflineDevices: st.OfflineDevices,
		HealthPercentage: st.HealthPercentage, ByRole: st.ByRole, Tasks: map[string]int{}, Uptime: formatUptime(st.Uptime),
	}
	out.TotalResources.CPUCores, out.TotalResources.MemoryGB, out.TotalResources.StorageGB = st.CPUCores, st.MemoryGB, st.StorageGB
	for state, n := range st.Tasks {
		out.Tasks[string(state)] = n
	}
	envelope.OK(w, r, api.ClusterStatus{ClusterStats: out}, "")
	return nil
}

func (s *Server) clusterHealth(w http.ResponseWriter, r *http.Request) error {
	h, err := s.insight.Health(r.Context())
	if err != nil {
		return err
	}
	checks := map[string]api.HealthCheck{}
	for name, c := range h.Checks {
		v := api.HealthCheck{Status: c.Status, Message: c.Message, CPUUsage: c.CPUUsage, MemoryUsage: c.MemoryUsage}
		switch name {
		case "database":
			if c.Status == insight.Healthy {
				ms := math.Round(float64(c.ResponseTime.Microseconds())/100) / 10
				v.ResponseTimeMS = &ms
			}
		case "network":
			n := c.Connected
			v.ConnectedDevices = &n
		}
		checks[name] = v
	}
	envelope.OK(w, r, api.ClusterHealth{OverallHealth: h.Overall, Checks: checks}, "")
	return nil
}

// storeDown is the answer of /health and /ready when the store fails its
// probe: STORE_UNAVAILABLE when it cannot write, SERVICE_UNAVAILABLE else.
func storeDown(err error) error {
	if e := httpapi.AsError(err); e.Code == domain.CodeStoreUnavailable {
		return domain.Errorf(domain.CodeStoreUnavailable, "the store cannot write: %s", e.Message)
	}
	return domain.Errorf(domain.CodeUnavailable, "the store does not answer")
}

// formatUptime writes d as document 001 does: "15d 6h 42m".
func formatUptime(d time.Duration) string {
	m := int64(d / time.Minute)
	return fmt.Sprintf("%dd %dh %dm", m/(24*60), m/60%24, m%60)
}
