package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

func TestTasksSubmit(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	req := api.SubmitTaskRequest{
		TaskType:     "echo",
		Payload:      json.RawMessage(`{"message":"hi","repeat":2}`),
		Priority:     "high",
		Requirements: &api.Requirements{MinCPUCores: 2, Platform: "android"},
		Timeout:      new(300),
	}

	got, err := b.c.Tasks.Submit(t.Context(), req)

	if err != nil {
		t.Fatalf("Submit = %v", err)
	}
	if got.TaskID == "" || got.Status != "pending" || got.Duplicate {
		t.Errorf("Submit = %+v, want a new pending task", got)
	}
	sent := b.rec.last(t)
	const wantBody = `{"task_type":"echo","payload":{"message":"hi","repeat":2},"priority":"high","requirements":{"min_cpu_cores":2,"platform":"android"},"timeout":300}`
	if sent.Body != wantBody {
		t.Errorf("body\n got %s\nwant %s", sent.Body, wantBody)
	}
	if h := sent.Header.Get("Idempotency-Key"); h != "" {
		t.Errorf("Idempotency-Key = %q without a key in the request", h)
	}
	// The server kept what was sent.
	task, err := b.c.Tasks.Get(t.Context(), got.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Priority != "high" || task.Timeout != 300 || task.Requirements == nil || task.Requirements.Platform != "android" ||
		string(task.Payload) != `{"message":"hi","repeat":2}` {
		t.Errorf("Get after Submit = %+v", task)
	}
}

func TestTasksSubmitBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	second := echo("two", 1)
	second.IdempotencyKey = "k2"

	got, err := b.c.Tasks.SubmitBatch(t.Context(), []api.SubmitTaskRequest{echo("one", 1), second})

	if err != nil {
		t.Fatalf("SubmitBatch = %v", err)
	}
	if want := `{"tasks":[{"task_type":"echo","payload":{"message":"one","repeat":1}},{"task_type":"echo","payload":{"message":"two","repeat":1},"idempotency_key":"k2"}]}`; b.rec.last(t).Body != want {
		t.Errorf("body %s, want %s", b.rec.last(t).Body, want)
	}
	if got.Count != 2 || len(got.Tasks) != 2 || got.Tasks[0].TaskID == got.Tasks[1].TaskID {
		t.Fatalf("SubmitBatch = %+v, want two new tasks", got)
	}
	// Answered in request order.
	for i, msg := range []string{"one", "two"} {
		task, err := b.c.Tasks.Get(t.Context(), got.Tasks[i].TaskID)
		if err != nil || !json.Valid(task.Payload) || string(task.Payload) != `{"message":"`+msg+`","repeat":1}` {
			t.Errorf("task %d of the batch = %+v, %v; want the %q one", i, task, err, msg)
		}
	}
}

func TestTasksList(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1", AllowShell: true})
	done := b.submit(t, echo("hi", 1))
	b.wait(t, done)
	failed := b.submit(t, failing())
	b.wait(t, failed)
	pending := b.submit(t, later("queued"))
	since := time.Now().Add(-time.Minute)

	for _, tc := range []struct {
		opts client.TaskListOptions
		want []string
	}{
		{client.TaskListOptions{}, []string{pending, failed, done}},
		{client.TaskListOptions{Status: "all"}, []string{pending, failed, done}},
		{client.TaskListOptions{Status: "failed"}, []string{failed}},
		{client.TaskListOptions{Status: "pending", Queue: "FifoQ"}, []string{pending}},
		{client.TaskListOptions{Queue: "FifoQ", DeviceID: "w1"}, []string{failed, done}},
		{client.TaskListOptions{TaskType: "shell"}, []string{failed}},
		{client.TaskListOptions{Queue: "other"}, nil},
		{client.TaskListOptions{Since: since, Limit: 1, Offset: 1}, []string{failed}},
	} {
		got, err := b.c.Tasks.List(t.Context(), tc.opts)
		if err != nil {
			t.Fatalf("List(%+v) = %v", tc.opts, err)
		}
		var ids []string
		for _, task := range got.Tasks {
			ids = append(ids, task.TaskID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("List(%+v) ids (-want +got):\n%s", tc.opts, diff)
		}
	}

	all, err := b.c.Tasks.List(t.Context(), client.TaskListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total != 3 || all.Pending != 1 || all.Completed != 1 || all.Failed != 1 || len(all.Tasks) != 1 {
		t.Errorf("List(limit 1) = %d tasks, counts %d total %d pending %d completed %d failed; want 1, 3 1 1 1",
			len(all.Tasks), all.Total, all.Pending, all.Completed, all.Failed)
	}
}

func TestTasksListQuery(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
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
		if _, err := b.c.Tasks.List(t.Context(), tc.opts); err != nil {
			t.Fatalf("List(%+v) = %v", tc.opts, err)
		}
		if got := b.rec.last(t).Query; got != tc.want {
			t.Errorf("List(%+v) query %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func TestTasksGet(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1"})
	req := echo("hello", 2)
	req.Labels = map[string]string{"team": "infra"}
	req.IdempotencyKey = "nightly-1"
	id := b.submit(t, req)
	b.wait(t, id)

	got, err := b.c.Tasks.Get(t.Context(), id)

	if err != nil {
		t.Fatal(err)
	}
	if got.TaskID != id || got.TaskType != "echo" || got.Status != "completed" || got.DeviceID == nil || *got.DeviceID != "w1" ||
		got.Result == nil || got.Result.Output != "hello\nhello" || got.Attempt != 1 || got.IdempotencyKey != "nightly-1" ||
		got.Labels["team"] != "infra" || got.StartedAt == nil || got.CompletedAt == nil || got.ExecutionTimeSeconds == nil {
		t.Errorf("Get = %+v", got)
	}
	if len(got.DetailedLog) == 0 || got.ResourceUsage == nil || string(got.Payload) != `{"message":"hello","repeat":2}` {
		t.Errorf("Get lacks the detail: log %q, resources %+v, payload %s", got.DetailedLog, got.ResourceUsage, got.Payload)
	}
}

func TestTasksIDIsEscaped(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	_, err := b.c.Tasks.Get(t.Context(), "a/b?c")
	if got, want := b.rec.last(t).Path, "/api/v1/tasks/a%2Fb%3Fc"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "TASK_NOT_FOUND" || ae.Details["task_id"] != "a/b?c" {
		t.Errorf("Get(a/b?c) = %v, want TASK_NOT_FOUND for the whole id", err)
	}
}

func TestTasksCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1"})
	pendingID := b.submit(t, later("never runs"))
	runningID := b.submit(t, api.SubmitTaskRequest{TaskType: "sleep", Payload: json.RawMessage(`{"seconds":30}`)})
	drovertest.Eventually(t, 10*time.Second, func() bool {
		task, err := b.c.Tasks.Get(t.Context(), runningID)
		return err == nil && task.Status == "running"
	}, "the sleep task to run")

	for _, tc := range []struct {
		id         string
		wasRunning bool
	}{{pendingID, false}, {runningID, true}} {
		got, err := b.c.Tasks.Cancel(t.Context(), tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if want := (&api.CancelTaskResponse{CancelledTask: tc.id, WasRunning: tc.wasRunning}); !cmp.Equal(want, got) {
			t.Errorf("Cancel(%s) = %+v, want %+v", tc.id, got, want)
		}
		if task := b.wait(t, tc.id); task.Status != "cancelled" {
			t.Errorf("task %s after Cancel: %s, want cancelled", tc.id, task.Status)
		}
	}
	_, err := b.c.Tasks.Cancel(t.Context(), pendingID)
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "TASK_NOT_CANCELLABLE" {
		t.Errorf("Cancel of a cancelled task = %v, want TASK_NOT_CANCELLABLE", err)
	}
}

func TestTasksRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1", AllowShell: true})
	failed := b.submit(t, failing())
	if task := b.wait(t, failed); task.Status != "failed" {
		t.Fatalf("exit 3 ended %s, want failed", task.Status)
	}
	for _, tc := range []struct{ priority, wantBody, wantPriority string }{
		{"high", `{"priority":"high"}`, "high"},
		{"", `{}`, "normal"},
	} {
		got, err := b.c.Tasks.Retry(t.Context(), failed, tc.priority)
		if err != nil {
			t.Fatal(err)
		}
		if body := b.rec.last(t).Body; body != tc.wantBody {
			t.Errorf("Retry(%q) body %s, want %s", tc.priority, body, tc.wantBody)
		}
		if got.OriginalTaskID != failed || got.NewTaskID == "" || got.NewTaskID == failed {
			t.Errorf("Retry(%q) = %+v, want a new task for %s", tc.priority, got, failed)
			continue
		}
		task := b.wait(t, got.NewTaskID)
		if task.OriginalTaskID != failed || task.Priority != tc.wantPriority {
			t.Errorf("retried task = original %q priority %q, want %s %s", task.OriginalTaskID, task.Priority, failed, tc.wantPriority)
		}
	}

	_, err := b.c.Tasks.Retry(t.Context(), b.submit(t, later("queued")), "")
	if ce, ok := errors.AsType[*client.Error](err); !ok || ce.API.Code != "TASK_NOT_RETRYABLE" || ce.StatusCode != http.StatusConflict {
		t.Errorf("Retry of a pending task = %v, want 409 TASK_NOT_RETRYABLE", err)
	}
}

func TestTasksLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1"})
	id := b.submit(t, echo("line", 5))
	b.wait(t, id)

	var (
		cursor int64
		lines  []int64
		pages  int
	)
	for {
		page, err := b.c.Tasks.Logs(t.Context(), id, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if page.TaskID != id || page.Status != "completed" || len(page.Logs) > 2 {
			t.Fatalf("Logs(cursor %d, limit 2) = %+v", cursor, page)
		}
		if len(page.Logs) == 0 {
			break
		}
		for _, l := range page.Logs {
			if l.Message != "line" || l.Stream != "stdout" {
				t.Errorf("log line %+v, want stdout \"line\"", l)
			}
			lines = append(lines, l.Seq)
		}
		cursor = page.Cursor
	}
	if len(lines) != 5 || pages != 4 {
		t.Errorf("read seqs %v in %d pages, want 5 lines in 3 pages and an empty one", lines, pages)
	}
	var queries []string
	for _, r := range b.rec.requests() {
		if r.Method == "GET" && r.Path == "/api/v1/tasks/"+id+"/logs" {
			queries = append(queries, r.Query)
		}
	}
	if queries[0] != "limit=2" || queries[1] != "cursor="+strconv.FormatInt(lines[1], 10)+"&limit=2" {
		t.Errorf("queries %q, want limit=2 then cursor=<last seq>&limit=2", queries)
	}
}

func TestTasksWait(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1", AllowShell: true})
	for _, tc := range []struct {
		req        api.SubmitTaskRequest
		wantStatus string
	}{
		{echo("ok", 1), "completed"},
		{failing(), "failed"},
		{api.SubmitTaskRequest{TaskType: "sleep", Payload: json.RawMessage(`{"seconds":0.2}`)}, "completed"},
	} {
		id := b.submit(t, tc.req)
		got, err := b.c.Tasks.Wait(t.Context(), id, 0)
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
		if got.TaskID != id || got.Status != tc.wantStatus {
			t.Errorf("Wait(%s %s) = status %q, want %s", tc.req.TaskType, tc.req.Payload, got.Status, tc.wantStatus)
		}
	}
	id := b.submit(t, failing())
	if got, err := b.c.Tasks.Wait(t.Context(), id, time.Millisecond); err != nil || got.Status != "failed" || got.Result == nil || got.Result.ExitCode != 3 {
		t.Errorf("Wait with an interval = %+v, %v; want failed with exit code 3", got, err)
	}
}

func TestTasksWaitStopsWithContext(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	id := b.submit(t, echo("nobody runs this", 1)) // no worker
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()

	_, err := b.c.Tasks.Wait(ctx, id, time.Millisecond)

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want context.DeadlineExceeded", err)
	}
}

func TestTasksWaitReturnsAPIError(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	_, err := b.c.Tasks.Wait(t.Context(), "task-1", 0)
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "TASK_NOT_FOUND" {
		t.Errorf("Wait = %v, want TASK_NOT_FOUND", err)
	}
}

func TestTasksFollowLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	id := b.submit(t, api.SubmitTaskRequest{TaskType: "shell",
		Payload: json.RawMessage(`{"command":"echo one; sleep 0.3; echo two; sleep 0.3; echo three"}`)})
	b.srv.StartWorker(t, worker.Config{Name: "w1", AllowShell: true})

	var got []string
	err := b.c.Tasks.FollowLogs(t.Context(), id, func(l api.LogLine) { got = append(got, l.Message) })

	if err != nil {
		t.Fatalf("FollowLogs = %v", err)
	}
	if diff := cmp.Diff([]string{"one", "two", "three"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	// It read while the task ran, and stopped after it ended.
	var cursors []string
	for _, r := range b.rec.requests() {
		if r.Path == "/api/v1/tasks/"+id+"/logs" {
			cursors = append(cursors, r.Query)
		}
	}
	if len(cursors) < 4 || cursors[0] != "" {
		t.Errorf("FollowLogs queries %q, want several, the first from the start", cursors)
	}
	if task, err := b.c.Tasks.Get(t.Context(), id); err != nil || task.Status != "completed" {
		t.Errorf("task after FollowLogs = %+v, %v; want completed", task, err)
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
