package server

import (
	"fmt"
	"sort"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/domain"
)

// taskView is a task as the API lists it.
func taskView(t *domain.Task) api.Task {
	v := api.Task{
		TaskID:         t.ID,
		TaskType:       t.Type,
		Status:         string(t.State),
		Priority:       t.Priority.String(),
		Queue:          t.Queue,
		CreatedAt:      t.CreatedAt.UTC(),
		StartedAt:      timePtr(t.StartedAt),
		CompletedAt:    timePtr(t.CompletedAt),
		Attempt:        t.Attempt,
		MaxRetries:     t.MaxRetries,
		Timeout:        t.TimeoutSeconds,
		PinnedDevice:   t.DeviceID,
		IdempotencyKey: t.IdempotencyKey,
		OriginalTaskID: t.OriginalTaskID,
		Error:          t.Error,
		Labels:         t.Labels,
	}
	if dev := t.DeviceOf(); dev != "" {
		v.DeviceID = &dev
	}
	if d := t.ExecutionTime(); d > 0 {
		secs := float64(d.Milliseconds()) / 1000
		v.ExecutionTimeSeconds = &secs
	}
	if t.Result != nil {
		v.Result = &api.TaskResult{Output: t.Result.Output, ExitCode: t.Result.ExitCode, Error: t.Result.Error, Data: t.Result.Data}
	}
	if !t.Requirements.IsZero() {
		r := api.Requirements(t.Requirements)
		v.Requirements = &r
	}
	if t.State == domain.TaskPending && t.AvailableAt.After(t.CreatedAt) {
		v.AvailableAt = timePtr(t.AvailableAt)
	}
	return v
}

// detailedLog is document 001's detailed_log: "<time>: message" lines, the
// task's lifecycle merged in time order with what it wrote.
func detailedLog(t *domain.Task, lines []domain.LogLine) []string {
	type entry struct {
		at  time.Time
		msg string
	}
	var es []entry
	es = append(es, entry{t.CreatedAt, fmt.Sprintf("task submitted to queue %s (priority %s)", t.Queue, t.Priority)})
	if !t.StartedAt.IsZero() {
		es = append(es, entry{t.StartedAt, fmt.Sprintf("attempt %d started on %s", t.Attempt, t.DeviceOf())})
	}
	for _, l := range lines {
		msg := l.Message
		if l.Stream == "stderr" {
			msg = "[stderr] " + msg
		}
		es = append(es, entry{l.Time, msg})
	}
	if !t.CompletedAt.IsZero() {
		msg := "task " + string(t.State)
		if t.Error != "" {
			msg += ": " + t.Error
		} else if t.Result != nil && t.Result.Error != "" {
			msg += ": " + t.Result.Error
		}
		es = append(es, entry{t.CompletedAt, msg})
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].at.Before(es[j].at) })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.at.UTC().Format(time.RFC3339) + ": " + e.msg
	}
	return out
}

// deviceView is a worker as the API lists it.
func deviceView(w *domain.Worker, now time.Time) api.Device {
	d := api.Device{
		ID:          w.ID,
		Hostname:    w.Hostname,
		Status:      string(w.State),
		Role:        w.Role,
		Platform:    api.Platform(w.Platform),
		Resources:   resourcesView(w.Resources),
		Tasks:       api.DeviceTasks{Active: w.TasksActive, Completed: w.TasksCompleted, Failed: w.TasksFailed},
		LastSeen:    w.LastSeen.UTC(),
		Queues:      nonNil(w.Queues),
		Labels:      w.Labels,
		TaskTypes:   nonNil(w.TaskTypes),
		Concurrency: w.Concurrency,
		Version:     w.Version,
		PoolID:      w.PoolID,
	}
	if w.State.Live() && !w.RegisteredAt.IsZero() {
		d.UptimeSeconds = int64(now.Sub(w.RegisteredAt) / time.Second)
	}
	return d
}

func resourcesView(r domain.Resources) api.Resources {
	v := api.Resources{
		CPUCores: r.CPUCores, CPUUsage: r.CPUUsage,
		MemoryTotalGB: r.MemoryTotalGB, MemoryUsedGB: r.MemoryUsedGB,
		StorageTotalGB: r.StorageTotalGB, StorageUsedGB: r.StorageUsedGB,
	}
	if r.Battery != nil {
		v.Battery = &api.Battery{Level: r.Battery.Level, Charging: r.Battery.Charging}
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
