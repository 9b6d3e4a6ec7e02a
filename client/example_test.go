package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"testing"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// startDrover runs a test server with two workers, android-001 (mobile)
// and rpi-002 (compute), so that the examples run; a program passes the
// address of a real server, such as http://127.0.0.1:8081.
func startDrover() (url string, stop func()) {
	t := &exampleTB{}
	dir, err := os.MkdirTemp("", "drover-example")
	if err != nil {
		log.Fatal(err)
	}
	t.dir = dir
	opts := drovertest.Options{}
	lenient(&opts)
	srv := drovertest.NewServer(t, opts)
	srv.StartWorker(t, worker.Config{Name: "android-001", Role: "mobile"})
	srv.StartWorker(t, worker.Config{Name: "rpi-002", Role: "compute"})
	return srv.APIURL(), func() {
		for _, f := range slices.Backward(t.cleanups) {
			f()
		}
		os.RemoveAll(dir)
	}
}

// Submit a task, wait for it to end and print what it wrote.
func Example() {
	url, stop := startDrover()
	defer stop()
	ctx := context.Background()

	c, err := client.New(url) // client.WithAPIKey(key) when the server runs with --auth
	if err != nil {
		log.Fatal(err)
	}
	sub, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{
		TaskType: "echo",
		Payload:  json.RawMessage(`{"message":"hello","repeat":2}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	task, err := c.Tasks.Wait(ctx, sub.TaskID, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(task.Status)
	fmt.Println(task.Result.Output)
	// Output:
	// completed
	// hello
	// hello
}

func ExampleTasksService_FollowLogs() {
	url, stop := startDrover()
	defer stop()
	ctx := context.Background()
	c, err := client.New(url)
	if err != nil {
		log.Fatal(err)
	}
	sub, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"hello","repeat":2}`)})
	if err != nil {
		log.Fatal(err)
	}

	err = c.Tasks.FollowLogs(ctx, sub.TaskID, func(l api.LogLine) {
		fmt.Println(l.Stream, l.Message)
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// stdout hello
	// stdout hello
}

func ExampleDevicesService_List() {
	url, stop := startDrover()
	defer stop()
	c, err := client.New(url)
	if err != nil {
		log.Fatal(err)
	}

	list, err := c.Devices.List(context.Background(), client.DeviceListOptions{Status: "online"})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range list.Devices {
		fmt.Println(d.ID, d.Role)
	}
	// Output:
	// android-001 mobile
	// rpi-002 compute
}

// An error answer unwraps to the server's *api.Error; *client.Error adds
// the HTTP status and the request id.
func ExampleError() {
	url, stop := startDrover()
	defer stop()
	c, err := client.New(url)
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.Tasks.Get(context.Background(), "task-nope")

	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == "TASK_NOT_FOUND" {
		fmt.Println("no such task:", apiErr.Details["task_id"])
	}
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.StatusCode, e.RequestID != "")
	}
	// Output:
	// no such task: task-nope
	// 404 true
}

// exampleTB stands in for the *testing.T an Example lacks: the cleanups
// run when the example stops the server, and failures panic.
type exampleTB struct {
	testing.TB // never called: the methods drovertest uses are below
	dir        string
	cleanups   []func()
}

func (t *exampleTB) Helper()                         {}
func (t *exampleTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (t *exampleTB) TempDir() string                 { return t.dir }
func (t *exampleTB) Fatalf(format string, a ...any)  { panic(fmt.Sprintf(format, a...)) }
func (t *exampleTB) Errorf(format string, a ...any)  { panic(fmt.Sprintf(format, a...)) }
func (t *exampleTB) Logf(format string, args ...any) {}
