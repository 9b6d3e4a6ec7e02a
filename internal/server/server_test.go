package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// newHandler is the API over a fresh SQLite store, without listeners.
func newHandler(t testing.TB) http.Handler {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "api.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Engine: eng, Insight: insight.New(st, nil, time.Now()), Version: "test"})
	// Every success status a route answers must be one its declaration
	// (and so the OpenAPI document) names.
	srv.Router().Undeclared = func(rt *httpapi.Route, status int) {
		t.Errorf("%s answered %d, which its route does not declare", rt.Pattern(), status)
	}
	return srv.Handler()
}

type answer struct {
	status int
	env    api.Envelope
	header http.Header
}

func do(t testing.TB, h http.Handler, method, path, body string, hdr ...string) answer {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var env api.Envelope
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("%s %s: answer is not the JSON envelope: %v\n%s", method, path, err, w.Body.String())
	}
	return answer{w.Code, env, w.Header()}
}

func TestBadInputGetsPreciseErrors(t *testing.T) {
	t.Parallel()
	h := newHandler(t)
	huge := `{"task_type":"echo","payload":{"message":"` + strings.Repeat("x", 2<<20) + `"}}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/api/v1/tasks", `{"task_type": "echo",`, 400, "INVALID_JSON"},
		{"not an object", "POST", "/api/v1/tasks", `[1,2]`, 400, "INVALID_JSON"},
		{"empty body", "POST", "/api/v1/tasks", ``, 400, "INVALID_JSON"},
		{"two values", "POST", "/api/v1/tasks", `{"task_type":"echo"} {}`, 400, "INVALID_JSON"},
		{"missing type", "POST", "/api/v1/tasks", `{"payload":{}}`, 400, "VALIDATION_ERROR"},
		{"wrong type of field", "POST", "/api/v1/tasks", `{"task_type":"echo","timeout":"soon"}`, 400, "VALIDATION_ERROR"},
		{"unknown field", "POST", "/api/v1/tasks", `{"task_type":"echo","tiemout":3}`, 400, "VALIDATION_ERROR"},
		{"unknown task type", "POST", "/api/v1/tasks", `{"task_type":"teleport"}`, 400, "INVALID_TASK_TYPE"},
		{"bad type name", "POST", "/api/v1/tasks", `{"task_type":"rm -rf /"}`, 400, "INVALID_TASK_TYPE"},
		{"negative timeout", "POST", "/api/v1/tasks", `{"task_type":"echo","timeout":-1}`, 400, "VALIDATION_ERROR"},
		{"huge timeout", "POST", "/api/v1/tasks", `{"task_type":"echo","timeout":99999999999}`, 400, "VALIDATION_ERROR"},
		{"timeout overflows int", "POST", "/api/v1/tasks", `{"task_type":"echo","timeout":1e40}`, 400, "VALIDATION_ERROR"},
		{"bad priority", "POST", "/api/v1/tasks", `{"task_type":"echo","priority":"urgent"}`, 400, "VALIDATION_ERROR"},
		{"negative retries", "POST", "/api/v1/tasks", `{"task_type":"echo","max_retries":-3}`, 400, "VALIDATION_ERROR"},
		{"delay and run_at", "POST", "/api/v1/tasks", `{"task_type":"echo","delay_seconds":1,"run_at":"2030-01-01T00:00:00Z"}`, 400, "VALIDATION_ERROR"},
		{"bad echo payload", "POST", "/api/v1/tasks", `{"task_type":"echo","payload":{"message":3}}`, 400, "VALIDATION_ERROR"},
		{"echo repeat out of range", "POST", "/api/v1/tasks", `{"task_type":"echo","payload":{"message":"a","repeat":0}}`, 400, "VALIDATION_ERROR"},
		{"shell without command", "POST", "/api/v1/tasks", `{"task_type":"shell","payload":{}}`, 400, "VALIDATION_ERROR"},
		{"http without url", "POST", "/api/v1/tasks", `{"task_type":"http","payload":{"url":"ftp://x"}}`, 400, "VALIDATION_ERROR"},
		{"negative cpu requirement", "POST", "/api/v1/tasks", `{"task_type":"echo","requirements":{"min_cpu_cores":-2}}`, 400, "VALIDATION_ERROR"},
		{"fractional cpu requirement", "POST", "/api/v1/tasks", `{"task_type":"echo","requirements":{"min_cpu_cores":1.5}}`, 400, "VALIDATION_ERROR"},
		{"cpu requirement beyond int", "POST", "/api/v1/tasks", `{"task_type":"echo","requirements":{"min_cpu_cores":1e30}}`, 400, "VALIDATION_ERROR"},
		{"cpu requirement no device has", "POST", "/api/v1/tasks", `{"task_type":"echo","requirements":{"min_cpu_cores":100000}}`, 400, "INSUFFICIENT_RESOURCES"},
		{"oversized body", "POST", "/api/v1/tasks", huge, 413, "PAYLOAD_TOO_LARGE"},
		{"pin to unknown device", "POST", "/api/v1/tasks", `{"task_type":"echo","device_id":"android-001"}`, 404, "DEVICE_NOT_FOUND"},
		{"empty batch", "POST", "/api/v1/tasks/batch", `{"tasks":[]}`, 400, "VALIDATION_ERROR"},
		{"bad item in batch", "POST", "/api/v1/tasks/batch", `{"tasks":[{"task_type":"echo"},{"task_type":""}]}`, 400, "VALIDATION_ERROR"},
		{"unknown task", "GET", "/api/v1/tasks/task-nope", "", 404, "TASK_NOT_FOUND"},
		{"cancel unknown task", "DELETE", "/api/v1/tasks/task-nope", "", 404, "TASK_NOT_FOUND"},
		{"retry unknown task", "POST", "/api/v1/tasks/task-nope/retry", `{}`, 404, "TASK_NOT_FOUND"},
		{"logs of unknown task", "GET", "/api/v1/tasks/task-nope/logs", "", 404, "TASK_NOT_FOUND"},
		{"unknown device", "GET", "/api/v1/devices/invalid-device", "", 404, "DEVICE_NOT_FOUND"},
		{"remove unknown device", "DELETE", "/api/v1/devices/invalid-device", "", 404, "DEVICE_NOT_FOUND"},
		{"bad force", "DELETE", "/api/v1/devices/x?force=maybe", "", 400, "VALIDATION_ERROR"},
		{"bad list status", "GET", "/api/v1/tasks?status=done", "", 400, "VALIDATION_ERROR"},
		{"bad limit", "GET", "/api/v1/tasks?limit=-5", "", 400, "VALIDATION_ERROR"},
		{"huge limit", "GET", "/api/v1/tasks?limit=99999999999999999999", "", 400, "VALIDATION_ERROR"},
		{"bad since", "GET", "/api/v1/tasks?since=yesterday", "", 400, "VALIDATION_ERROR"},
		{"bad device status", "GET", "/api/v1/devices?status=sleepy", "", 400, "VALIDATION_ERROR"},
		{"NUL in payload", "POST", "/api/v1/tasks", `{"task_type":"echo","payload":{"message":"a\u0000b"}}`, 400, "VALIDATION_ERROR"},
		{"NUL in a label", "POST", "/api/v1/tasks", `{"task_type":"echo","labels":{"k":"a\u0000"}}`, 400, "VALIDATION_ERROR"},
		{"bad cursor", "GET", "/api/v1/tasks/task-x/logs?cursor=abc", "", 400, "VALIDATION_ERROR"}, // the request is checked before the store
		{"logs of an unknown task", "GET", "/api/v1/tasks/task-x/logs", "", 404, "TASK_NOT_FOUND"},
		{"unknown route", "GET", "/api/v1/nothing", "", 404, "NOT_FOUND"},
		{"wrong method", "PUT", "/api/v1/tasks", `{}`, 405, "METHOD_NOT_ALLOWED"},
		{"a form, not JSON", "POST", "/api/v1/tasks", `task_type=echo`, 400, "INVALID_JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var env api.Envelope
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("answer is not the envelope: %v\n%s", err, w.Body.String())
			}
			if w.Code != tc.status || env.Error == nil || env.Error.Code != tc.code {
				t.Fatalf("%s %s = %d %+v, want %d %s", tc.method, tc.path, w.Code, env.Error, tc.status, tc.code)
			}
			if env.Status != "error" || env.Error.Message == "" || env.RequestID == "" || env.Timestamp.IsZero() {
				t.Errorf("error envelope incomplete: %s", w.Body.String())
			}
		})
	}
	// Nothing of the above was stored.
	a := do(t, h, "GET", "/api/v1/tasks", "")
	var list api.TaskList
	json.Unmarshal(a.env.Data, &list)
	if list.Total != 0 {
		t.Errorf("after only bad input, %d tasks exist, want 0", list.Total)
	}
}

func TestSubmitAndRead(t *testing.T) {
	t.Parallel()
	h := newHandler(t)
	// Document 001's full example, except the pin (no device is registered here).
	a := do(t, h, "POST", "/api/v1/tasks", `{
	  "task_type": "echo",
	  "payload": {"message": "Hello World", "repeat": 3},
	  "priority": "normal",
	  "requirements": {"min_cpu_cores": 2, "min_memory_gb": 1, "platform": "android"},
	  "timeout": 300
	}`, "X-Request-ID", "req-42")
	if a.status != 201 || a.env.Status != "success" {
		t.Fatalf("submit = %d %+v", a.status, a.env)
	}
	if a.env.RequestID != "req-42" || a.header.Get("X-Request-ID") != "req-42" {
		t.Errorf("request id = %q / %q, want the caller's req-42 echoed", a.env.RequestID, a.header.Get("X-Request-ID"))
	}
	var sub api.SubmitTaskResponse
	json.Unmarshal(a.env.Data, &sub)
	if !strings.HasPrefix(sub.TaskID, "task-") {
		t.Fatalf("task_id = %q, want task-…", sub.TaskID)
	}

	a = do(t, h, "GET", "/api/v1/tasks/"+sub.TaskID, "")
	var det api.TaskDetail
	json.Unmarshal(a.env.Data, &det)
	if det.Task.Status != "pending" || det.Task.Timeout != 300 || det.Task.Priority != "normal" || len(det.Task.DetailedLog) == 0 {
		t.Errorf("detail = %+v", det.Task)
	}
	if !bytes.Equal(det.Task.Payload, []byte(`{"message":"Hello World","repeat":3}`)) {
		t.Errorf("payload = %s", det.Task.Payload)
	}

	a = do(t, h, "GET", "/api/v1/tasks?status=pending", "")
	var list api.TaskList
	json.Unmarshal(a.env.Data, &list)
	if list.Total != 1 || list.Pending != 1 || len(list.Tasks) != 1 {
		t.Errorf("list = %+v", list)
	}

	a = do(t, h, "DELETE", "/api/v1/tasks/"+sub.TaskID, "")
	var can api.CancelTaskResponse
	json.Unmarshal(a.env.Data, &can)
	if a.status != 200 || can.CancelledTask != sub.TaskID || can.WasRunning {
		t.Errorf("cancel = %d %+v", a.status, can)
	}
	a = do(t, h, "DELETE", "/api/v1/tasks/"+sub.TaskID, "")
	if a.status != 409 || a.env.Error.Code != "TASK_NOT_CANCELLABLE" {
		t.Errorf("second cancel = %d %+v, want 409 TASK_NOT_CANCELLABLE", a.status, a.env.Error)
	}

	a = do(t, h, "POST", "/api/v1/tasks/"+sub.TaskID+"/retry", `{"priority":"high"}`)
	var re api.RetryTaskResponse
	json.Unmarshal(a.env.Data, &re)
	if a.status != 201 || re.OriginalTaskID != sub.TaskID || re.NewTaskID == sub.TaskID {
		t.Errorf("retry = %d %+v", a.status, re)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	h := newHandler(t)
	body := `{"task_type":"echo","payload":{"message":"once"}}`
	first := do(t, h, "POST", "/api/v1/tasks", body, "Idempotency-Key", "k-1")
	again := do(t, h, "POST", "/api/v1/tasks", body, "Idempotency-Key", "k-1")
	var a, b api.SubmitTaskResponse
	json.Unmarshal(first.env.Data, &a)
	json.Unmarshal(again.env.Data, &b)
	if first.status != 201 || again.status != 200 || a.TaskID != b.TaskID || !b.Duplicate {
		t.Fatalf("replay = %d %+v after %d %+v; want 200 and the same task", again.status, b, first.status, a)
	}
	other := do(t, h, "POST", "/api/v1/tasks", `{"task_type":"echo","payload":{"message":"twice"}}`, "Idempotency-Key", "k-1")
	if other.status != 409 || other.env.Error.Code != "IDEMPOTENCY_CONFLICT" {
		t.Fatalf("reuse with another body = %d %+v, want 409 IDEMPOTENCY_CONFLICT", other.status, other.env.Error)
	}
	// A replay that spells out the defaults is the same request.
	spelled := do(t, h, "POST", "/api/v1/tasks", `{"task_type":"echo","payload":{"message":"once"},"priority":"normal","queue":"FifoQ"}`, "Idempotency-Key", "k-1")
	if spelled.status != 200 {
		t.Errorf("replay spelling out the defaults = %d %+v, want 200", spelled.status, spelled.env.Error)
	}
	list := do(t, h, "GET", "/api/v1/tasks", "")
	var l api.TaskList
	json.Unmarshal(list.env.Data, &l)
	if l.Total != 1 {
		t.Errorf("%d tasks stored, want 1", l.Total)
	}
}

// FuzzSubmit throws arbitrary bodies at the JSON endpoints: the answer is
// always the envelope, never a 5xx.
func FuzzSubmit(f *testing.F) {
	seeds := []string{
		`{"task_type": "echo", "payload": {"message": "Hello World"}}`,
		`{"task_type": "echo", "payload": {"message": "Hello World", "repeat": 3}, "priority": "normal", "device_id": "android-001", "requirements": {"min_cpu_cores": 2, "min_memory_gb": 1, "platform": "android"}, "timeout": 300}`,
		`{"tasks": [{"task_type": "sleep", "payload": {"seconds": 0}}]}`,
		`{"priority": "high"}`,
		`{"task_type":"shell","payload":{"argv":["ls"]},"delay_seconds":1e308}`,
		`[[[[[[[[[[]]]]]]]]]]`, `null`, `"x"`, `{"task_type":"http","payload":{"url":"http://[::1"}}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	h := newHandler(f)
	paths := []string{"/api/v1/tasks", "/api/v1/tasks/batch", "/api/v1/tasks/task-x/retry"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q = %d %s", path, body, w.Code, w.Body.String())
		}
		var env api.Envelope
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.RequestID == "" {
			t.Fatalf("POST %s %q: not the envelope: %s", path, body, w.Body.String())
		}
		if env.Status == "error" && (env.Error == nil || env.Error.Code == "" || env.Error.Message == "") {
			t.Fatalf("POST %s %q: error without code or message: %s", path, body, w.Body.String())
		}
	})
}
