package drovertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// A test starts a server and a worker, then drives them through the
// server's client as any program would.
func Example() {
	t, done := exampleT() // in a test: its *testing.T
	defer done()
	ctx := context.Background()

	srv := drovertest.NewServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{Name: "w1", Concurrency: 2})

	sub, err := srv.Client.Tasks.Submit(ctx, api.SubmitTaskRequest{
		TaskType: "echo",
		Payload:  json.RawMessage(`{"message":"hello"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	task, err := srv.Client.Tasks.Wait(ctx, sub.TaskID, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(task.Status, task.DeviceID != nil && *task.DeviceID == "w1")
	fmt.Print(task.Result.Output)
	// Output:
	// completed true
	// hello
}

// With Auth on, the server wants a key: Server.Client carries the admin
// key, and StartWorker gives each worker a join token.
func ExampleNewServer_auth() {
	t, done := exampleT()
	defer done()
	ctx := context.Background()

	srv := drovertest.NewServer(t, drovertest.Options{Auth: true})
	srv.StartWorker(t, worker.Config{})

	devices, err := srv.Client.Devices.List(ctx, client.DeviceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(devices.Total, devices.Devices[0].ID)
	keys, err := srv.Client.Keys.List(ctx, client.KeyListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, k := range keys.Keys {
		kinds = append(kinds, k.Kind)
	}
	slices.Sort(kinds)
	fmt.Println(kinds)
	// Output:
	// 1 w1
	// [api join]
}

// A restarted server keeps its store and its address: clients and workers
// carry on.
func ExampleServer_Restart() {
	t, done := exampleT()
	defer done()
	ctx := context.Background()
	srv := drovertest.NewServer(t, drovertest.Options{})
	before := srv.APIURL()
	sub, err := srv.Client.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"kept"}`)})
	if err != nil {
		t.Fatal(err)
	}

	srv.Restart(t)
	srv.StartWorker(t, worker.Config{})

	task, err := srv.Client.Tasks.Wait(ctx, sub.TaskID, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(srv.APIURL() == before, task.Status, task.Result.Output)
	// Output:
	// true completed kept
}

// exampleTB stands in for the *testing.T an Example lacks: it runs the
// cleanups when done and turns failures into panics.
type exampleTB struct {
	testing.TB // never called: the methods the kit uses are below
	dir        string
	cleanups   []func()
}

func exampleT() (testing.TB, func()) {
	dir, err := os.MkdirTemp("", "drovertest-example")
	if err != nil {
		panic(err)
	}
	t := &exampleTB{dir: dir}
	return t, func() {
		for _, f := range slices.Backward(t.cleanups) {
			f()
		}
		os.RemoveAll(dir)
	}
}

func (t *exampleTB) Helper()                         {}
func (t *exampleTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (t *exampleTB) TempDir() string                 { return t.dir }
func (t *exampleTB) Fatal(args ...any)               { panic(fmt.Sprint(args...)) }
func (t *exampleTB) Fatalf(format string, a ...any)  { panic(fmt.Sprintf(format, a...)) }
func (t *exampleTB) Errorf(format string, a ...any)  { panic(fmt.Sprintf(format, a...)) }
func (t *exampleTB) Logf(format string, args ...any) {}
