package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const submittedJSON = `{"task_id":"task-abc123","status":"pending","assigned_device":null,"estimated_completion":null}`

// sameJSON reports whether two JSON texts mean the same, whatever the key
// order and spacing.
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("sent body is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("wanted body is not JSON: %v\n%s", err, want)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestTasksSubmitMinimal(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks", submittedJSON)

	out := mustRun(t, testEnv(t, api), "tasks", "submit", "echo", "--payload", `{"message": "test"}`)

	if out != "Submitted task task-abc123 (pending)\n" {
		t.Errorf("stdout %q", out)
	}
	sent := api.last(t)
	sameJSON(t, sent.Body, `{"task_type":"echo","payload":{"message":"test"}}`)
	if h := sent.Header.Get("Idempotency-Key"); h != "" {
		t.Errorf("Idempotency-Key %q sent without --idempotency-key", h)
	}
}

func TestTasksSubmitEveryFlag(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks", submittedJSON)

	mustRun(t, testEnv(t, api), "tasks", "submit", "shell",
		"--payload", `{"command":"uname -a"}`,
		"--priority", "high", "--queue", "nightly", "--device", "rpi-002",
		"--timeout", "5m", "--max-retries", "0", "--delay", "1.5",
		"--idempotency-key", "nightly-1",
		"--label", "team=infra", "--label", "cost=low",
		"--require-cpu", "2", "--require-memory-gb", "1.5", "--require-platform", "linux", "--require-role", "compute",
		"--require-label", "site=home",
	)

	sent := api.last(t)
	sameJSON(t, sent.Body, `{
		"task_type": "shell", "payload": {"command": "uname -a"},
		"priority": "high", "queue": "nightly", "device_id": "rpi-002",
		"timeout": 300, "max_retries": 0, "delay_seconds": 1.5,
		"idempotency_key": "nightly-1",
		"labels": {"team": "infra", "cost": "low"},
		"requirements": {"min_cpu_cores": 2, "min_memory_gb": 1.5, "platform": "linux", "role": "compute", "labels": {"site": "home"}}
	}`)
	if h := sent.Header.Get("Idempotency-Key"); h != "nightly-1" {
		t.Errorf("Idempotency-Key = %q, want nightly-1", h)
	}
}

func TestTasksSubmitPayloadFile(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks", submittedJSON)
	file := filepath.Join(t.TempDir(), "payload.json")
	if err := os.WriteFile(file, []byte(`{"seconds": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}

	mustRun(t, testEnv(t, api), "tasks", "submit", "sleep", "--payload", "@"+file)

	sameJSON(t, api.last(t).Body, `{"task_type":"sleep","payload":{"seconds":2}}`)
}

func TestTasksSubmitDuplicate(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks", `{"task_id":"task-abc123","status":"running","assigned_device":"android-001","estimated_completion":null,"duplicate":true}`)
	out := mustRun(t, testEnv(t, api), "tasks", "submit", "echo", "--idempotency-key", "k")
	if want := "Task task-abc123 was already submitted with this idempotency key (running)\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
}

func TestTasksSubmitJSON(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks", submittedJSON)
	if got, want := mustRun(t, testEnv(t, api), "tasks", "submit", "echo", "-o", "json"), indented(t, submittedJSON); got != want {
		t.Errorf("stdout\n%s\nwant\n%s", got, want)
	}
}

func TestTasksSubmitWait(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks", submittedJSON)
	api.reply("GET /api/v1/tasks/task-abc123",
		taskJSON("task-abc123", "pending", "", "", 0),
		taskJSON("task-abc123", "running", "", "", 0),
		taskJSON("task-abc123", "completed", "test\ntest", "", 0),
	)

	r := drover(t, testEnv(t, api), "tasks", "submit", "echo", "--payload", `{"message":"test","repeat":2}`, "--wait")

	if r.code != exitOK || r.stdout != "test\ntest\n" {
		t.Errorf("submit --wait = exit %d, stdout %q; want 0 and the output", r.code, r.stdout)
	}
	if r.stderr != "Submitted task task-abc123; waiting for it to end\n" {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestTasksSubmitWaitFailed(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks", submittedJSON)
	api.reply("GET /api/v1/tasks/task-abc123", taskJSON("task-abc123", "failed", "partial output\n", "exit status 3", 3))

	r := drover(t, testEnv(t, api), "tasks", "submit", "shell", "--payload", `{"command":"exit 3"}`, "--wait")

	if r.code != 3 || r.stdout != "partial output\n" {
		t.Errorf("submit --wait of a failing task = exit %d, stdout %q; want the task's exit code 3 and the output", r.code, r.stdout)
	}
	if want := "Error: task task-abc123 failed: exit status 3 (exit code 3)\n"; !strings.HasSuffix(r.stderr, want) {
		t.Errorf("stderr %q, want it to end with %q", r.stderr, want)
	}
}

func TestTasksWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status   string
		wantCode int
	}{
		{"completed", exitOK},
		{"failed", exitError},
		{"cancelled", exitError},
	} {
		api := newFakeAPI(t)
		api.reply("GET /api/v1/tasks/task-1",
			taskJSON("task-1", "running", "", "", 0),
			taskJSON("task-1", tc.status, "out\n", "", 0))

		r := drover(t, testEnv(t, api), "tasks", "wait", "task-1")

		if r.code != tc.wantCode || r.stdout != "out\n" {
			t.Errorf("tasks wait on a %s task = exit %d, stdout %q; want %d", tc.status, r.code, r.stdout, tc.wantCode)
		}
	}
}

func TestTasksWaitJSON(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks/task-abc123", taskDetailJSON)
	if got, want := mustRun(t, testEnv(t, api), "tasks", "wait", "task-abc123", "-o", "json"), indented(t, taskDetailJSON); got != want {
		t.Errorf("stdout\n%s\nwant\n%s", got, want)
	}
}

func TestTasksList(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks", taskListJSON)

	out := mustRun(t, testEnv(t, api), "tasks", "list",
		"--status", "all", "--device", "android-001", "--type", "echo", "--queue", "FifoQ", "--limit", "2", "--offset", "4")

	checkGolden(t, out)
	if want := "device_id=android-001&limit=2&offset=4&queue=FifoQ&status=all&task_type=echo"; api.last(t).Query != want {
		t.Errorf("query %q, want %q", api.last(t).Query, want)
	}
}

func TestTasksListEmpty(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks", `{"tasks":[],"total":0,"pending":0,"running":0,"completed":0,"failed":0,"cancelled":0}`)
	if got := mustRun(t, testEnv(t, api), "tasks", "list"); got != "No tasks.\n" {
		t.Errorf("tasks list = %q", got)
	}
}

func TestTasksGet(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks/task-abc123", taskDetailJSON)
	checkGolden(t, mustRun(t, testEnv(t, api), "tasks", "get", "task-abc123"))
}

// -o json prints the data object as sent: unknown fields, nesting and
// number spelling ("2.50") survive.
func TestTasksGetJSON(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks/task-abc123", taskDetailJSON)
	got := mustRun(t, testEnv(t, api), "tasks", "get", "task-abc123", "-o", "json")
	if want := indented(t, taskDetailJSON); got != want {
		t.Errorf("stdout\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(got, `"future_field"`) || !strings.Contains(got, "2.50") {
		t.Errorf("-o json lost what the SDK does not know:\n%s", got)
	}
}

func TestTasksCancel(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("DELETE /api/v1/tasks/task-abc123", `{"cancelled_task":"task-abc123","was_running":true}`)
	if got := mustRun(t, testEnv(t, api), "tasks", "cancel", "task-abc123"); got != "Cancelled task task-abc123 (it was running)\n" {
		t.Errorf("stdout %q", got)
	}
}

func TestTasksRetry(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("POST /api/v1/tasks/task-abc123/retry", `{"new_task_id":"task-def456","original_task_id":"task-abc123"}`)

	out := mustRun(t, testEnv(t, api), "tasks", "retry", "task-abc123", "--priority", "high")

	if out != "Retried task task-abc123 as task-def456\n" {
		t.Errorf("stdout %q", out)
	}
	sameJSON(t, api.last(t).Body, `{"priority":"high"}`)
}

func TestTasksRetryFailedOnly(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.fail("POST /api/v1/tasks/task-abc123/retry", http.StatusBadRequest, `{"code":"INVALID_TASK_STATE","message":"task task-abc123 is running"}`)
	r := drover(t, testEnv(t, api), "tasks", "retry", "task-abc123")
	if r.code != exitError || r.stderr != "Error: INVALID_TASK_STATE: task task-abc123 is running\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

const (
	logsPage1 = `{"task_id":"task-1","status":"running","cursor":2,"logs":[
 {"seq":1,"timestamp":"2023-01-01T12:00:01Z","stream":"stdout","level":"info","message":"one"},
 {"seq":2,"timestamp":"2023-01-01T12:00:02.5Z","stream":"stderr","level":"error","message":"two\n"}]}`
	logsEmptyRunning = `{"task_id":"task-1","status":"running","cursor":2,"logs":[]}`
	logsPage2        = `{"task_id":"task-1","status":"completed","cursor":3,"logs":[
 {"seq":3,"timestamp":"2023-01-01T12:00:03Z","stream":"stdout","level":"info","message":"three"}]}`
	logsEmptyDone = `{"task_id":"task-1","status":"completed","cursor":3,"logs":[]}`
)

func TestTasksLogs(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks/task-1/logs", logsPage1, logsEmptyRunning)

	out := mustRun(t, testEnv(t, api), "tasks", "logs", "task-1")

	if out != "one\ntwo\n" {
		t.Errorf("stdout %q, want the messages", out)
	}
	if n := len(api.requests()); n != 2 {
		t.Errorf("%d requests, want 2: read pages until an empty one, then stop", n)
	}
}

func TestTasksLogsTimestamps(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks/task-1/logs", logsPage1, logsEmptyRunning)
	want := "2023-01-01T12:00:01Z one\n2023-01-01T12:00:02.5Z two\n"
	if got := mustRun(t, testEnv(t, api), "tasks", "logs", "task-1", "-t"); got != want {
		t.Errorf("stdout\n%s\nwant\n%s", got, want)
	}
}

func TestTasksLogsFollow(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks/task-1/logs", logsPage1, logsEmptyRunning, logsPage2, logsEmptyDone)

	out := mustRun(t, testEnv(t, api), "tasks", "logs", "-f", "task-1")

	if out != "one\ntwo\nthree\n" {
		t.Errorf("stdout %q", out)
	}
	var queries []string
	for _, r := range api.requests() {
		queries = append(queries, r.Query)
	}
	if diff := cmp.Diff([]string{"", "cursor=2", "cursor=2", "cursor=3"}, queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestTasksLogsFollowJSONLines(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t)
	api.reply("GET /api/v1/tasks/task-1/logs", logsPage1, logsEmptyRunning, logsPage2, logsEmptyDone)

	out := mustRun(t, testEnv(t, api), "tasks", "logs", "-f", "task-1", "-o", "json")

	want := `{"seq":1,"timestamp":"2023-01-01T12:00:01Z","stream":"stdout","level":"info","message":"one"}
{"seq":2,"timestamp":"2023-01-01T12:00:02.5Z","stream":"stderr","level":"error","message":"two\n"}
{"seq":3,"timestamp":"2023-01-01T12:00:03Z","stream":"stdout","level":"info","message":"three"}
`
	if out != want {
		t.Errorf("stdout\n%s\nwant\n%s", out, want)
	}
}
