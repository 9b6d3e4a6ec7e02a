package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store/sqlite"
	"path/filepath"
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
// idempotency key) instead of creating a second one. It drives the engines
// in process, since only the engine may make a task under its keys.
func TestStepTaskCreatedOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wf.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tasks, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := workflow.New(workflow.Options{Store: st, Tasks: tasks})
	w, err := e.Create(ctx, domain.Actor{}, &domain.Workflow{Name: "pair", Steps: []domain.Step{
		{Name: "a", TaskType: "echo", Payload: json.RawMessage(`{"message":"a"}`)},
		{Name: "b", TaskType: "echo", Payload: json.RawMessage(`{"message":"b"}`), DependsOn: []string{"a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.RunNow(ctx, w.ID, workflow.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What a pass that crashed after its Submit left behind: b's task, unrecorded.
	orphan, err := tasks.Submit(ctx, []*domain.Task{{Type: "echo", Payload: json.RawMessage(`{"message":"b"}`),
		IdempotencyKey: workflow.IdempotencyKey(run.Actions[1].ID, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	wk, err := tasks.Register(ctx, &domain.Worker{Name: "w", Hostname: "w", TaskTypes: []string{"echo"},
		Queues: []string{domain.DefaultQueue}, Concurrency: 4, Resources: domain.Resources{CPUCores: 1, MemoryTotalGB: 1}}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	finishAll := func() {
		t.Helper()
		leased, err := tasks.Lease(ctx, wk, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, lt := range leased {
			if _, err := tasks.Finish(ctx, wk.ID, []domain.AttemptResult{{Ref: domain.TaskRef{TaskID: lt.ID, Epoch: lt.LeaseEpoch}, Succeeded: true}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 4 { // a, then b: each pass advances what the last one finished
		if err := e.AdvanceRun(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
		finishAll()
	}
	r, err := e.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != domain.RunCompleted || r.Actions[1].TaskID != orphan[0].Task.ID {
		t.Fatalf("run %s, b's task %s: want completed with the task created before the crash (%s)", r.State, r.Actions[1].TaskID, orphan[0].Task.ID)
	}
	page, err := tasks.Tasks(ctx, dispatch.TaskFilter{})
	if err != nil || len(page.Tasks) != 2 {
		t.Fatalf("tasks %d, %v: want exactly two", len(page.Tasks), err)
	}
}

// TestConnectionSecretReachesOnlyTheWorker: a step's connection is in the
// environment its worker runs it with, and nowhere the API shows: not in
// the task's payload, nor in the log of the task detail.
func TestConnectionSecretReachesOnlyTheWorker(t *testing.T) {
	t.Parallel()
	opts := relaxed
	opts.SecretKey = "0123456789abcdef0123456789abcdef"
	srv := drovertest.NewServer(t, opts)
	ctx := t.Context()
	if _, err := srv.Client.Workflows.SetConnection(ctx, "warehouse", "postgres://u:hunter2@db/x"); err != nil {
		t.Fatal(err)
	}
	w, err := srv.Client.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "uses-secret", Steps: []api.WorkflowStep{
		{Name: "check", TaskType: "shell", Connections: []string{"warehouse"},
			Payload: json.RawMessage(`{"command":"[ \"${WAREHOUSE#postgres://u:}\" != \"$WAREHOUSE\" ] && echo has-the-secret-of-length-${#WAREHOUSE}"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := srv.Client.Workflows.Run(ctx, w.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	srv.StartWorker(t, worker.Config{Name: "w", Concurrency: 2, AllowShell: true})
	r := waitRun(t, srv, run.ID)
	task, err := srv.Client.Tasks.Get(ctx, r.Steps[0].TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "completed" || task.Result == nil || !strings.Contains(task.Result.Output, "has-the-secret-of-length-25") {
		t.Fatalf("run %s, task %+v: the step did not see its connection", r.Status, task.Result)
	}
	raw, _ := json.Marshal(task)
	if strings.Contains(string(raw), "hunter2") {
		t.Fatalf("the API shows the connection's secret: %s", raw)
	}
	// A client cannot take the engine's keys to have a secret resolved into a task of its own.
	_, err = srv.Client.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "shell", IdempotencyKey: "wf-action-999-0",
		Payload: json.RawMessage(`{"command":"echo ${connection:warehouse}"}`)})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.API.Code != "VALIDATION_ERROR" {
		t.Fatalf("a client task with an engine key: %v, want VALIDATION_ERROR", err)
	}
}
