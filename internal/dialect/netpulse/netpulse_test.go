package netpulse_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/dialect/netpulse"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/queue"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// The dialect in process, over a real engine and store: the envelope, the
// state and time mapping, precedence. internal/e2e runs the same API with
// real worker processes.

type bundle struct {
	srv    *httptest.Server
	engine *dispatch.Service
}

func setup(t *testing.T) *bundle {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "np.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	shanghai := time.FixedZone("CST", 8*3600)
	routes := netpulse.Routes(netpulse.Deps{Queues: queue.New(st, eng, queue.Options{}), Location: shanghai})
	h, _ := httpapi.Build(routes, netpulse.WriteError, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &bundle{srv: srv, engine: eng}
}

func (b *bundle) get(t *testing.T, method, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, b.srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, body)
	}
	if code, _ := env["code"].(float64); int(code) != resp.StatusCode || env["message"] == nil {
		t.Errorf("%s %s: envelope %s with status %d", method, path, body, resp.StatusCode)
	}
	return resp.StatusCode, env
}

func TestJobMapping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	w, err := b.engine.Register(ctx, &domain.Worker{ID: "worker_001", Name: "worker_001", Hostname: "node-1", Queues: []string{"FifoQ"},
		TaskTypes: []string{"echo"}, Concurrency: 1, CredentialHash: "h"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.engine.Submit(ctx, []*domain.Task{{Type: "echo", Payload: []byte(`{"message":"x"}`), Queue: "FifoQ", MaxRetries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].Task.ID
	if _, err := b.engine.Lease(ctx, w, 1, 0); err != nil {
		t.Fatal(err)
	}
	_, env := b.get(t, "GET", "/job?id="+id+"&queue=elsewhere")
	jobs := env["data"].([]any)
	if len(jobs) != 1 {
		t.Fatalf("GET /job?id= = %v", env)
	}
	j := jobs[0].(map[string]any)
	if j["status"] != "started" || j["worker"] != "worker_001" || j["result"] != nil || j["ended_at"] != nil || j["duration"] != nil {
		t.Errorf("started job = %v", j)
	}
	if s, _ := j["created_at"].(string); !strings.HasSuffix(s, "+08:00") {
		t.Errorf("created_at %q, want the server's offset +08:00", s)
	}
	if _, ok := j["queue_time"].(float64); !ok {
		t.Errorf("a started job has no queue_time: %v", j)
	}
	if _, env := b.get(t, "GET", "/job?node=node-1"); len(env["data"].([]any)) != 1 {
		t.Errorf("GET /job?node=node-1 = %v", env["data"])
	}
	if _, env := b.get(t, "GET", "/job?node=node-2&queue=FifoQ"); len(env["data"].([]any)) != 1 {
		t.Errorf("GET /job?node=node-2&queue=FifoQ (queue wins) = %v", env["data"])
	}
	_, env = b.get(t, "GET", "/worker")
	ws := env["data"].([]any)
	if len(ws) != 1 || ws[0].(map[string]any)["status"] != "busy" {
		t.Errorf("GET /worker = %v, want worker_001 busy", ws)
	}
}

func TestErrorsInTheEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		method, path string
		want         int
		code         string
	}{
		{"GET", "/job?status=done", 400, "VALIDATION_ERROR"},
		{"GET", "/job?host=", 400, "VALIDATION_ERROR"},
		{"GET", "/job?queue=a&queue=b", 400, "VALIDATION_ERROR"},
		{"GET", "/job?offset=-1", 400, "VALIDATION_ERROR"},
		{"GET", "/job?id=task-x", 404, "TASK_NOT_FOUND"},
		{"DELETE", "/job", 400, "VALIDATION_ERROR"},
		{"DELETE", "/worker?queue=", 400, "VALIDATION_ERROR"},
		{"DELETE", "/worker?name=ghost", 404, "DEVICE_NOT_FOUND"},
		{"GET", "/jobs", 404, "NOT_FOUND"},
		{"PUT", "/worker", 405, "METHOD_NOT_ALLOWED"},
	} {
		code, env := b.get(t, tc.method, tc.path)
		data, _ := env["data"].(map[string]any)
		if code != tc.want || data["error"] != tc.code {
			t.Errorf("%s %s = %d %v, want %d %s", tc.method, tc.path, code, env, tc.want, tc.code)
		}
	}
	if code, env := b.get(t, "GET", "/job"); code != 200 || len(env["data"].([]any)) != 0 {
		t.Errorf("GET /job on an empty store = %d %v, want an empty list", code, env)
	}
	if code, env := b.get(t, "GET", "/health"); code != 200 || env["data"].(map[string]any)["status"] != "degraded" {
		t.Errorf("GET /health with no worker = %d %v, want degraded", code, env)
	}
}
