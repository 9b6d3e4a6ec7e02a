package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
)

// The client's tests run against a real server (drovertest): an answer the
// server stops giving, or gives in another shape, fails them. A recorder in
// the client's transport shows what went over the wire.

// bundle is one test's server, and a client of it that records its
// requests and polls every millisecond, so that Wait and FollowLogs see an
// end at once.
type bundle struct {
	srv *drovertest.Server
	c   *client.Client
	rec *recorder
}

// setup starts a server with opts and a client of it with copts (after the
// recorder and the poll interval, so they may replace them).
func setup(t *testing.T, opts drovertest.Options, copts ...client.Option) *bundle {
	t.Helper()
	lenient(&opts)
	srv := drovertest.NewServer(t, opts)
	rec := &recorder{}
	copts = append([]client.Option{client.WithHTTPClient(&http.Client{Transport: rec}), client.WithPollInterval(time.Millisecond)}, copts...)
	if srv.APIKey() != "" {
		copts = append([]client.Option{client.WithAPIKey(srv.APIKey())}, copts...)
	}
	c, err := client.New(srv.APIURL(), copts...)
	if err != nil {
		t.Fatalf("client.New(%q) = %v", srv.APIURL(), err)
	}
	return &bundle{srv: srv, c: c, rec: rec}
}

// lenient keeps leases and devices alive through the pauses of a loaded
// machine (-race on two cores): these tests are about answers, not about
// expiry, which drovertest's fast defaults are for.
func lenient(opts *drovertest.Options) {
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = time.Minute
	}
	if opts.OfflineThreshold == 0 {
		opts.OfflineThreshold = time.Minute
	}
}

// sentRequest is what the client sent.
type sentRequest struct {
	Method string
	Path   string // escaped, as on the wire
	Query  string
	Header http.Header
	Body   string
}

// recorder is an http.RoundTripper that keeps what passes through it.
type recorder struct {
	mu   sync.Mutex
	reqs []sentRequest
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, sentRequest{req.Method, req.URL.EscapedPath(), req.URL.RawQuery, req.Header.Clone(), string(body)})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// requests returns what the client sent so far.
func (r *recorder) requests() []sentRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentRequest(nil), r.reqs...)
}

// last returns the latest request the client sent.
func (r *recorder) last(t *testing.T) sentRequest {
	t.Helper()
	reqs := r.requests()
	if len(reqs) == 0 {
		t.Fatal("the client sent no request")
	}
	return reqs[len(reqs)-1]
}

// echo is an echo task's request.
func echo(message string, repeat int) api.SubmitTaskRequest {
	p, _ := json.Marshal(map[string]any{"message": message, "repeat": repeat})
	return api.SubmitTaskRequest{TaskType: "echo", Payload: p}
}

// failing is a shell task that writes a line and fails with exit code 3;
// a worker runs it only with AllowShell.
func failing() api.SubmitTaskRequest {
	return api.SubmitTaskRequest{TaskType: "shell", Payload: json.RawMessage(`{"command":"echo partial; exit 3"}`)}
}

// later is an echo task that stays pending for an hour.
func later(message string) api.SubmitTaskRequest {
	req := echo(message, 1)
	req.DelaySeconds = new(3600.0)
	return req
}

// submit submits req and returns the new task's id.
func (b *bundle) submit(t *testing.T, req api.SubmitTaskRequest) string {
	t.Helper()
	res, err := b.c.Tasks.Submit(context.Background(), req)
	if err != nil {
		t.Fatalf("Submit(%s) = %v", req.TaskType, err)
	}
	return res.TaskID
}

// wait waits for task id to end and returns it.
func (b *bundle) wait(t *testing.T, id string) *api.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	task, err := b.c.Tasks.Wait(ctx, id, 0)
	if err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	return task
}
