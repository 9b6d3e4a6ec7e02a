package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

func TestTasksSubmit(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := &api.SubmitTaskResponse{TaskID: "task-abc123", Status: "pending"}
	f.reply("POST /api/v1/tasks", want)
	req := api.SubmitTaskRequest{
		TaskType:     "echo",
		Payload:      json.RawMessage(`{"message":"hi","repeat":2}`),
		Priority:     "high",
		Requirements: &api.Requirements{MinCPUCores: 2, Platform: "android"},
		Timeout:      new(300),
	}

	got, err := c.Tasks.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("Submit = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Submit (-want +got):\n%s", diff)
	}
	sent := f.last(t)
	const wantBody = `{"task_type":"echo","payload":{"message":"hi","repeat":2},"priority":"high","requirements":{"min_cpu_cores":2,"platform":"android"},"timeout":300}`
	if sent.Body != wantBody {
		t.Errorf("body\n got %s\nwant %s", sent.Body, wantBody)
	}
	if h := sent.Header.Get("Idempotency-Key"); h != "" {
		t.Errorf("Idempotency-Key = %q without a key in the request", h)
	}
}

func TestTasksSubmitBatch(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := &api.SubmitBatchResponse{Count: 2, Tasks: []api.SubmitTaskResponse{{TaskID: "task-1"}, {TaskID: "task-2"}}}
	f.reply("POST /api/v1/tasks/batch", want)

	got, err := c.Tasks.SubmitBatch(t.Context(), []api.SubmitTaskRequest{{TaskType: "echo"}, {TaskType: "sleep", IdempotencyKey: "k2"}})
	if err != nil {
		t.Fatalf("SubmitBatch = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SubmitBatch (-want +got):\n%s", diff)
	}
	if want := `{"tasks":[{"task_type":"echo"},{"task_type":"sleep","idempotency_key":"k2"}]}`; f.last(t).Body != want {
		t.Errorf("body %s, want %s", f.last(t).Body, want)
	}
}

func TestTasksListQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts client.TaskListOptions
		want string
	}{
		{client.TaskListOptions{}, ""},
		{client.TaskListOptions{Status: "failed", Limit: 10}, "limit=10&status=failed"},
		{
			client.TaskListOptions{
				Status: "all", DeviceID: "android-001", TaskType: "echo", Queue: "FifoQ",
				Since: time.Date(2023, 1, 1, 12, 0, 0, 0, time.UTC), Limit: 50, Offset: 100,
			},
			"device_id=android-001&limit=50&offset=100&queue=FifoQ&since=2023-01-01T12%3A00%3A00Z&status=all&task_type=echo",
		},
	} {
		f, c := setup(t)
		f.reply("GET /api/v1/tasks", api.TaskList{Total: 0, Tasks: []api.Task{}})
		if _, err := c.Tasks.List(t.Context(), tc.opts); err != nil {
			t.Fatalf("List(%+v) = %v", tc.opts, err)
		}
		if got := f.last(t).Query; got != tc.want {
			t.Errorf("List(%+v) query %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func TestTasksList(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := &api.TaskList{
		Tasks:   []api.Task{{TaskID: "task-1", TaskType: "echo", Status: "completed", Result: &api.TaskResult{Output: "hi"}}},
		Total:   1,
		Running: 0, Completed: 1,
	}
	f.reply("GET /api/v1/tasks", want)
	got, err := c.Tasks.List(t.Context(), client.TaskListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestTasksGetUnwrapsTask(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := api.Task{TaskID: "task-1", Status: "running", DetailedLog: []string{"2023-01-01T12:00:00Z: started"}}
	f.reply("GET /api/v1/tasks/task-1", api.TaskDetail{Task: want})
	got, err := c.Tasks.Get(t.Context(), "task-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
}

func TestTasksIDIsEscaped(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.Error{Code: "TASK_NOT_FOUND", Message: "no"})
	})
	c.Tasks.Get(t.Context(), "a/b?c")
	if got, want := f.last(t).Path, "/api/v1/tasks/a%2Fb%3Fc"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
}

func TestTasksCancel(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	want := &api.CancelTaskResponse{CancelledTask: "task-1", WasRunning: true}
	f.reply("DELETE /api/v1/tasks/task-1", want)
	got, err := c.Tasks.Cancel(t.Context(), "task-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Cancel (-want +got):\n%s", diff)
	}
}

func TestTasksRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ priority, wantBody string }{
		{"high", `{"priority":"high"}`},
		{"", `{}`},
	} {
		f, c := setup(t)
		want := &api.RetryTaskResponse{NewTaskID: "task-2", OriginalTaskID: "task-1"}
		f.reply("POST /api/v1/tasks/task-1/retry", want)
		got, err := c.Tasks.Retry(t.Context(), "task-1", tc.priority)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Retry (-want +got):\n%s", diff)
		}
		if body := f.last(t).Body; body != tc.wantBody {
			t.Errorf("Retry(%q) body %s, want %s", tc.priority, body, tc.wantBody)
		}
	}
}

func TestTasksLogsQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cursor int64
		limit  int
		want   string
	}{
		{0, 0, ""},
		{42, 0, "cursor=42"},
		{42, 100, "cursor=42&limit=100"},
	} {
		f, c := setup(t)
		f.reply("GET /api/v1/tasks/task-1/logs", api.TaskLogs{TaskID: "task-1"})
		if _, err := c.Tasks.Logs(t.Context(), "task-1", tc.cursor, tc.limit); err != nil {
			t.Fatal(err)
		}
		if got := f.last(t).Query; got != tc.want {
			t.Errorf("Logs(cursor %d, limit %d) query %q, want %q", tc.cursor, tc.limit, got, tc.want)
		}
	}
}

func TestTasksWait(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.reply("GET /api/v1/tasks/task-1",
		api.TaskDetail{Task: api.Task{TaskID: "task-1", Status: "pending"}},
		api.TaskDetail{Task: api.Task{TaskID: "task-1", Status: "running"}},
		api.TaskDetail{Task: api.Task{TaskID: "task-1", Status: "failed", Error: "exit status 3"}},
	)

	got, err := c.Tasks.Wait(t.Context(), "task-1", 0)

	if err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if got.Status != "failed" || got.Error != "exit status 3" {
		t.Errorf("Wait = status %q error %q, want failed, exit status 3", got.Status, got.Error)
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("Wait made %d requests, want 3", n)
	}
}

func TestTasksWaitStopsWithContext(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	var polls atomic.Int32
	f.mux.HandleFunc("GET /api/v1/tasks/task-1", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) == 2 {
			cancel() // the client has seen "running" once; give up during the second poll
		}
		writeData(w, http.StatusOK, api.TaskDetail{Task: api.Task{TaskID: "task-1", Status: "running"}})
	})

	_, err := c.Tasks.Wait(ctx, "task-1", time.Millisecond)

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
}

func TestTasksWaitReturnsAPIError(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.Error{Code: "TASK_NOT_FOUND", Message: "gone"})
	})
	_, err := c.Tasks.Wait(t.Context(), "task-1", 0)
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "TASK_NOT_FOUND" {
		t.Errorf("Wait = %v, want TASK_NOT_FOUND", err)
	}
}

func logLine(seq int64, msg string) api.LogLine {
	return api.LogLine{Seq: seq, Stream: "stdout", Level: "info", Message: msg, Timestamp: time.Date(2023, 1, 1, 12, 0, int(seq), 0, time.UTC)}
}

func TestTasksFollowLogs(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.reply("GET /api/v1/tasks/task-1/logs",
		api.TaskLogs{TaskID: "task-1", Status: "running", Cursor: 2, Logs: []api.LogLine{logLine(1, "one"), logLine(2, "two")}},
		api.TaskLogs{TaskID: "task-1", Status: "running", Cursor: 2},
		api.TaskLogs{TaskID: "task-1", Status: "completed", Cursor: 3, Logs: []api.LogLine{logLine(3, "three")}},
		api.TaskLogs{TaskID: "task-1", Status: "completed", Cursor: 3},
	)

	var got []string
	err := c.Tasks.FollowLogs(t.Context(), "task-1", func(l api.LogLine) { got = append(got, l.Message) })

	if err != nil {
		t.Fatalf("FollowLogs = %v", err)
	}
	if diff := cmp.Diff([]string{"one", "two", "three"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	var cursors []string
	for _, r := range f.requests() {
		cursors = append(cursors, r.Query)
	}
	// The terminal status on a page with lines is not the end: the next,
	// empty page proves the log drained.
	if diff := cmp.Diff([]string{"", "cursor=2", "cursor=2", "cursor=3"}, cursors); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestTasksFollowLogsStuckCursor(t *testing.T) {
	t.Parallel()
	f, c := setup(t)
	f.reply("GET /api/v1/tasks/task-1/logs",
		api.TaskLogs{TaskID: "task-1", Status: "running", Cursor: 0, Logs: []api.LogLine{logLine(1, "one")}})

	err := c.Tasks.FollowLogs(t.Context(), "task-1", func(api.LogLine) {})

	if err == nil || !strings.Contains(err.Error(), "cursor did not advance") {
		t.Errorf("FollowLogs = %v, want a cursor error", err)
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	for status, want := range map[string]bool{
		"pending": false, "running": false, "": false,
		"completed": true, "failed": true, "cancelled": true,
	} {
		if got := client.Terminal(status); got != want {
			t.Errorf("Terminal(%q) = %v, want %v", status, got, want)
		}
	}
}
