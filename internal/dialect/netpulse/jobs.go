package netpulse

import (
	"net/http"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/queue"
)

// Job is one job as NetPulse shows it.
type Job struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Queue      string     `json:"queue"`
	CreatedAt  *string    `json:"created_at"`
	EnqueuedAt *string    `json:"enqueued_at"`
	StartedAt  *string    `json:"started_at"`
	EndedAt    *string    `json:"ended_at"`
	Worker     *string    `json:"worker"`
	Result     *JobResult `json:"result"`
	Duration   *float64   `json:"duration"`   // seconds from start to end
	QueueTime  *float64   `json:"queue_time"` // seconds from enqueue to start
}

// JobResult is a finished job's outcome: type "success" with retval (the
// task's output), or "failed" / "cancelled" with error.
type JobResult struct {
	Type   string  `json:"type"`
	Retval *string `json:"retval"`
	Error  *string `json:"error"`
}

// CancelledJobs is data of DELETE /job.
type CancelledJobs struct {
	CancelledCount int      `json:"cancelled_count"`
	CancelledJobs  []string `json:"cancelled_jobs"`
}

// The state mapping, both ways.
var (
	statusOf = map[domain.TaskState]string{
		domain.TaskPending:   "queued",
		domain.TaskRunning:   "started",
		domain.TaskCompleted: "finished",
		domain.TaskFailed:    "failed",
		domain.TaskCancelled: "cancelled",
	}
	stateOf = map[string]domain.TaskState{
		"queued": domain.TaskPending, "started": domain.TaskRunning, "finished": domain.TaskCompleted,
		"failed": domain.TaskFailed, "cancelled": domain.TaskCancelled,
		"canceled": domain.TaskCancelled, // RQ's spelling
		// RQ's waiting states are Drover's pending: delayed and retry backoff.
		"deferred": domain.TaskPending, "scheduled": domain.TaskPending,
	}
)

func (h *handlers) getJobs(w http.ResponseWriter, r *http.Request) error {
	p, err := params(r, "id", "queue", "status", "node", "host", "limit", "offset")
	if err != nil {
		return err
	}
	var q queue.JobQuery
	if q.Limit, err = httpapi.IntParam(p["limit"], "limit", queue.DefaultJobLimit, 1, queue.MaxJobLimit); err != nil {
		return err
	}
	if q.Offset, err = httpapi.IntParam(p["offset"], "offset", 0, 0, 1<<31-1); err != nil {
		return err
	}
	if st, ok := p["status"]; ok {
		state, known := stateOf[strings.ToLower(st)]
		if !known {
			return domain.Errorf(domain.CodeValidation, "status '%s' is not one of queued, started, finished, failed, cancelled", st).
				With("field", "status")
		}
		q.States = []domain.TaskState{state}
	}
	if id, ok := p["id"]; ok {
		q = queue.JobQuery{ID: id} // the id overrides every other filter
	} else {
		switch name, v := first(p, "queue", "node", "host"); name {
		case "queue":
			q.Queue = v
		case "node":
			q.Node = v
		case "host":
			q.Host = v
		}
	}
	tasks, err := h.q.Jobs(r.Context(), q)
	if err != nil {
		return err
	}
	jobs := make([]Job, len(tasks))
	for i, t := range tasks {
		jobs[i] = h.job(t)
	}
	ok(w, r, jobs)
	return nil
}

func (h *handlers) deleteJobs(w http.ResponseWriter, r *http.Request) error {
	p, err := params(r, "id", "queue", "host")
	if err != nil {
		return err
	}
	var q queue.CancelQuery
	switch name, v := first(p, "id", "queue", "host"); name {
	case "id":
		q.ID = v
	case "queue":
		q.Queue = v
	case "host":
		q.Host = v
	default:
		return domain.Errorf(domain.CodeValidation, "name the jobs to cancel: id, queue or host")
	}
	ids, err := h.q.CancelQueued(r.Context(), auth.ActorOf(r), q)
	if err != nil {
		return err
	}
	ok(w, r, CancelledJobs{CancelledCount: len(ids), CancelledJobs: ids})
	return nil
}

// job renders a task as a NetPulse job.
func (h *handlers) job(t *domain.Task) Job {
	j := Job{
		ID: t.ID, Status: statusOf[t.State], Queue: t.Queue,
		CreatedAt: h.at(t.CreatedAt), EnqueuedAt: h.at(t.AvailableAt),
		StartedAt: h.at(t.StartedAt), EndedAt: h.at(t.CompletedAt),
	}
	// Only a worker that ran it: a queued task's pin is not its worker.
	if w := t.LeaseOwner; w != "" {
		j.Worker = &w
	} else if w := t.LastDeviceID; w != "" {
		j.Worker = &w
	}
	if t.State == domain.TaskPending {
		// A task waiting for a retry was started before; it is queued now.
		j.StartedAt, j.EndedAt = nil, nil
	}
	if j.StartedAt != nil && j.EndedAt != nil && !t.CompletedAt.Before(t.StartedAt) {
		j.Duration = seconds(t.CompletedAt.Sub(t.StartedAt))
	}
	if j.StartedAt != nil && !t.AvailableAt.IsZero() && !t.StartedAt.Before(t.AvailableAt) {
		j.QueueTime = seconds(t.StartedAt.Sub(t.AvailableAt))
	}
	switch t.State {
	case domain.TaskCompleted:
		out := ""
		if t.Result != nil {
			out = t.Result.Output
		}
		j.Result = &JobResult{Type: "success", Retval: &out}
	case domain.TaskFailed, domain.TaskCancelled:
		res := &JobResult{Type: "failed"}
		if t.State == domain.TaskCancelled {
			res.Type = "cancelled"
		}
		if t.Result != nil && t.Result.Output != "" {
			out := t.Result.Output
			res.Retval = &out
		}
		msg := t.Error
		if msg == "" && t.Result != nil {
			msg = t.Result.Error
		}
		if msg == "" {
			msg = string(t.State)
		}
		res.Error = &msg
		j.Result = res
	}
	return j
}

// at formats t with the server's offset, as ISO 8601; zero is null.
func (h *handlers) at(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.In(h.loc).Format("2006-01-02T15:04:05.999999-07:00")
	return &s
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
