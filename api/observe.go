package api

import (
	"encoding/json"
	"time"
)

// Usage is average and peak use of a resource over a period, in percent.
type Usage struct {
	AverageUsage float64  `json:"average_usage"`
	PeakUsage    float64  `json:"peak_usage"`
	TotalCores   *int     `json:"total_cores,omitempty"` // cpu
	TotalGB      *float64 `json:"total_gb,omitempty"`    // memory, disk
}

// NetworkMetrics is the cluster's connectivity over a period.
type NetworkMetrics struct {
	ConnectedDevices    int     `json:"connected_devices"`    // online now
	TotalDevices        int     `json:"total_devices"`        // registered now
	Heartbeats          int64   `json:"heartbeats"`           // received over the period
	AvailabilityPercent float64 `json:"availability_percent"` // devices' seen-online time over the part of the period each was registered in
}

// TaskMetrics counts tasks that ended over a period.
type TaskMetrics struct {
	Completed              int64   `json:"completed"`
	Failed                 int64   `json:"failed"`
	Cancelled              int64   `json:"cancelled"`
	AverageDurationSeconds float64 `json:"average_duration_seconds"`
}

// Metrics is data.metrics of GET /api/v1/cluster/metrics; with ?type= only
// that section is present.
type Metrics struct {
	CPU     *Usage          `json:"cpu,omitempty"`
	Memory  *Usage          `json:"memory,omitempty"`
	Disk    *Usage          `json:"disk,omitempty"`
	Network *NetworkMetrics `json:"network,omitempty"`
	Tasks   *TaskMetrics    `json:"tasks,omitempty"`
}

// ClusterMetrics is data of GET /api/v1/cluster/metrics.
type ClusterMetrics struct {
	Metrics Metrics `json:"metrics"`
	Period  string  `json:"period"`
}

// PingRequest is the body of POST /api/v1/devices/{id}/ping.
type PingRequest struct {
	Timeout *float64 `json:"timeout,omitempty"` // seconds per probe; default 5
	Count   *int     `json:"count,omitempty"`   // probes; default 3
}

// PingProbe is one probe's round trip; TimeMS is null when it was lost.
type PingProbe struct {
	Seq    int      `json:"seq"`
	TimeMS *float64 `json:"time_ms"`
}

// PingResults is data.ping_results of POST /api/v1/devices/{id}/ping.
type PingResults struct {
	DeviceID         string      `json:"device_id"`
	Reachable        bool        `json:"reachable"`
	AverageLatencyMS *float64    `json:"average_latency_ms"`
	PacketLoss       float64     `json:"packet_loss"` // percent of probes lost
	Results          []PingProbe `json:"results"`
	Status           string      `json:"status"` // the device's state
}

// PingResponse is data of POST /api/v1/devices/{id}/ping.
type PingResponse struct {
	PingResults PingResults `json:"ping_results"`
}

// LogEntry is one entry of the cluster's log.
type LogEntry struct {
	ID        int64           `json:"id"`
	Timestamp time.Time       `json:"timestamp"`
	Level     string          `json:"level"`
	Type      string          `json:"type"`
	DeviceID  *string         `json:"device_id"`
	TaskID    string          `json:"task_id,omitempty"`
	Component string          `json:"component"`
	Message   string          `json:"message"`
	Details   json.RawMessage `json:"details"`
}

// LogList is data of GET /api/v1/logs. Pass Cursor back as ?cursor= for
// the next page (older entries, or newer with order=asc).
type LogList struct {
	Logs    []LogEntry `json:"logs"`
	Total   int        `json:"total"`
	Cursor  int64      `json:"cursor"`
	HasMore bool       `json:"has_more"`
}

// StreamEvent is one event of GET /api/v1/monitor/stream, as its data:
// line carries it. Fields beyond these depend on Type (cpu_usage for
// device_update, task_type for task events, …) and are kept in Fields.
type StreamEvent struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Level     string    `json:"level,omitempty"`
	Component string    `json:"component,omitempty"`
	DeviceID  string    `json:"device_id,omitempty"`
	TaskID    string    `json:"task_id,omitempty"`
	Message   string    `json:"message,omitempty"`
	// Fields is the whole event object, type-specific fields included.
	Fields map[string]any `json:"-"`
}

// ServerConfig is config.server.
type ServerConfig struct {
	Host           string `json:"host"`
	Port           int    `json:"port"`
	MaxConnections int    `json:"max_connections"`
	MaxStreams     int    `json:"max_streams"`
}

// ClusterTiming is config.cluster, in seconds.
type ClusterTiming struct {
	HeartbeatInterval float64 `json:"heartbeat_interval"`
	OfflineThreshold  float64 `json:"offline_threshold"`
	TaskTimeout       int     `json:"task_timeout"`
}

// LoggingConfig is config.logging.
type LoggingConfig struct {
	Level     string `json:"level"`
	MaxSize   string `json:"max_size"`
	Retention string `json:"retention"`
}

// MetricsConfig is config.metrics.
type MetricsConfig struct {
	Retention string `json:"retention"`
}

// Config is the cluster configuration.
type Config struct {
	Server  ServerConfig  `json:"server"`
	Cluster ClusterTiming `json:"cluster"`
	Logging LoggingConfig `json:"logging"`
	Metrics MetricsConfig `json:"metrics"`
}

// ConfigResponse is data of GET /api/v1/config.
type ConfigResponse struct {
	Config Config `json:"config"`
}

// ConfigUpdateResponse is data of PUT /api/v1/config.
type ConfigUpdateResponse struct {
	UpdatedFields   []string `json:"updated_fields"`
	RestartRequired bool     `json:"restart_required"`
}

// TaskCounts counts ended tasks.
type TaskCounts struct {
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Cancelled int64 `json:"cancelled"`
}

// TaskStats is data.task_stats of GET /api/v1/stats/tasks. ByDevice is
// always present, as in document 001; group_by=task_type or hour adds
// ByTaskType or ByHour.
type TaskStats struct {
	Period               string                `json:"period"`
	GroupBy              string                `json:"group_by"`
	TotalTasks           int64                 `json:"total_tasks"`
	ByStatus             TaskCounts            `json:"by_status"`
	ByDevice             map[string]TaskCounts `json:"by_device"`
	ByTaskType           map[string]TaskCounts `json:"by_task_type,omitempty"`
	ByHour               map[string]TaskCounts `json:"by_hour,omitempty"` // keyed by the hour's start, RFC 3339
	AverageExecutionTime float64               `json:"average_execution_time"`
	SuccessRate          float64               `json:"success_rate"`
}

// TaskStatsResponse is data of GET /api/v1/stats/tasks.
type TaskStatsResponse struct {
	TaskStats TaskStats `json:"task_stats"`
}

// DeviceUtilization is one device's use over the period.
type DeviceUtilization struct {
	CPUAvg         float64 `json:"cpu_avg"`
	MemoryAvg      float64 `json:"memory_avg"`
	UptimePercent  float64 `json:"uptime_percent"`
	TasksCompleted int64   `json:"tasks_completed"`
	TasksFailed    int64   `json:"tasks_failed"`
}

// DeviceScore is one place of the performance ranking.
type DeviceScore struct {
	DeviceID string  `json:"device_id"`
	Score    float64 `json:"score"`
}

// DeviceStats is data.device_stats of GET /api/v1/stats/devices.
type DeviceStats struct {
	Period             string                       `json:"period"`
	Utilization        map[string]DeviceUtilization `json:"utilization"`
	PerformanceRanking []DeviceScore                `json:"performance_ranking"`
	// ScoreFormula documents the ranking's score.
	ScoreFormula string `json:"score_formula"`
}

// DeviceStatsResponse is data of GET /api/v1/stats/devices.
type DeviceStatsResponse struct {
	DeviceStats DeviceStats `json:"device_stats"`
}
