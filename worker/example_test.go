package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/worker"
)

// A program that runs its own task type next to the built-ins. Submit one
// with: drover tasks submit shout --payload '{"text":"hi"}'.
func ExampleWorker_Handle() {
	w, err := worker.New(worker.Config{
		Server:      "http://127.0.0.1:8080",
		Queues:      []string{"FifoQ"},
		Concurrency: 4,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w.Handle("shout", func(ctx context.Context, t *worker.Task) (*api.TaskResult, error) {
		var p struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(t.Payload, &p); err != nil {
			return nil, fmt.Errorf("invalid shout payload: %w", err) // the task fails
		}
		fmt.Fprintf(t.Log, "shouting %d bytes\n", len(p.Text)) // a line of the task's log
		return &api.TaskResult{Output: strings.ToUpper(p.Text)}, nil
	})

	// Ctrl-C drains: running tasks finish, then the worker deregisters.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// A long handler reports how far it got; drover tasks wait shows
// "[ 40%] copied 4 of 10 files", and GET /api/v1/tasks/{id} the last report.
// Calling it on every item is cheap: reports are coalesced to about one a
// second.
func ExampleTask_Progress() {
	copyFiles := func(ctx context.Context, t *worker.Task) (*api.TaskResult, error) {
		files := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
		for i := range files {
			if err := ctx.Err(); err != nil {
				return nil, err // cancelled, timed out or the lease was lost
			}
			// … copy files[i] …
			t.Progress(float64(i+1)/float64(len(files)), fmt.Sprintf("copied %d of %d files", i+1, len(files)))
		}
		return &api.TaskResult{Output: "copied"}, nil
	}
	w, _ := worker.New(worker.Config{Server: "http://127.0.0.1:8080"})
	w.Handle("copy-files", copyFiles)
}
