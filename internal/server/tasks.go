package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/store"
)

// Limits on submitted fields.
const (
	maxBatch        = 1000
	maxTimeout      = 7 * 24 * 3600
	maxRetries      = 100
	maxDelaySeconds = 30 * 24 * 3600
	maxLabels       = 64
	maxKeyLen       = 255
	maxPayloadBytes = 256 << 10
)

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:@/-]{1,128}$`)

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
	spec, err := s.taskSpec(&req)
	if err != nil {
		return err
	}
	if err := requireShell(r, spec); err != nil {
		return err
	}
	out, err := s.engine.Submit(r.Context(), []*domain.Task{spec})
	if err != nil {
		return err
	}
	s.auditShell(r, out[0].Task, out[0].Duplicate)
	status := http.StatusCreated
	if out[0].Duplicate {
		status = http.StatusOK
	}
	envelope.Write(w, r, status, s.submitted(out[0].Task, out[0].Duplicate), "task submitted")
	return nil
}

func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) error {
	var req api.SubmitBatchRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	if len(req.Tasks) == 0 || len(req.Tasks) > maxBatch {
		return domain.Errorf(domain.CodeValidation, "tasks must hold 1 to %d tasks, not %d", maxBatch, len(req.Tasks)).With("field", "tasks")
	}
	specs := make([]*domain.Task, len(req.Tasks))
	for i := range req.Tasks {
		spec, err := s.taskSpec(&req.Tasks[i])
		if err != nil {
			if e, ok := err.(*domain.Error); ok {
				e.With("index", i)
			}
			return err
		}
		if err := requireShell(r, spec); err != nil {
			return err
		}
		specs[i] = spec
	}
	out, err := s.engine.Submit(r.Context(), specs)
	if err != nil {
		return err
	}
	resp := api.SubmitBatchResponse{Tasks: make([]api.SubmitTaskResponse, len(out)), Count: len(out)}
	for i, o := range out {
		s.auditShell(r, o.Task, o.Duplicate)
		resp.Tasks[i] = s.submitted(o.Task, o.Duplicate)
	}
	envelope.OK(w, r, resp, fmt.Sprintf("%d tasks submitted", len(out)))
	return nil
}

// auditShell records who submitted a shell task, and what it runs, in the
// cluster log (GET /api/v1/logs): a shell task is code execution on a
// worker, and its trail must outlive the task.
func (s *Server) auditShell(r *http.Request, t *domain.Task, duplicate bool) {
	if t.Type != domain.TypeShell || duplicate {
		return
	}
	by := "anonymous (auth off)"
	if p := auth.PrincipalFrom(r.Context()); p != nil {
		by = p.KeyID + " (" + p.Name + ")"
	}
	s.log.Info("shell task submitted", "component", "audit", "task_id", t.ID, "by", by,
		"remote_addr", r.RemoteAddr, "payload", string(t.Payload))
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

// taskSpec validates a submit request and turns it into a task spec.
func (s *Server) taskSpec(req *api.SubmitTaskRequest) (*domain.Task, error) {
	bad := func(field, format string, args ...any) error {
		return domain.Errorf(domain.CodeValidation, format, args...).With("field", field)
	}
	t := &domain.Task{Type: req.TaskType, Queue: req.Queue, DeviceID: req.DeviceID, IdempotencyKey: req.IdempotencyKey, MaxRetries: -1}
	if req.TaskType == "" {
		return nil, bad("task_type", "task_type is required")
	}
	if !domain.ValidTypeName(req.TaskType) {
		return nil, domain.Errorf(domain.CodeInvalidTaskType, "task type '%s' is not a valid name (letters, digits, _.:/-; at most 128)", req.TaskType).With("task_type", req.TaskType)
	}
	payload, err := compactPayload(req.Payload)
	if err != nil {
		return nil, err
	}
	if err := domain.ValidateBuiltinPayload(req.TaskType, payload); err != nil {
		return nil, bad("payload", "%v", err)
	}
	t.Payload = payload
	if t.Priority, err = domain.ParsePriority(req.Priority); err != nil {
		return nil, bad("priority", "%v", err)
	}
	if t.Queue != "" && !queueNameRE.MatchString(t.Queue) {
		return nil, bad("queue", "queue must be 1 to 128 letters, digits or _.:@/-")
	}
	if t.Queue, err = domain.QueueForHost(t.Queue, req.Host); err != nil {
		return nil, err
	}
	if len(t.DeviceID) > 255 {
		return nil, bad("device_id", "device_id is too long")
	}
	if req.Requirements != nil {
		if t.Requirements, err = requirements(req.Requirements); err != nil {
			return nil, err
		}
	}
	if req.Timeout != nil {
		if *req.Timeout < 1 || *req.Timeout > maxTimeout {
			return nil, bad("timeout", "timeout must be between 1 and %d seconds", maxTimeout)
		}
		t.TimeoutSeconds = *req.Timeout
	}
	if req.MaxRetries != nil {
		if *req.MaxRetries < 0 || *req.MaxRetries > maxRetries {
			return nil, bad("max_retries", "max_retries must be between 0 and %d", maxRetries)
		}
		t.MaxRetries = *req.MaxRetries
	}
	if req.RetryBackoffSeconds != nil {
		if b := *req.RetryBackoffSeconds; b < 0 || b > 86400 {
			return nil, bad("retry_backoff_seconds", "retry_backoff_seconds must be between 0 and 86400")
		}
		t.RetryBackoff = time.Duration(*req.RetryBackoffSeconds * float64(time.Second))
	}
	switch {
	case req.DelaySeconds != nil && req.RunAt != nil:
		return nil, bad("run_at", "give delay_seconds or run_at, not both")
	case req.DelaySeconds != nil:
		if d := *req.DelaySeconds; d < 0 || d > maxDelaySeconds {
			return nil, bad("delay_seconds", "delay_seconds must be between 0 and %d", maxDelaySeconds)
		}
		t.AvailableAt = s.engine.Now().Add(time.Duration(*req.DelaySeconds * float64(time.Second)))
	case req.RunAt != nil:
		if req.RunAt.After(s.engine.Now().Add(maxDelaySeconds * time.Second)) {
			return nil, bad("run_at", "run_at is more than %d days ahead", maxDelaySeconds/86400)
		}
		t.AvailableAt = *req.RunAt
	}
	if len(req.IdempotencyKey) > maxKeyLen {
		return nil, bad("idempotency_key", "idempotency_key is longer than %d characters", maxKeyLen)
	}
	if len(req.Labels) > maxLabels {
		return nil, bad("labels", "at most %d labels", maxLabels)
	}
	t.Labels = req.Labels
	if t.IdempotencyKey != "" {
		t.RequestHash = requestHash(req)
	}
	return t, nil
}

func requirements(r *api.Requirements) (domain.Requirements, error) {
	bad := func(field, format string, args ...any) error {
		return domain.Errorf(domain.CodeValidation, format, args...).With("field", "requirements."+field)
	}
	switch {
	case r.MinCPUCores < 0 || r.MinCPUCores > 4096:
		return domain.Requirements{}, bad("min_cpu_cores", "min_cpu_cores must be between 0 and 4096")
	case r.MinMemoryGB < 0 || r.MinMemoryGB > 1<<20:
		return domain.Requirements{}, bad("min_memory_gb", "min_memory_gb must be between 0 and %d", 1<<20)
	case len(r.Platform) > 64:
		return domain.Requirements{}, bad("platform", "platform is too long")
	case len(r.Role) > 64:
		return domain.Requirements{}, bad("role", "role is too long")
	case len(r.Labels) > maxLabels:
		return domain.Requirements{}, bad("labels", "at most %d labels", maxLabels)
	}
	return domain.Requirements{
		MinCPUCores: r.MinCPUCores, MinMemoryGB: r.MinMemoryGB,
		Platform: strings.ToLower(r.Platform), Role: r.Role, Labels: r.Labels,
	}, nil
}

// compactPayload checks the payload's size and stores it compact; absent
// means an empty object.
func compactPayload(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), nil
	}
	if len(raw) > maxPayloadBytes {
		return nil, domain.Errorf(domain.CodeValidation, "payload is over %d bytes", maxPayloadBytes).With("field", "payload")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, domain.Errorf(domain.CodeInvalidJSON, "payload is not valid JSON").With("field", "payload")
	}
	return b.Bytes(), nil
}

// requestHash fingerprints a submit, to tell a replay (same key, same
// request) from a key reused for something else.
func requestHash(req *api.SubmitTaskRequest) string {
	c := *req
	c.IdempotencyKey = ""
	c.Payload, _ = compactPayload(req.Payload)
	raw, _ := json.Marshal(c)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := store.TaskListParams{
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
	tasks, err := s.store.TaskList(r.Context(), &p)
	if err != nil {
		return err
	}
	counts, err := s.store.TaskCount(r.Context(), &p)
	if err != nil {
		return err
	}
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

// detailedLogLines is how many of a task's last log lines its detail shows.
const detailedLogLines = 200

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	t, err := s.engine.Task(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	lines, err := s.store.LogList(r.Context(), &store.LogListParams{TaskID: t.ID})
	if err != nil {
		return err
	}
	if len(lines) > detailedLogLines {
		lines = lines[len(lines)-detailedLogLines:]
	}
	v := taskView(t)
	v.DetailedLog = detailedLog(t, lines)
	v.Payload = t.Payload
	usage := api.ResourceUsage{}
	if t.ResourceUsage != nil {
		usage = api.ResourceUsage(*t.ResourceUsage)
	}
	v.ResourceUsage = &usage
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
	if err := s.requireShellRetry(r); err != nil {
		return err
	}
	t, err := s.engine.Retry(r.Context(), r.PathValue("id"), prio)
	if err != nil {
		return err
	}
	s.auditShell(r, t, false)
	envelope.OK(w, r, api.RetryTaskResponse{NewTaskID: t.ID, OriginalTaskID: t.OriginalTaskID}, "task resubmitted")
	return nil
}

func (s *Server) taskLogs(w http.ResponseWriter, r *http.Request) error {
	t, err := s.engine.Task(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cursor, err := httpapi.IntParam(q.Get("cursor"), "cursor", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := httpapi.IntParam(q.Get("limit"), "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	lines, err := s.store.LogList(r.Context(), &store.LogListParams{TaskID: t.ID, AfterSeq: int64(cursor), Limit: limit})
	if err != nil {
		return err
	}
	out := api.TaskLogs{TaskID: t.ID, Logs: make([]api.LogLine, len(lines)), Cursor: int64(cursor), Status: string(t.State)}
	for i, l := range lines {
		out.Logs[i] = api.LogLine{Seq: l.Seq, Timestamp: l.Time.UTC(), Stream: l.Stream, Level: l.Level, Message: l.Message}
		out.Cursor = l.Seq
	}
	envelope.OK(w, r, out, "")
	return nil
}
