package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/drover-run/drover/api"
)

// TasksService submits, lists, follows and controls tasks: /api/v1/tasks.
type TasksService struct{ c *Client }

// Submit creates a task (POST /tasks). When req has an IdempotencyKey it is
// also sent as the Idempotency-Key header, so a retried submit returns the
// first task (with Duplicate set) instead of creating a second one.
func (s *TasksService) Submit(ctx context.Context, req api.SubmitTaskRequest) (*api.SubmitTaskResponse, error) {
	r := request{method: http.MethodPost, path: apiPrefix + "/tasks", body: req}
	if req.IdempotencyKey != "" {
		r.header = http.Header{"Idempotency-Key": {req.IdempotencyKey}}
	}
	var out api.SubmitTaskResponse
	if err := s.c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitBatch creates several tasks in one request (POST /tasks/batch); the
// answer lists them in request order. Idempotency keys go per task, in the
// body.
func (s *TasksService) SubmitBatch(ctx context.Context, reqs []api.SubmitTaskRequest) (*api.SubmitBatchResponse, error) {
	r := request{method: http.MethodPost, path: apiPrefix + "/tasks/batch", body: api.SubmitBatchRequest{Tasks: reqs}}
	var out api.SubmitBatchResponse
	if err := s.c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TaskListOptions filters GET /tasks. Zero fields are left to the server.
type TaskListOptions struct {
	Status   string    // pending, running, completed, failed, cancelled or all
	DeviceID string    // tasks run (or pinned) on this device
	TaskType string    // e.g. "echo"
	Queue    string    // e.g. "FifoQ"
	Since    time.Time // created at or after
	Limit    int       // page size
	Offset   int       // tasks to skip
}

func (o TaskListOptions) values() url.Values {
	v := url.Values{}
	setString(v, "status", o.Status)
	setString(v, "device_id", o.DeviceID)
	setString(v, "task_type", o.TaskType)
	setString(v, "queue", o.Queue)
	if !o.Since.IsZero() {
		v.Set("since", o.Since.Format(time.RFC3339Nano))
	}
	setInt(v, "limit", o.Limit)
	setInt(v, "offset", o.Offset)
	return v
}

// List returns a page of tasks and counts over all that match (GET /tasks).
func (s *TasksService) List(ctx context.Context, opts TaskListOptions) (*api.TaskList, error) {
	var out api.TaskList
	r := request{method: http.MethodGet, path: apiPrefix + "/tasks", query: opts.values()}
	if err := s.c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns one task in detail: its payload, result, log and resource use
// (GET /tasks/{id}).
func (s *TasksService) Get(ctx context.Context, id string) (*api.Task, error) {
	path, err := itemPath("tasks", id, "")
	if err != nil {
		return nil, err
	}
	var out api.TaskDetail
	if err := s.c.call(ctx, request{method: http.MethodGet, path: path}, &out); err != nil {
		return nil, err
	}
	return &out.Task, nil
}

// Cancel stops a pending or running task (DELETE /tasks/{id}).
func (s *TasksService) Cancel(ctx context.Context, id string) (*api.CancelTaskResponse, error) {
	path, err := itemPath("tasks", id, "")
	if err != nil {
		return nil, err
	}
	var out api.CancelTaskResponse
	if err := s.c.call(ctx, request{method: http.MethodDelete, path: path}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Retry submits a finished task again as a new task (POST /tasks/{id}/retry).
// An empty priority keeps the original one.
func (s *TasksService) Retry(ctx context.Context, id, priority string) (*api.RetryTaskResponse, error) {
	path, err := itemPath("tasks", id, "/retry")
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: path, body: api.RetryTaskRequest{Priority: priority}}
	var out api.RetryTaskResponse
	if err := s.c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logs returns the task's log lines after cursor (0: from the start), at most
// limit of them (0: the server's default), GET /tasks/{id}/logs. Pass the
// answer's Cursor back to read on.
func (s *TasksService) Logs(ctx context.Context, id string, cursor int64, limit int) (*api.TaskLogs, error) {
	path, err := itemPath("tasks", id, "/logs")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if cursor > 0 {
		q.Set("cursor", strconv.FormatInt(cursor, 10))
	}
	setInt(q, "limit", limit)
	var out api.TaskLogs
	if err := s.c.call(ctx, request{method: http.MethodGet, path: path, query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Wait polls the task every pollInterval (0: the client's, see
// WithPollInterval) until it is completed, failed or cancelled, and returns
// it then. A failed task is not an error of Wait: look at its Status. Wait
// gives up on the first failed request or when ctx ends.
func (s *TasksService) Wait(ctx context.Context, id string, pollInterval time.Duration) (*api.Task, error) {
	if pollInterval <= 0 {
		pollInterval = s.c.pollInterval
	}
	for {
		task, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if Terminal(task.Status) {
			return task, nil
		}
		if err := pause(ctx, pollInterval); err != nil {
			return nil, err
		}
	}
}

// FollowLogs calls fn with each log line of the task, from the first, as it
// is written, and returns when the task has ended and its log is drained, or
// when ctx ends. Pages come back to back while the server has lines; between
// empty pages it waits the client's poll interval.
func (s *TasksService) FollowLogs(ctx context.Context, id string, fn func(api.LogLine)) error {
	var cursor int64
	for {
		page, err := s.Logs(ctx, id, cursor, 0)
		if err != nil {
			return err
		}
		for _, line := range page.Logs {
			fn(line)
		}
		if len(page.Logs) > 0 {
			if page.Cursor <= cursor {
				// Reading on from the same cursor would repeat these lines forever.
				return fmt.Errorf("client: logs of task %s: cursor did not advance past %d", id, cursor)
			}
			cursor = page.Cursor
			continue
		}
		// The task's status comes with the (empty) page, so a terminal status
		// here means no line can follow: the worker sends its log before its
		// result.
		if Terminal(page.Status) {
			return nil
		}
		if err := pause(ctx, s.c.pollInterval); err != nil {
			return err
		}
	}
}

// Terminal reports whether a task status is final: completed, failed or
// cancelled.
func Terminal(status string) bool {
	switch status {
	case "completed", "failed", "cancelled":
		return true
	}
	return false
}

// pause waits for d or until ctx ends, whichever is first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func setString(v url.Values, key, value string) {
	if value != "" {
		v.Set(key, value)
	}
}

func setInt(v url.Values, key string, n int) {
	if n != 0 {
		v.Set(key, strconv.Itoa(n))
	}
}
