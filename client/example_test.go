package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// fakeDrover stands in for a Drover server so that the examples run; a
// program passes the address of a real one, such as http://127.0.0.1:8081.
func fakeDrover() *httptest.Server {
	answers := map[string]string{
		"POST /api/v1/tasks":                   `{"task_id":"task-abc123","status":"pending","assigned_device":null,"estimated_completion":null}`,
		"GET /api/v1/tasks/task-abc123":        `{"task":{"task_id":"task-abc123","task_type":"echo","status":"completed","result":{"output":"hello\nhello\n","exit_code":0}}}`,
		"GET /api/v1/tasks/task-abc123/logs":   `{"task_id":"task-abc123","status":"completed","cursor":2,"logs":[{"seq":1,"message":"hello"},{"seq":2,"message":"hello"}]}`,
		"GET /api/v1/tasks/task-abc123/logs?2": `{"task_id":"task-abc123","status":"completed","cursor":2,"logs":[]}`,
		"GET /api/v1/devices":                  `{"devices":[{"id":"android-001","status":"online","role":"mobile"},{"id":"rpi-002","status":"online","role":"compute"}],"total":2,"online":2,"offline":0}`,
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		if cursor := r.URL.Query().Get("cursor"); cursor != "" {
			key += "?" + cursor
		}
		data, ok := answers[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"status":"error","error":{"code":"TASK_NOT_FOUND","message":"task %s does not exist"},"request_id":"req-42"}`,
				strings.TrimPrefix(r.URL.Path, "/api/v1/tasks/"))
			return
		}
		fmt.Fprintf(w, `{"status":"success","data":%s,"request_id":"req-42"}`, data)
	}))
}

// Submit a task, wait for it to end and print what it wrote.
func Example() {
	srv := fakeDrover()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL, client.WithAPIKey("your-key"))
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
	fmt.Println(task.TaskID, task.Status)
	fmt.Print(task.Result.Output)
	// Output:
	// task-abc123 completed
	// hello
	// hello
}

func ExampleTasksService_FollowLogs() {
	srv := fakeDrover()
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}

	err = c.Tasks.FollowLogs(context.Background(), "task-abc123", func(l api.LogLine) {
		fmt.Println(l.Seq, l.Message)
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// 1 hello
	// 2 hello
}

func ExampleDevicesService_List() {
	srv := fakeDrover()
	defer srv.Close()
	c, err := client.New(srv.URL)
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
	srv := fakeDrover()
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.Tasks.Get(context.Background(), "task-nope")

	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == "TASK_NOT_FOUND" {
		fmt.Println("no such task:", apiErr.Message)
	}
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.StatusCode, e.RequestID)
	}
	// Output:
	// no such task: task task-nope does not exist
	// 404 req-42
}
