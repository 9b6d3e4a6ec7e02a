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

// Wait polls the task until it is completed, failed or cancelled, and
// returns it then. A failed task is not an error of Wait: look at its
// Status. With pollInterval 0, Wait asks again after 50ms, then ever less
// often up to the client's poll interval (see WithPollInterval), so that a
// short task is seen to end at once and a long one costs few requests;
// otherwise it asks every pollInterval. It gives up on the first failed
// request or when ctx ends.
func (s *TasksService) Wait(ctx context.Context, id string, pollInterval time.Duration) (*api.Task, error) {
	p := s.c.poller()
	if pollInterval > 0 {
		p = &poller{start: pollInterval, next: pollInterval, max: pollInterval}
	}
	for {
		task, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if Terminal(task.Status) {
			return task, nil
		}
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// FollowLogs calls fn with each log line of the task, from the first, as it
// is written, and returns when the task has ended and its log is drained, or
// when ctx ends. Pages come back to back while the server has lines; after
// an empty page it waits as Wait does, up to the client's poll interval.
func (s *TasksService) FollowLogs(ctx context.Context, id string, fn func(api.LogLine)) error {
	return s.Follow(ctx, id, Follower{Log: fn})
}

// Follower receives what Follow sees of a task. Nil fields are skipped.
type Follower struct {
	Log func(api.LogLine)
	// Progress is called when the task reports new progress (a report is
	// kept about once a second at most).
	Progress func(api.TaskProgress)
}

// Follow is FollowLogs that also reports the task's progress as it
// changes: both come with every page of the log.
func (s *TasksService) Follow(ctx context.Context, id string, f Follower) error {
	p := s.c.poller()
	var (
		cursor int64
		last   api.TaskProgress
	)
	for {
		page, err := s.Logs(ctx, id, cursor, 0)
		if err != nil {
			return err
		}
		for _, line := range page.Logs {
			if f.Log != nil {
				f.Log(line)
			}
		}
		if pr := page.Progress; pr != nil && *pr != last {
			last = *pr
			if f.Progress != nil {
				f.Progress(*pr)
			}
		}
		if len(page.Logs) > 0 {
			if page.Cursor <= cursor {
				// Reading on from the same cursor would repeat these lines forever.
				return fmt.Errorf("client: logs of task %s: cursor did not advance past %d", id, cursor)
			}
			cursor = page.Cursor
			p.reset() // lines are flowing: look again soon once they pause
			continue
		}
		// The task's status comes with the (empty) page, so a terminal status
		// here means no line can follow: the worker sends its log before its
		// result.
		if Terminal(page.Status) {
			return nil
		}
		if err := p.wait(ctx); err != nil {
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

// firstPoll is the first pause of Wait and FollowLogs: short, since most
// tasks are short.
const firstPoll = 50 * time.Millisecond

// poller spaces out the requests of a wait: the pause starts at start and
// doubles up to max.
type poller struct{ start, next, max time.Duration }

func (c *Client) poller() *poller {
	first := min(firstPoll, c.pollInterval)
	return &poller{start: first, next: first, max: c.pollInterval}
}

// wait pauses until the next poll is due or ctx ends, whichever is first.
func (p *poller) wait(ctx context.Context) error {
	t := time.NewTimer(p.next)
	defer t.Stop()
	p.next = min(2*p.next, p.max)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reset makes the next pause short again, after progress.
func (p *poller) reset() { p.next = p.start }

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
