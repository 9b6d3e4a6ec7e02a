package telemetry

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
)

// Recorder turns the engine's hooks into events, history and metrics.
type Recorder struct {
	bus     *event.Bus
	sampler *Sampler
	metrics *Metrics

	mu    sync.Mutex
	state map[string]domain.WorkerState // last state seen per worker, to tell a heartbeat that brings one back
}

// NewRecorder makes a recorder over its three sinks.
func NewRecorder(bus *event.Bus, sampler *Sampler, metrics *Metrics) *Recorder {
	return &Recorder{bus: bus, sampler: sampler, metrics: metrics, state: map[string]domain.WorkerState{}}
}

// Hooks are the engine hooks that feed the recorder.
func (r *Recorder) Hooks() dispatch.Hooks {
	return dispatch.Hooks{
		TaskSubmitted:   r.taskSubmitted,
		TaskStarted:     r.taskStarted,
		TaskFinished:    r.taskFinished,
		TaskCancelled:   r.taskCancelled,
		TaskProgress:    r.taskProgress,
		WorkerChanged:   r.workerChanged,
		WorkerHeartbeat: r.workerHeartbeat,
	}
}

func data(v map[string]any) json.RawMessage {
	raw, _ := json.Marshal(v)
	return raw
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func (r *Recorder) taskSubmitted(t *domain.Task) {
	r.metrics.Task(t)
	r.bus.Publish(domain.Event{Type: domain.EventTaskSubmitted, Level: domain.LevelInfo, Component: "scheduler",
		DeviceID: t.DeviceID, TaskID: t.ID, Time: t.CreatedAt,
		Message: fmt.Sprintf("task %s submitted to queue %s", t.ID, t.Queue),
		Data:    data(map[string]any{"task_type": t.Type, "queue": t.Queue, "priority": t.Priority.String()})})
}

func (r *Recorder) taskStarted(t *domain.Task) {
	r.metrics.Task(t)
	r.bus.Publish(domain.Event{Type: domain.EventTaskStarted, Level: domain.LevelInfo, Component: "task_executor",
		DeviceID: t.LeaseOwner, TaskID: t.ID, Time: t.StartedAt,
		Message: fmt.Sprintf("task %s started on %s (attempt %d)", t.ID, t.LeaseOwner, t.Attempt),
		Data:    data(map[string]any{"task_type": t.Type, "attempt": t.Attempt, "queue": t.Queue})})
}

func (r *Recorder) taskFinished(t *domain.Task) {
	r.metrics.Task(t)
	r.sampler.TaskEnded(t)
	d := map[string]any{"task_type": t.Type, "attempt": t.Attempt, "status": string(t.State)}
	if secs := t.ExecutionTime().Seconds(); secs > 0 {
		d["execution_time_seconds"] = math.Round(secs*1000) / 1000
	}
	e := domain.Event{Component: "task_executor", DeviceID: t.DeviceOf(), TaskID: t.ID, Time: t.CompletedAt}
	switch t.State {
	case domain.TaskCompleted:
		e.Type, e.Level, e.Message = domain.EventTaskCompleted, domain.LevelInfo, fmt.Sprintf("task %s completed", t.ID)
		if t.Result != nil {
			d["exit_code"] = t.Result.ExitCode
		}
	case domain.TaskFailed:
		e.Type, e.Level, e.Message = domain.EventTaskFailed, domain.LevelError, fmt.Sprintf("task %s failed", t.ID)
		if msg := failure(t); msg != "" {
			e.Message += ": " + msg
			d["error"] = msg
		}
	default: // pending again: a failed attempt will be retried
		e.Type, e.Level, e.Message = domain.EventTaskRetrying, domain.LevelWarning, fmt.Sprintf("task %s attempt %d failed; it will be retried", t.ID, t.Attempt)
		if msg := failure(t); msg != "" {
			d["error"] = msg
		}
		e.Time = time.Time{} // the requeue's time is not on the task: the bus stamps it now
	}
	e.Data = data(d)
	r.bus.Publish(e)
}

func failure(t *domain.Task) string {
	if t.Error != "" {
		return t.Error
	}
	if t.Result != nil {
		return t.Result.Error
	}
	return ""
}

func (r *Recorder) taskCancelled(t *domain.Task) {
	r.metrics.Task(t)
	r.sampler.TaskEnded(t)
	r.bus.Publish(domain.Event{Type: domain.EventTaskCancelled, Level: domain.LevelInfo, Component: "scheduler",
		DeviceID: t.DeviceOf(), TaskID: t.ID, Time: t.CompletedAt,
		Message: fmt.Sprintf("task %s cancelled", t.ID),
		Data:    data(map[string]any{"task_type": t.Type, "reason": t.Error})})
}

// taskProgress publishes a progress report, coalesced per task: the
// stream shows the latest report about once a second.
func (r *Recorder) taskProgress(p *dispatch.ProgressReport) {
	msg := fmt.Sprintf("task %s is %.0f%% done", p.TaskID, p.Fraction*100)
	if p.Message != "" {
		msg += ": " + p.Message
	}
	r.bus.PublishLatest(domain.Event{Type: domain.EventTaskProgress, Level: domain.LevelDebug, Component: "task_executor",
		DeviceID: p.WorkerID, TaskID: p.TaskID, Time: p.Time, Message: msg,
		Data: data(map[string]any{"fraction": p.Fraction, "percent": math.Round(p.Fraction*1000) / 10, "progress_message": p.Message})})
}

func (r *Recorder) workerChanged(w *domain.Worker) {
	r.mu.Lock()
	r.state[w.ID] = w.State
	if w.State == domain.WorkerRemoved {
		delete(r.state, w.ID)
	}
	r.mu.Unlock()
	e := domain.Event{Component: "device_monitor", DeviceID: w.ID, Data: data(deviceData(w))}
	switch w.State {
	case domain.WorkerOnline:
		e.Type, e.Level, e.Message = domain.EventDeviceOnline, domain.LevelInfo, fmt.Sprintf("device %s is online", w.ID)
	case domain.WorkerOffline:
		e.Type, e.Level, e.Message = domain.EventDeviceOffline, domain.LevelWarning, fmt.Sprintf("device %s is offline (last seen %s)", w.ID, w.LastSeen.UTC().Format("2006-01-02T15:04:05Z"))
	case domain.WorkerRemoved:
		e.Type, e.Level, e.Message = domain.EventDeviceRemoved, domain.LevelInfo, fmt.Sprintf("device %s was removed", w.ID)
	default:
		e.Type, e.Level, e.Message = domain.EventDeviceUpdate, domain.LevelInfo, fmt.Sprintf("device %s is %s", w.ID, w.State)
	}
	r.bus.Publish(e)
}

func (r *Recorder) workerHeartbeat(w *domain.Worker) {
	r.sampler.Heartbeat(w)
	r.mu.Lock()
	prev, known := r.state[w.ID]
	r.state[w.ID] = w.State
	r.mu.Unlock()
	if known && prev == domain.WorkerOffline && w.State == domain.WorkerOnline {
		r.workerChanged(w)
	}
	r.bus.Publish(domain.Event{Type: domain.EventDeviceUpdate, Level: domain.LevelDebug, Component: "device_monitor",
		DeviceID: w.ID, Message: fmt.Sprintf("heartbeat from %s", w.ID), Data: data(deviceData(w))})
}

// deviceData is a device_update's fields: document 001 shows cpu_usage.
func deviceData(w *domain.Worker) map[string]any {
	res := w.Resources
	d := map[string]any{
		"status":       string(w.State),
		"cpu_usage":    round1(res.CPUUsage),
		"memory_usage": round1(percent(res.MemoryUsedGB, res.MemoryTotalGB)),
		"disk_usage":   round1(percent(res.StorageUsedGB, res.StorageTotalGB)),
		"active_tasks": w.TasksActive,
	}
	if res.Battery != nil {
		d["battery"] = map[string]any{"level": res.Battery.Level, "charging": res.Battery.Charging}
	}
	return d
}
