package netpulse

import (
	"context"
	"net/http"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/queue"
)

// Worker is one worker as NetPulse shows it.
type Worker struct {
	Name               string   `json:"name"`
	Status             string   `json:"status"` // busy, idle, suspended, dead
	PID                int      `json:"pid"`
	Hostname           string   `json:"hostname"`
	Queues             []string `json:"queues"`
	LastHeartbeat      *string  `json:"last_heartbeat"`
	BirthAt            *string  `json:"birth_at"`
	SuccessfulJobCount int64    `json:"successful_job_count"`
	FailedJobCount     int64    `json:"failed_job_count"`
}

// DeletedWorker is data of DELETE /worker?name=…: the stopped worker and
// how many of its jobs were interrupted (handed back to their queues).
// Deleting by queue, node or host answers the list of stopped workers'
// names instead, as NetPulse does.
type DeletedWorker struct {
	Worker          string `json:"worker"`
	Status          string `json:"status"` // "stopped"
	InterruptedJobs int    `json:"interrupted_jobs"`
}

// workerQuery reads queue > node > host.
func workerQuery(p map[string]string) queue.WorkerQuery {
	var q queue.WorkerQuery
	switch name, v := first(p, "queue", "node", "host"); name {
	case "queue":
		q.Queue = v
	case "node":
		q.Node = v
	case "host":
		q.Host = v
	}
	return q
}

func (h *handlers) getWorkers(w http.ResponseWriter, r *http.Request) error {
	p, err := params(r, "queue", "node", "host")
	if err != nil {
		return err
	}
	vs, err := h.q.Workers(r.Context(), workerQuery(p))
	if err != nil {
		return err
	}
	out := make([]Worker, len(vs))
	for i, v := range vs {
		out[i] = Worker{
			Name: v.ID, Status: string(v.Status), PID: v.PID, Hostname: v.Hostname, Queues: v.Queues,
			LastHeartbeat: h.at(v.LastSeen), BirthAt: h.at(v.RegisteredAt),
			SuccessfulJobCount: v.TasksCompleted, FailedJobCount: v.TasksFailed,
		}
		if out[i].Queues == nil {
			out[i].Queues = []string{}
		}
	}
	ok(w, r, out)
	return nil
}

func (h *handlers) deleteWorkers(w http.ResponseWriter, r *http.Request) error {
	p, err := params(r, "name", "queue", "node", "host")
	if err != nil {
		return err
	}
	if name, given := p["name"]; given {
		return h.deleteWorker(w, r, name)
	}
	q := workerQuery(p)
	if q == (queue.WorkerQuery{}) {
		return domain.Errorf(domain.CodeValidation, "name the workers to stop: name, queue, node or host")
	}
	stopped, err := h.q.StopWorkers(r.Context(), auth.ActorOf(r), q)
	if err != nil {
		return err
	}
	names := make([]string, len(stopped))
	for i, s := range stopped {
		names[i] = s.Worker
	}
	ok(w, r, names)
	return nil
}

// deleteWorker stops one worker by name: an unknown name is a 404; a
// worker already dead is reported stopped with nothing interrupted.
func (h *handlers) deleteWorker(w http.ResponseWriter, r *http.Request, name string) error {
	st, err := h.q.StopWorker(r.Context(), auth.ActorOf(r), name)
	if err != nil {
		return err
	}
	ok(w, r, DeletedWorker{Worker: st.Worker, Status: "stopped", InterruptedJobs: len(st.Interrupted)})
	return nil
}

// HealthData is data of GET /health: an overall status and one check per
// component (document 003 lists the API, its store — Redis there — and the
// workers; the queues are Drover's addition).
type HealthData struct {
	Status        string           `json:"status"` // ok, degraded (a component warns) or error
	UptimeSeconds float64          `json:"uptime_seconds"`
	Components    HealthComponents `json:"components"`
}

// HealthComponents holds the checks.
type HealthComponents struct {
	API     HealthCheck `json:"api"`
	Store   HealthCheck `json:"store"`
	Workers HealthCheck `json:"workers"`
	Queues  HealthCheck `json:"queues"`
}

// HealthCheck is one component's check: ok, warning or error, and its figures.
type HealthCheck struct {
	Status  string         `json:"status"`
	Message string         `json:"message,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// health answers 200 while the store answers (warnings included) and 503
// when it does not, in the envelope either way.
func (h *handlers) health(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	hl := h.q.Health(ctx)
	data := HealthData{Status: "ok", UptimeSeconds: hl.Uptime.Seconds()}
	c := &data.Components
	if hl.Store.OK {
		c.Store = HealthCheck{Status: "ok", Details: map[string]any{"latency_ms": ms(hl.Store.Latency)}}
	} else {
		c.Store = HealthCheck{Status: "error", Message: hl.Store.Error}
		data.Status = "error"
	}
	live := hl.Workers.Busy + hl.Workers.Idle + hl.Workers.Suspended
	c.Workers = HealthCheck{Status: "ok", Details: map[string]any{
		"total": hl.Workers.Total, "active": live, "busy": hl.Workers.Busy, "idle": hl.Workers.Idle,
		"suspended": hl.Workers.Suspended, "dead": hl.Workers.Dead, "stale_heartbeats": hl.Workers.Stale,
		"last_heartbeat": h.at(hl.Workers.LastHeartbeat),
	}}
	switch {
	case !hl.Store.OK:
		c.Workers.Status = "unknown"
	case live == 0:
		c.Workers.Status, c.Workers.Message = "warning", "no live worker"
	case hl.Workers.Stale > 0:
		c.Workers.Status, c.Workers.Message = "warning", "some live workers have stopped heartbeating"
	}
	oldest := 0.0
	if !hl.Queues.OldestPending.IsZero() {
		oldest = max(time.Since(hl.Queues.OldestPending).Seconds(), 0)
	}
	unserved := hl.Queues.Unserved
	if unserved == nil {
		unserved = []string{}
	}
	c.Queues = HealthCheck{Status: "ok", Details: map[string]any{
		"queues": hl.Queues.Queues, "paused": hl.Queues.Paused, "queued": hl.Queues.Pending, "started": hl.Queues.Running,
		"oldest_queued_age_seconds": oldest, "unserved": unserved,
	}}
	switch {
	case !hl.Store.OK:
		c.Queues.Status = "unknown"
	case len(unserved) > 0:
		c.Queues.Status, c.Queues.Message = "warning", "queued jobs wait in queues no live worker serves"
	}
	if data.Status == "ok" && (c.Workers.Status == "warning" || c.Queues.Status == "warning") {
		data.Status = "degraded"
	}
	c.API = HealthCheck{Status: "ok", Details: map[string]any{"response_time_ms": ms(time.Since(start))}}
	if !hl.Store.OK {
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, Response{Code: http.StatusServiceUnavailable, Message: "the store does not answer", Data: data})
		return nil
	}
	ok(w, r, data)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
