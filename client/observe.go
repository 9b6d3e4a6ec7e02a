package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/drover-run/drover/api"
)

// Ping sends count probes through the device's control channel, each
// waiting up to timeoutSeconds (POST /devices/{id}/ping); zero values take
// the server's defaults. An offline device answers reachable=false.
func (s *DevicesService) Ping(ctx context.Context, id string, timeoutSeconds float64, count int) (*api.PingResults, error) {
	path, err := itemPath("devices", id, "/ping")
	if err != nil {
		return nil, err
	}
	var body api.PingRequest
	if timeoutSeconds > 0 {
		body.Timeout = &timeoutSeconds
	}
	if count > 0 {
		body.Count = &count
	}
	var out api.PingResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: path, body: body}, &out); err != nil {
		return nil, err
	}
	return &out.PingResults, nil
}

// Metrics returns resource use and task outcomes over period (1h, 24h, 7d,
// 30d; "" for the server's default), optionally one section (cpu, memory,
// network, disk, tasks): GET /cluster/metrics.
func (s *ClusterService) Metrics(ctx context.Context, period, typ string) (*api.ClusterMetrics, error) {
	q := url.Values{}
	setString(q, "period", period)
	setString(q, "type", typ)
	var out api.ClusterMetrics
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/cluster/metrics", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LogOptions filter GET /logs.
type LogOptions struct {
	Level     string // debug, info, warning, error: this level and above
	DeviceID  string
	Component string
	TaskID    string
	Since     string // RFC 3339 time or a duration back from now ("1h")
	Limit     int
	Cursor    int64 // from an earlier answer
	Ascending bool  // oldest first (to follow the log)
}

// Logs reads the cluster's own log (GET /logs).
func (s *ClusterService) Logs(ctx context.Context, opts LogOptions) (*api.LogList, error) {
	q := url.Values{}
	setString(q, "level", opts.Level)
	setString(q, "device_id", opts.DeviceID)
	setString(q, "component", opts.Component)
	setString(q, "task_id", opts.TaskID)
	setString(q, "since", opts.Since)
	setInt(q, "limit", opts.Limit)
	if opts.Cursor > 0 {
		q.Set("cursor", strconv.FormatInt(opts.Cursor, 10))
	}
	if opts.Ascending {
		q.Set("order", "asc")
	}
	var out api.LogList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/logs", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Config returns the cluster configuration (GET /config).
func (s *ClusterService) Config(ctx context.Context) (*api.Config, error) {
	var out api.ConfigResponse
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/config"}, &out); err != nil {
		return nil, err
	}
	return &out.Config, nil
}

// UpdateConfig changes part of the configuration (PUT /config): patch is
// any subset of the sections, e.g. map[string]any{"cluster":
// map[string]any{"heartbeat_interval": 30}}.
func (s *ClusterService) UpdateConfig(ctx context.Context, patch any) (*api.ConfigUpdateResponse, error) {
	var out api.ConfigUpdateResponse
	if err := s.c.call(ctx, request{method: http.MethodPut, path: apiPrefix + "/config", body: patch}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TaskStats returns task outcomes over period grouped by device,
// task_type or hour (GET /stats/tasks).
func (s *ClusterService) TaskStats(ctx context.Context, period, groupBy string) (*api.TaskStats, error) {
	q := url.Values{}
	setString(q, "period", period)
	setString(q, "group_by", groupBy)
	var out api.TaskStatsResponse
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/stats/tasks", query: q}, &out); err != nil {
		return nil, err
	}
	return &out.TaskStats, nil
}

// DeviceStats returns utilization and the performance ranking over period
// (GET /stats/devices).
func (s *ClusterService) DeviceStats(ctx context.Context, period string) (*api.DeviceStats, error) {
	q := url.Values{}
	setString(q, "period", period)
	var out api.DeviceStatsResponse
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/stats/devices", query: q}, &out); err != nil {
		return nil, err
	}
	return &out.DeviceStats, nil
}
