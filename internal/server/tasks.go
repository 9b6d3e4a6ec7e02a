package server

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
)

func (s *Server) taskRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/api/v1/tasks", Tag: "tasks", Summary: "Submit a task (200 with the first task when its idempotency key was used before)",
			Request: api.SubmitTaskRequest{}, Response: api.SubmitTaskResponse{}, Status: http.StatusCreated, Also: []int{http.StatusOK},
			Handler: s.submitTask},
		{Method: "GET", Path: "/api/v1/tasks", Tag: "tasks", Summary: "List tasks", Response: api.TaskList{},
			Params: []httpapi.Param{httpapi.Query("status", "string", "filter by status", "pending", "running", "completed", "failed", "cancelled", "all"),
				httpapi.Query("device_id", "string", "tasks pinned to, running on or last run on this device"),
				httpapi.Query("task_type", "string", "filter by type"), httpapi.Query("queue", "string", "filter by queue"),
				httpapi.Query("since", "string", "created at or after (RFC 3339)"),
				httpapi.Query("limit", "integer", "page size (default 50)"), httpapi.Query("offset", "integer", "page start")},
			Handler: s.listTasks},
		{Method: "POST", Path: "/api/v1/tasks/batch", Tag: "tasks", Summary: "Submit tasks, all or none",
			Request: api.SubmitBatchRequest{}, Response: api.SubmitBatchResponse{}, Status: http.StatusCreated, Handler: s.submitBatch},
		{Method: "GET", Path: "/api/v1/tasks/{id}", Tag: "tasks", Summary: "A task in detail", Response: api.TaskDetail{}, Handler: s.getTask},
		{Method: "DELETE", Path: "/api/v1/tasks/{id}", Tag: "tasks", Summary: "Cancel a pending or running task",
			Response: api.CancelTaskResponse{}, Handler: s.cancelTask},
		{Method: "POST", Path: "/api/v1/tasks/{id}/retry", Tag: "tasks", Summary: "Submit a finished task again, as a new task",
			Request: api.RetryTaskRequest{}, BodyOptional: true, Response: api.RetryTaskResponse{}, Status: http.StatusCreated, Handler: s.retryTask},
		{Method: "GET", Path: "/api/v1/tasks/{id}/logs", Tag: "tasks", Summary: "A task's output lines after a cursor", Response: api.TaskLogs{},
			Params:  []httpapi.Param{httpapi.Query("cursor", "integer", "the last seq already read"), httpapi.Query("limit", "integer", "at most this many lines")},
			Handler: s.taskLogs},
	}
}

func (s *Server) submitTask(w http.ResponseWriter, r *http.Request) error {
	var req api.SubmitTaskRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	if err := idempotencyFromHeader(r, &req); err != nil {
		return err
	}
	out, err := s.engine.SubmitRequests(r.Context(), auth.ActorOf(r), []dispatch.TaskRequest{taskRequest(&req)})
	if err != nil {
		return err
	}
	if out[0].Duplicate {
		envelope.Write(w, r, http.StatusOK, s.submitted(out[0].Task, true), "task already submitted with this idempotency key")
		return nil
	}
	envelope.OK(w, r, s.submitted(out[0].Task, false), "task submitted")
	return nil
}

func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) error {
	var req api.SubmitBatchRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	reqs := make([]dispatch.TaskRequest, len(req.Tasks))
	for i := range req.Tasks {
		reqs[i] = taskRequest(&req.Tasks[i])
	}
	out, err := s.engine.SubmitRequests(r.Context(), auth.ActorOf(r), reqs)
	if err != nil {
		return err
	}
	resp := api.SubmitBatchResponse{Tasks: make([]api.SubmitTaskResponse, len(out)), Count: len(out)}
	for i, o := range out {
		resp.Tasks[i] = s.submitted(o.Task, o.Duplicate)
	}
	envelope.OK(w, r, resp, fmt.Sprintf("%d tasks submitted", len(out)))
	return nil
}

// taskRequest is the engine's form of a submit.
func taskRequest(req *api.SubmitTaskRequest) dispatch.TaskRequest {
	t := dispatch.TaskRequest{
		Type: req.TaskType, Payload: req.Payload, Priority: req.Priority, Queue: req.Queue, Host: req.Host, DeviceID: req.DeviceID,
		Timeout: req.Timeout, MaxRetries: req.MaxRetries, RetryBackoff: req.RetryBackoffSeconds,
		Delay: req.DelaySeconds, RunAt: req.RunAt, IdempotencyKey: req.IdempotencyKey, Labels: req.Labels,
	}
	if r := req.Requirements; r != nil {
		t.Requirements = &domain.Requirements{MinCPUCores: r.MinCPUCores, MinMemoryGB: r.MinMemoryGB,
			Platform: r.Platform, Role: r.Role, Labels: r.Labels}
	}
	return t
}

// idempotencyFromHeader takes the Idempotency-Key header as the body's key;
// both given and different is a contradiction, refused.
func idempotencyFromHeader(r *http.Request, req *api.SubmitTaskRequest) error {
	h := r.Header.Get("Idempotency-Key")
	switch {
	case h == "":
	case req.IdempotencyKey == "":
		req.IdempotencyKey = h
	case req.IdempotencyKey != h:
		return domain.Errorf(domain.CodeValidation, "the Idempotency-Key header and the idempotency_key field differ").With("field", "idempotency_key")
	}
	return nil
}

func (s *Server) submitted(t *domain.Task, dup bool) api.SubmitTaskResponse {
	resp := api.SubmitTaskResponse{TaskID: t.ID, Status: string(t.State), Duplicate: dup}
	if dev := t.DeviceOf(); dev != "" {
		resp.AssignedDevice = &dev
	}
	if t.State.Terminal() {
		done := t.CompletedAt.UTC()
		resp.EstimatedCompletion = &done
	} else if d, ok := s.engine.EstimatedDuration(t.Type); ok {
		eta := t.AvailableAt.Add(d).UTC().Truncate(time.Millisecond)
		resp.EstimatedCompletion = &eta
	}
	return resp
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := dispatch.TaskFilter{
		Type: q.Get("task_type"), Queue: q.Get("queue"), DeviceID: q.Get("device_id"),
	}
	var err error
	if p.Limit, err = httpapi.IntParam(q.Get("limit"), "limit", 50, 1, 1000); err != nil {
		return err
	}
	if p.Offset, err = httpapi.IntParam(q.Get("offset"), "offset", 0, 0, 1<<30); err != nil {
		return err
	}
	if p.Since, err = httpapi.TimeParam(q.Get("since"), "since"); err != nil {
		return err
	}
	if st := q.Get("status"); st != "" && st != "all" {
		p.State = domain.TaskState(st)
		if !p.State.Valid() {
			return domain.Errorf(domain.CodeValidation, "status must be one of pending, running, completed, failed, cancelled, all").With("field", "status")
		}
	}
	page, err := s.engine.Tasks(r.Context(), p)
	if err != nil {
		return err
	}
	tasks, counts := page.Tasks, page.Counts
	out := api.TaskList{Tasks: make([]api.Task, len(tasks))}
	for i, t := range tasks {
		out.Tasks[i] = taskView(t)
	}
	for st, n := range counts {
		out.Total += n
		switch st {
		case domain.TaskPending:
			out.Pending = n
		case domain.TaskRunning:
			out.Running = n
		case domain.TaskCompleted:
			out.Completed = n
		case domain.TaskFailed:
			out.Failed = n
		case domain.TaskCancelled:
			out.Cancelled = n
		}
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	t, lines, err := s.engine.TaskDetail(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := taskView(t)
	v.DetailedLog = detailedLog(t, lines)
	v.Payload = t.Payload
	usage := api.ResourceUsage{}
	if t.ResourceUsage != nil {
		usage = api.ResourceUsage(*t.ResourceUsage)
	}
	v.ResourceUsage = &usage
	if v.Progress, err = s.taskProgress(r.Context(), t); err != nil {
		return err
	}
	envelope.OK(w, r, api.TaskDetail{Task: v}, "")
	return nil
}

func (s *Server) cancelTask(w http.ResponseWriter, r *http.Request) error {
	t, wasRunning, err := s.engine.Cancel(r.Context(), r.PathValue("id"), "cancelled through the API")
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.CancelTaskResponse{CancelledTask: t.ID, WasRunning: wasRunning}, "task cancelled")
	return nil
}

func (s *Server) retryTask(w http.ResponseWriter, r *http.Request) error {
	var req api.RetryTaskRequest
	if err := httpapi.Decode(w, r, &req, true); err != nil {
		return err
	}
	var prio *domain.Priority
	if req.Priority != "" {
		p, err := domain.ParsePriority(req.Priority)
		if err != nil {
			return domain.Errorf(domain.CodeValidation, "%v", err).With("field", "priority")
		}
		prio = &p
	}
	t, err := s.engine.Retry(r.Context(), auth.ActorOf(r), r.PathValue("id"), prio)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.RetryTaskResponse{NewTaskID: t.ID, OriginalTaskID: t.OriginalTaskID}, "task resubmitted")
	return nil
}

func (s *Server) taskLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	cursor, err := httpapi.IntParam(q.Get("cursor"), "cursor", 0, 0, math.MaxInt) // MaxInt: 32-bit builds (armv7) too
	if err != nil {
		return err
	}
	limit, err := httpapi.IntParam(q.Get("limit"), "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	t, lines, err := s.engine.TaskLog(r.Context(), r.PathValue("id"), int64(cursor), limit)
	if err != nil {
		return err
	}
	out := api.TaskLogs{TaskID: t.ID, Logs: make([]api.LogLine, len(lines)), Cursor: int64(cursor), Status: string(t.State)}
	if out.Progress, err = s.taskProgress(r.Context(), t); err != nil {
		return err
	}
	for i, l := range lines {
		out.Logs[i] = api.LogLine{Seq: l.Seq, Timestamp: l.Time.UTC(), Stream: l.Stream, Level: l.Level, Message: l.Message}
		out.Cursor = l.Seq
	}
	envelope.OK(w, r, out, "")
	return nil
}
