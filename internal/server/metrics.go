package server

import (
	"net/http"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
)

func periodParam(def string) httpapi.Param {
	return httpapi.Query("period", "string", "the period covered (default "+def+")", "1h", "24h", "7d", "30d")
}

func (s *Server) metricsRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/api/v1/cluster/metrics", Tag: "observability", Summary: "Average and peak resource use and task outcomes over a period",
			Params:   []httpapi.Param{periodParam("1h"), httpapi.Query("type", "string", "only this section", "cpu", "memory", "network", "disk", "tasks")},
			Response: api.ClusterMetrics{}, Handler: s.clusterMetrics},
		{Method: "GET", Path: "/api/v1/stats/tasks", Tag: "observability", Summary: "Task outcomes over a period, grouped",
			Params:   []httpapi.Param{periodParam("24h"), httpapi.Query("group_by", "string", "grouping (default device)", "device", "task_type", "hour")},
			Response: api.TaskStatsResponse{}, Handler: s.taskStats},
		{Method: "GET", Path: "/api/v1/stats/devices", Tag: "observability", Summary: "Device utilization, uptime and a performance ranking",
			Params: []httpapi.Param{periodParam("24h")}, Response: api.DeviceStatsResponse{}, Handler: s.deviceStats},
		{Method: "GET", Path: "/metrics", Tag: "observability", Summary: "Prometheus metrics (text exposition format)",
			Raw: "text/plain; version=0.0.4", Handler: s.prometheus},
	}
}

func (s *Server) clusterMetrics(w http.ResponseWriter, r *http.Request) error {
	p, err := s.insight.ParsePeriod(r.URL.Query().Get("period"), "1h")
	if err != nil {
		return err
	}
	typ := r.URL.Query().Get("type")
	switch typ {
	case "", "all", "cpu", "memory", "network", "disk", "tasks":
	default:
		return domain.Errorf(domain.CodeValidation, "type must be one of cpu, memory, network, disk, tasks").With("field", "type")
	}
	want := func(t string) bool { return typ == "" || typ == "all" || typ == t }
	m, err := s.insight.Metrics(r.Context(), p)
	if err != nil {
		return err
	}
	out := api.ClusterMetrics{Period: p.Name}
	if want("cpu") {
		out.Metrics.CPU = &api.Usage{AverageUsage: m.CPU.Average, PeakUsage: m.CPU.Peak, TotalCores: &m.CPU.Cores}
	}
	if want("memory") {
		out.Metrics.Memory = &api.Usage{AverageUsage: m.Memory.Average, PeakUsage: m.Memory.Peak, TotalGB: &m.Memory.TotalGB}
	}
	if want("disk") {
		out.Metrics.Disk = &api.Usage{AverageUsage: m.Disk.Average, PeakUsage: m.Disk.Peak, TotalGB: &m.Disk.TotalGB}
	}
	if want("network") {
		out.Metrics.Network = &api.NetworkMetrics{ConnectedDevices: m.Connected, TotalDevices: m.Devices,
			Heartbeats: m.Heartbeats, AvailabilityPercent: m.Availability}
	}
	if want("tasks") {
		out.Metrics.Tasks = &api.TaskMetrics{Completed: m.Tasks.Completed, Failed: m.Tasks.Failed, Cancelled: m.Tasks.Cancelled,
			AverageDurationSeconds: m.Tasks.AverageSeconds}
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) taskStats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := s.insight.ParsePeriod(q.Get("period"), "24h")
	if err != nil {
		return err
	}
	st, err := s.insight.TaskStats(r.Context(), p, q.Get("group_by"))
	if err != nil {
		return err
	}
	counts := func(g map[string]insight.Counts) map[string]api.TaskCounts {
		out := make(map[string]api.TaskCounts, len(g))
		for k, c := range g {
			out[k] = api.TaskCounts(c)
		}
		return out
	}
	out := api.TaskStats{Period: p.Name, GroupBy: st.GroupBy, ByDevice: counts(st.ByDevice),
		TotalTasks:           st.Total.Completed + st.Total.Failed + st.Total.Cancelled,
		AverageExecutionTime: st.Total.AverageSeconds, SuccessRate: st.SuccessRate}
	out.ByStatus.Completed, out.ByStatus.Failed, out.ByStatus.Cancelled = st.Total.Completed, st.Total.Failed, st.Total.Cancelled
	switch st.GroupBy {
	case insight.ByTaskType:
		out.ByTaskType = counts(st.Groups)
	case insight.ByHour:
		out.ByHour = counts(st.Groups)
	}
	envelope.OK(w, r, api.TaskStatsResponse{TaskStats: out}, "")
	return nil
}

func (s *Server) deviceStats(w http.ResponseWriter, r *http.Request) error {
	p, err := s.insight.ParsePeriod(r.URL.Query().Get("period"), "24h")
	if err != nil {
		return err
	}
	st, err := s.insight.DeviceStats(r.Context(), p)
	if err != nil {
		return err
	}
	out := api.DeviceStats{Period: p.Name, Utilization: map[string]api.DeviceUtilization{},
		PerformanceRanking: make([]api.DeviceScore, len(st.Ranking)), ScoreFormula: insight.ScoreFormula}
	for id, u := range st.Utilization {
		out.Utilization[id] = api.DeviceUtilization{CPUAvg: u.CPUAvg, MemoryAvg: u.MemoryAvg, UptimePercent: u.UptimePercent,
			TasksCompleted: u.Completed, TasksFailed: u.Failed}
	}
	for i, sc := range st.Ranking {
		out.PerformanceRanking[i] = api.DeviceScore{DeviceID: sc.DeviceID, Score: sc.Score}
	}
	envelope.OK(w, r, api.DeviceStatsResponse{DeviceStats: out}, "")
	return nil
}

func (s *Server) prometheus(w http.ResponseWriter, r *http.Request) error {
	if s.obs.Metrics == nil {
		return domain.Errorf(domain.CodeUnavailable, "metrics are not collected on this server")
	}
	s.obs.Metrics.Handler().ServeHTTP(w, r)
	return nil
}
