package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

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

// submitted is the id in "Submitted task <id> (pending)".
var submitted = regexp.MustCompile(`^Submitted task (task-[0-9a-z]+) \(pending\)\n$`)

func TestTasksSubmitMinimal(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})

	r := mustRunR(t, testEnv(t, srv), "tasks", "submit", "echo", "--payload", `{"message": "test"}`)

	m := submitted.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout %q, want Submitted task <id> (pending)", r.stdout)
	}
	sent := r.last(t)
	sameJSON(t, sent.Body, `{"task_type":"echo","payload":{"message":"test"}}`)
	if h := sent.Header.Get("Idempotency-Key"); h != "" {
		t.Errorf("Idempotency-Key %q sent without --idempotency-key", h)
	}
	if task, err := srv.Client.Tasks.Get(t.Context(), m[1]); err != nil || string(task.Payload) != `{"message":"test"}` {
		t.Errorf("the server has %+v, %v; want the task with its payload", task, err)
	}
}

func TestTasksSubmitEveryFlag(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{Name: "rpi-002", Queues: []string{"nightly"}, Labels: map[string]string{"site": "home"}, AllowShell: true})
	env := testEnv(t, srv)

	r := mustRunR(t, env, "tasks", "submit", "shell",
		"--payload", `{"command":"uname -a"}`,
		"--priority", "high", "--queue", "nightly", "--device", "rpi-002",
		"--timeout", "5m", "--max-retries", "0", "--delay", "1.5",
		"--idempotency-key", "nightly-1",
		"--label", "team=infra", "--label", "cost=low",
		"--require-cpu", "1", "--require-memory-gb", "0.1", "--require-platform", runtime.GOOS, "--require-role", "compute",
		"--require-label", "site=home",
	)

	sent := r.last(t)
	sameJSON(t, sent.Body, `{
		"task_type": "shell", "payload": {"command": "uname -a"},
		"priority": "high", "queue": "nightly", "device_id": "rpi-002",
		"timeout": 300, "max_retries": 0, "delay_seconds": 1.5,
		"idempotency_key": "nightly-1",
		"labels": {"team": "infra", "cost": "low"},
		"requirements": {"min_cpu_cores": 1, "min_memory_gb": 0.1, "platform": "`+runtime.GOOS+`", "role": "compute", "labels": {"site": "home"}}
	}`)
	if h := sent.Header.Get("Idempotency-Key"); h != "nightly-1" {
		t.Errorf("Idempotency-Key = %q, want nightly-1", h)
	}
	// The server took every field.
	id := submitted.FindStringSubmatch(r.stdout)[1]
	got := mustRun(t, env, "tasks", "get", id)
	for _, want := range []string{"Priority:         high", "Queue:            nightly", "Attempt:          0 (max retries 0)",
		"Timeout:          300s", "Idempotency key:  nightly-1", "Labels:           cost=low,team=infra"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("tasks get lacks %q:\n%s", want, got)
		}
	}
}

func TestTasksSubmitPayloadFile(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	file := filepath.Join(t.TempDir(), "payload.json")
	if err := os.WriteFile(file, []byte(`{"seconds": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}

	r := mustRunR(t, testEnv(t, srv), "tasks", "submit", "sleep", "--payload", "@"+file)

	sameJSON(t, r.last(t).Body, `{"task_type":"sleep","payload":{"seconds":2}}`)
}

func TestTasksSubmitDuplicate(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	env := testEnv(t, srv)
	first := mustRun(t, env, "tasks", "submit", "echo", "--idempotency-key", "k", "--delay", "3600")
	id := submitted.FindStringSubmatch(first)[1]

	out := mustRun(t, env, "tasks", "submit", "echo", "--idempotency-key", "k", "--delay", "3600")

	if want := "Task " + id + " was already submitted with this idempotency key (pending)\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
}

func TestTasksSubmitJSON(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	r := mustRunR(t, testEnv(t, srv), "tasks", "submit", "echo", "-o", "json")
	if want := r.answered(t); r.stdout != want {
		t.Errorf("stdout\n%s\nwant the server's answer\n%s", r.stdout, want)
	}
	var got api.SubmitTaskResponse
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Status != "pending" || got.TaskID == "" {
		t.Errorf("stdout %s: %+v, %v", r.stdout, got, err)
	}
}

func TestTasksSubmitWait(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{})

	r := drover(t, testEnv(t, srv), "tasks", "submit", "echo", "--payload", `{"message":"test","repeat":2}`, "--wait")

	if r.code != exitOK || r.stdout != "test\ntest\n" {
		t.Errorf("submit --wait = exit %d, stdout %q; want 0 and the output", r.code, r.stdout)
	}
	// The log streams to stderr while the task runs; the result goes to stdout.
	if !regexp.MustCompile(`^Submitted task task-[0-9a-z]+; waiting for it to end\n(test\n)*$`).MatchString(r.stderr) {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestTasksSubmitWaitFailed(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{AllowShell: true})

	r := drover(t, testEnv(t, srv), "tasks", "submit", "shell", "--payload", `{"command":"echo partial output; exit 3"}`, "--wait")

	if r.code != 3 || r.stdout != "partial output\n" {
		t.Errorf("submit --wait of a failing task = exit %d, stdout %q; want the task's exit code 3 and the output", r.code, r.stdout)
	}
	if want := regexp.MustCompile(`Error: task task-[0-9a-z]+ failed: command exited with code 3 \(exit code 3\)\n$`); !want.MatchString(r.stderr) {
		t.Errorf("stderr %q, want it to match %s", r.stderr, want)
	}
}

// TestTasksWaitProgress: a command's progress lines reach the server
// through its worker; drover tasks submit --wait streams them to stderr
// beside the log, the output keeps neither, and drover tasks get shows the
// last one.
func TestTasksWaitProgress(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{AllowShell: true})

	r := drover(t, testEnv(t, srv), "tasks", "submit", "shell", "--payload",
		`{"command":"echo start; echo '::progress 0.5 half way'; sleep 1; echo '::progress 90%'; echo end; exit 4"}`, "--wait")

	if r.code != 4 || r.stdout != "start\nend\n" {
		t.Errorf("submit --wait = exit %d, stdout %q; want the task's exit code 4 and its output without progress lines", r.code, r.stdout)
	}
	// The first report is sent at once; the second may be coalesced with
	// it or come after, but the last one shown is the task's last.
	if !regexp.MustCompile(`(?s)\[ 50%\] half way\n.*\[ 90%\]\n`).MatchString(r.stderr) &&
		!regexp.MustCompile(`(?s)\[ 90%\]\n`).MatchString(r.stderr) {
		t.Errorf("stderr %q, want the progress reports", r.stderr)
	}
	if strings.Contains(r.stderr, "::progress") {
		t.Errorf("stderr %q holds a progress directive as a log line", r.stderr)
	}
	id := regexp.MustCompile(`task-[0-9a-z]+`).FindString(r.stderr)
	got := mustRun(t, testEnv(t, srv), "tasks", "get", id)
	if !regexp.MustCompile(`Progress:\s+\[ 90%\] \(attempt 1, `).MatchString(got) {
		t.Errorf("tasks get:\n%s\nwant a Progress line with the last report", got)
	}
	task, err := srv.Client.Tasks.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if p := task.Progress; p == nil || p.Fraction != 0.9 || p.Percent != 90 || p.Attempt != 1 || p.UpdatedAt.IsZero() {
		t.Errorf("GET /tasks/%s progress = %+v, want 0.9 (90%%) of attempt 1", id, p)
	}
}

func TestTasksWait(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{AllowShell: true})
	cancelled := submit(t, srv, delayed(echoReq("out", 1)))
	if _, err := srv.Client.Tasks.Cancel(t.Context(), cancelled); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id         string
		wantCode   int
		wantStdout string
	}{
		{submit(t, srv, echoReq("out", 1)), exitOK, "out\n"},
		{submit(t, srv, api.SubmitTaskRequest{TaskType: "shell", Payload: json.RawMessage(`{"command":"echo out; exit 1"}`)}), exitError, "out\n"},
		{cancelled, exitError, ""},
	} {
		r := drover(t, testEnv(t, srv), "tasks", "wait", tc.id)

		if r.code != tc.wantCode || r.stdout != tc.wantStdout {
			t.Errorf("tasks wait on task %s = exit %d, stdout %q; want %d, %q", tc.id, r.code, r.stdout, tc.wantCode, tc.wantStdout)
		}
	}
}

func TestTasksWaitJSON(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{})
	id := submit(t, srv, echoReq("hello", 1))
	if got, want := mustRun(t, testEnv(t, srv), "tasks", "wait", id, "-o", "json"), data(t, srv, "/api/v1/tasks/"+id); got != want {
		t.Errorf("stdout\n%s\nwant\n%s", got, want)
	}
}

func TestTasksList(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	var ids []string
	for _, req := range []api.SubmitTaskRequest{
		echoReq("a", 1),
		{TaskType: "sleep", Priority: "high", Payload: json.RawMessage(`{"seconds":1}`)},
		{TaskType: "echo", Queue: "nightly", Priority: "low"},
		{TaskType: "echo", Priority: "critical"},
	} {
		ids = append(ids, submit(t, srv, delayed(req)))
	}
	if _, err := srv.Client.Tasks.Cancel(t.Context(), ids[3]); err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, srv)

	checkGolden(t, scrub(mustRun(t, env, "tasks", "list"), ids))

	r := mustRunR(t, env, "tasks", "list",
		"--status", "all", "--device", "android-001", "--type", "echo", "--queue", "FifoQ", "--limit", "2", "--offset", "4")
	if want := "device_id=android-001&limit=2&offset=4&queue=FifoQ&status=all&task_type=echo"; r.last(t).Query != want {
		t.Errorf("query %q, want %q", r.last(t).Query, want)
	}
	if want := "No tasks.\n"; r.stdout != want {
		t.Errorf("tasks list of no match = %q, want %q", r.stdout, want)
	}
	got := mustRun(t, env, "tasks", "list", "--status", "pending", "--type", "sleep")
	if lines := strings.Split(got, "\n"); len(lines) != 5 || !strings.HasPrefix(lines[1], ids[1]+"  sleep  pending  high") ||
		lines[3] != "1 of 1 tasks: 1 pending, 0 running, 0 completed, 0 failed, 0 cancelled" {
		t.Errorf("tasks list --status pending --type sleep =\n%s", got)
	}
}

func TestTasksListEmpty(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	if got := mustRun(t, testEnv(t, srv), "tasks", "list"); got != "No tasks.\n" {
		t.Errorf("tasks list = %q", got)
	}
}

// a finished task, for tasks get.
func finishedTask(t *testing.T, srv *drovertest.Server) string {
	t.Helper()
	srv.StartWorker(t, worker.Config{Name: "android-001"})
	req := echoReq("hello", 2)
	req.Labels = map[string]string{"team": "infra"}
	req.IdempotencyKey = "nightly-1"
	id := submit(t, srv, req)
	waitFor(t, srv, id)
	return id
}

func TestTasksGet(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	id := finishedTask(t, srv)
	out := mustRun(t, testEnv(t, srv), "tasks", "get", id)
	checkGolden(t, scrub(out, []string{id}, "Duration", "Resources"))
}

// -o json prints the data object as the server sent it.
func TestTasksGetJSON(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	id := finishedTask(t, srv)
	r := mustRunR(t, testEnv(t, srv), "tasks", "get", id, "-o", "json")
	if want := r.answered(t); r.stdout != want {
		t.Errorf("stdout\n%s\nwant\n%s", r.stdout, want)
	}
	if want := data(t, srv, "/api/v1/tasks/"+id); r.stdout != want {
		t.Errorf("stdout\n%s\nwant what GET /api/v1/tasks/%s answers\n%s", r.stdout, id, want)
	}
}

func TestTasksCancel(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	env := testEnv(t, srv)
	pending := submit(t, srv, delayed(echoReq("x", 1)))
	if got := mustRun(t, env, "tasks", "cancel", pending); got != "Cancelled task "+pending+" (it was pending)\n" {
		t.Errorf("stdout %q", got)
	}

	srv.StartWorker(t, worker.Config{})
	running := submit(t, srv, api.SubmitTaskRequest{TaskType: "sleep", Payload: json.RawMessage(`{"seconds":30}`)})
	drovertest.Eventually(t, 10*time.Second, func() bool {
		task, err := srv.Client.Tasks.Get(t.Context(), running)
		return err == nil && task.Status == "running"
	}, "the sleep task to run")
	if got := mustRun(t, env, "tasks", "cancel", running); got != "Cancelled task "+running+" (it was running)\n" {
		t.Errorf("stdout %q", got)
	}

	r := drover(t, env, "tasks", "cancel", pending)
	if r.code != exitError || !strings.HasPrefix(r.stderr, "Error: TASK_NOT_CANCELLABLE: ") {
		t.Errorf("cancelling a cancelled task: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestTasksRetry(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{AllowShell: true})
	failed := submit(t, srv, api.SubmitTaskRequest{TaskType: "shell", Payload: json.RawMessage(`{"command":"exit 1"}`)})
	waitFor(t, srv, failed)

	r := mustRunR(t, testEnv(t, srv), "tasks", "retry", failed, "--priority", "high")

	m := regexp.MustCompile(`^Retried task ` + failed + ` as (task-[0-9a-z]+)\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout %q", r.stdout)
	}
	sameJSON(t, r.last(t).Body, `{"priority":"high"}`)
	if task, err := srv.Client.Tasks.Get(t.Context(), m[1]); err != nil || task.OriginalTaskID != failed || task.Priority != "high" {
		t.Errorf("the new task: %+v, %v", task, err)
	}
}

func TestTasksRetryFailedOnly(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	id := submit(t, srv, delayed(echoReq("x", 1)))
	r := drover(t, testEnv(t, srv), "tasks", "retry", id)
	want := "Error: TASK_NOT_RETRYABLE: task '" + id + "' is pending; only a finished task can be retried\n" +
		"  status: \"pending\"\n  task_id: \"" + id + "\"\n"
	if r.code != exitError || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
}

func TestTasksLogs(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{})
	id := submit(t, srv, echoReq("one", 2))
	waitFor(t, srv, id)
	env := testEnv(t, srv)

	r := mustRunR(t, env, "tasks", "logs", id)
	if r.stdout != "one\none\n" {
		t.Errorf("stdout %q, want the messages", r.stdout)
	}
	if n := len(r.reqs); n != 2 {
		t.Errorf("%d requests, want 2: read pages until an empty one, then stop", n)
	}

	out := mustRun(t, env, "tasks", "logs", id, "-t")
	if want := "TIME one\nTIME one\n"; scrub(out, nil) != want {
		t.Errorf("stdout\n%s\nwant\n%s", out, want)
	}
}

func TestTasksLogsFollow(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	id := submit(t, srv, api.SubmitTaskRequest{TaskType: "shell",
		Payload: json.RawMessage(`{"command":"echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three"}`)})
	srv.StartWorker(t, worker.Config{AllowShell: true})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tasks", "logs", "-f", id}, "one\ntwo\nthree\n"},
		{[]string{"tasks", "logs", "-f", id, "-o", "json"}, ""},
	} {
		r := mustRunR(t, testEnv(t, srv), tc.args...)
		if tc.want != "" {
			if r.stdout != tc.want {
				t.Errorf("%s: stdout %q, want %q", strings.Join(tc.args, " "), r.stdout, tc.want)
			}
			if len(r.reqs) < 3 {
				t.Errorf("%s: %d requests, want it to follow the log over several", strings.Join(tc.args, " "), len(r.reqs))
			}
			continue
		}
		// JSON lines, one per log line, as the server sent them.
		var streams, messages []string
		for line := range strings.Lines(r.stdout) {
			var l api.LogLine
			if err := json.Unmarshal([]byte(line), &l); err != nil || l.Seq == 0 || l.Timestamp.IsZero() {
				t.Errorf("line %q: %+v, %v", line, l, err)
			}
			streams, messages = append(streams, l.Stream), append(messages, l.Message)
		}
		if diff := cmp.Diff([]string{"stdout", "stderr", "stdout"}, streams); diff != "" {
			t.Errorf("-o json streams (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"one", "two", "three"}, messages); diff != "" {
			t.Errorf("-o json messages (-want +got):\n%s", diff)
		}
	}
}
