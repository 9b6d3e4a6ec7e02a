package workflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/internal/workflow"
	"github.com/drover-run/drover/worker"
)

// relaxed timing keeps a loaded CI machine (-race, shared cores) from
// expiring leases of tasks that are in fact running.
var relaxed = drovertest.Options{HeartbeatInterval: time.Second, LeaseTTL: 10 * time.Second}

// inProcess is a test server with one in-process worker that runs shell.
func inProcess(t *testing.T) *drovertest.Server {
	t.Helper()
	srv := drovertest.NewServer(t, relaxed)
	srv.StartWorker(t, worker.Config{Name: "w1", Concurrency: 8, AllowShell: true})
	return srv
}

func shell(name, cmd string, deps ...string) api.WorkflowStep {
	p, _ := json.Marshal(map[string]string{"command": cmd})
	return api.WorkflowStep{Name: name, TaskType: "shell", Payload: p, DependsOn: deps}
}

func waitRun(t *testing.T, srv *drovertest.Server, id int64) *api.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := srv.Client.Runs.Wait(ctx, id, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("waiting for run %d: %v", id, err)
	}
	return r
}

func steps(r *api.Run) map[string]api.RunStep {
	m := map[string]api.RunStep{}
	for _, s := range r.Steps {
		m[s.Name] = s
	}
	return m
}

func TestDiamondInProcess(t *testing.T) {
	srv := inProcess(t)
	ctx := t.Context()
	c := srv.Client
	if _, err := c.Workflows.SetVariable(ctx, "GREETING", `hello "world"`); err != nil {
		t.Fatal(err)
	}
	w, err := c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "diamond", Steps: []api.WorkflowStep{
		shell("a", `echo 'a ${GREETING} run=${RUN_ID}'`),
		shell("b", "echo b", "a"), shell("c", "echo c; exit 3", "a"), shell("d", "echo d", "b", "c"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.Workflows.Run(ctx, w.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, srv, run.ID)
	st := steps(r)
	if r.Status != "failed" || st["a"].Status != "completed" || st["b"].Status != "completed" || st["c"].Status != "failed" || st["d"].Status != "upstream_failed" {
		t.Fatalf("run %+v", r)
	}
	if len(r.Failures) != 1 || r.Failures[0].Step != "c" || r.Failures[0].ExitCode != 3 {
		t.Fatalf("failures %+v: want step c with exit code 3", r.Failures)
	}
	logs, err := c.Runs.Logs(ctx, run.ID, client.RunLogOptions{ActionID: st["a"].ActionID})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`a hello "world" run=%d`, run.ID)
	if len(logs.Logs) == 0 || !strings.Contains(logs.Logs[0].Message, want) {
		t.Fatalf("logs %+v: want %q", logs.Logs, want)
	}
}

// TestStepTaskCreatedOnce simulates a crash between creating a step's task
// and recording it on the action: the next pass finds the same task (its
// idempotency key) instead of creating a second one.
func TestStepTaskCreatedOnce(t *testing.T) {
	srv := drovertest.NewServer(t, relaxed)
	ctx := t.Context()
	w, err := srv.Client.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "pair", Steps: []api.WorkflowStep{
		{Name: "a", TaskType: "echo", Payload: json.RawMessage(`{"message":"a"}`)},
		{Name: "b", TaskType: "echo", Payload: json.RawMessage(`{"message":"b"}`), DependsOn: []string{"a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := srv.Client.Workflows.Run(ctx, w.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// What a pass that crashed after its Submit left behind: b's task, unrecorded.
	orphan, err := srv.Client.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"b"}`),
		IdempotencyKey: workflow.IdempotencyKey(run.Steps[1].ActionID, 0)})
	if err != nil {
		t.Fatal(err)
	}
	srv.StartWorker(t, worker.Config{Name: "w", Concurrency: 2})
	r := waitRun(t, srv, run.ID)
	if r.Status != "completed" || r.Steps[1].TaskID != orphan.TaskID {
		t.Fatalf("run %s, b's task %s: want completed with the task created before the crash (%s)", r.Status, r.Steps[1].TaskID, orphan.TaskID)
	}
	l, err := srv.Client.Tasks.List(ctx, client.TaskListOptions{Limit: 1})
	if err != nil || l.Total != 2 || l.Completed != 2 {
		t.Fatalf("tasks %+v, %v: want exactly two, completed", l, err)
	}
}
