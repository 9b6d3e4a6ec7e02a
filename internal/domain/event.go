package domain

import (
	"encoding/json"
	"strings"
	"time"
)

// Level is the severity of a cluster event, ordered: a filter by level keeps
// that level and every higher one.
type Level int

// The levels, as the API spells them: debug, info, warning, error.
const (
	LevelDebug Level = iota
	LevelInfo
	LevelWarning
	LevelError
)

// String is the level as the API spells it.
func (l Level) String() string {
	switch {
	case l <= LevelDebug:
		return "debug"
	case l == LevelInfo:
		return "info"
	case l == LevelWarning:
		return "warning"
	}
	return "error"
}

// ParseLevel reads a level's name ("warn" is accepted for warning).
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return LevelDebug, true
	case "info":
		return LevelInfo, true
	case "warning", "warn":
		return LevelWarning, true
	case "error":
		return LevelError, true
	}
	return 0, false
}

// The event types of the cluster's event log and of the live stream
// (GET /api/v1/monitor/stream). Document 001 names device_update,
// task_completed and log_entry; the rest follow the same pattern.
const (
	EventDeviceUpdate   = "device_update"
	EventDeviceOnline   = "device_online"
	EventDeviceOffline  = "device_offline"
	EventDeviceRemoved  = "device_removed"
	EventTaskSubmitted  = "task_submitted"
	EventTaskStarted    = "task_started"
	EventTaskCompleted  = "task_completed"
	EventTaskFailed     = "task_failed"
	EventTaskRetrying   = "task_retrying"
	EventTaskCancelled  = "task_cancelled"
	EventTaskProgress   = "task_progress" // coalesced: at most one a second per task
	EventLogEntry       = "log_entry"
	EventConfigUpdated  = "config_updated"
	EventPoolScaled     = "pool_scaled"
	EventRunPrefix      = "run_" // run_started, run_succeeded, … (workflows)
	EventDevicePrefix   = "device_"
	EventTaskPrefix     = "task_"
	EventPoolPrefix     = "pool_"
	EventConfigPrefix   = "config_"
	EventLogEntryPrefix = "log_"
)

// Event is one entry of the cluster's own log: a state change of a device
// or task, or a message a server or worker logged. Events are stored in
// the order their ids give, and ids are never reused, so a reader that
// remembers the last id it saw can resume exactly after it.
type Event struct {
	ID        int64
	Time      time.Time
	Type      string // one of the Event* constants
	Level     Level
	Component string // who speaks: scheduler, task_executor, device_monitor, server, worker, config
	DeviceID  string
	TaskID    string
	Message   string
	// Data is the event's type-specific fields, a JSON object merged into
	// the stream frame and shown as a log entry's details.
	Data   json.RawMessage
	Origin string // the server that recorded it
}
