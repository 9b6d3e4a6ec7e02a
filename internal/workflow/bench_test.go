package workflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

const benchSteps = 1000

func benchServer(b *testing.B) *drovertest.Server {
	srv := drovertest.NewServer(b, drovertest.Options{})
	srv.StartWorker(b, worker.Config{Name: "bench", Concurrency: 64})
	return srv
}

func waitFor(b *testing.B, what string, cond func() bool) {
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var noop = json.RawMessage(`{"message":"x"}`)

// BenchmarkDAG1000 runs a workflow of 1,000 no-op steps: one root, a
// fan-out of 998, and a fan-in step after all of them.
func BenchmarkDAG1000(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	steps := []api.WorkflowStep{{Name: "root", TaskType: "echo", Payload: noop}}
	var mids []string
	for i := range benchSteps - 2 {
		name := fmt.Sprintf("s%d", i)
		mids = append(mids, name)
		steps = append(steps, api.WorkflowStep{Name: name, TaskType: "echo", Payload: noop, DependsOn: []string{"root"}})
	}
	steps = append(steps, api.WorkflowStep{Name: "join", TaskType: "echo", Payload: noop, DependsOn: mids})
	w, err := srv.Client.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "bench", Steps: steps})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		run, err := srv.Client.Workflows.Run(ctx, w.ID, api.RunWorkflowRequest{})
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, "the run", func() bool {
			r, err := srv.Client.Runs.Get(ctx, run.ID)
			return err == nil && r.Status == "completed"
		})
	}
}

// BenchmarkDirect1000 submits the same 1,000 no-op tasks directly, in one
// batch, and waits until all have completed: the baseline of BenchmarkDAG1000.
func BenchmarkDirect1000(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	reqs := make([]api.SubmitTaskRequest, benchSteps)
	for i := range reqs {
		reqs[i] = api.SubmitTaskRequest{TaskType: "echo", Payload: noop}
	}
	done := 0
	b.ResetTimer()
	for range b.N {
		if _, err := srv.Client.Tasks.SubmitBatch(ctx, reqs); err != nil {
			b.Fatal(err)
		}
		done += benchSteps
		waitFor(b, "the tasks", func() bool {
			l, err := srv.Client.Tasks.List(ctx, client.TaskListOptions{Limit: 1})
			return err == nil && l.Completed == done
		})
	}
}
