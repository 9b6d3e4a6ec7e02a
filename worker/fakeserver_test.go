package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
)

// fakeServer speaks the server side of api/agent.go, with hooks for the
// faults a test needs. Everything a worker sends arrives on a channel.
type fakeServer struct {
	t   testing.TB
	srv *httptest.Server

	registers  chan api.RegisterRequest
	heartbeats chan api.HeartbeatRequest
	results    chan api.AgentResult
	logs       chan api.AgentLogLine
	resultPost chan int // size of each results post
	deregister chan string
	tasks      chan api.LeasedTask // what lease hands out

	mu       sync.Mutex
	creds    map[string]string // credential -> worker id
	issued   []api.RegisterResponse
	nextCred int
	events   []string // "register", "result:<id>", "deregister", in order
	stops    []api.StopOrder
	drain    bool
	// Hooks, nil by default.
	refuseRegister bool                                // answer register with 401
	leaseFailures  int                                 // answer this many leases with 503
	staleOnce      map[string]bool                     // refuse these task ids' results once
	beforeResults  func(batch []api.AgentResult) error // runs before a results post is answered
}

func newFakeServer(t testing.TB) *fakeServer {
	f := &fakeServer{
		t:          t,
		registers:  make(chan api.RegisterRequest, 100),
		heartbeats: make(chan api.HeartbeatRequest, 10000),
		results:    make(chan api.AgentResult, 10000),
		logs:       make(chan api.AgentLogLine, 10000),
		resultPost: make(chan int, 10000),
		deregister: make(chan string, 10),
		tasks:      make(chan api.LeasedTask, 10000),
		creds:      map[string]string{},
		staleOnce:  map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.AgentRegisterPath, f.register)
	mux.HandleFunc("POST "+api.AgentHeartbeatPath, f.authed(f.heartbeat))
	mux.HandleFunc("POST "+api.AgentLeasePath, f.authed(f.lease))
	mux.HandleFunc("POST "+api.AgentLogsPath, f.authed(f.logsHandler))
	mux.HandleFunc("POST "+api.AgentResultsPath, f.authed(f.resultsHandler))
	mux.HandleFunc("POST "+api.AgentDeregisterPath, f.authed(f.deregisterHandler))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) event(e string) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
}

func (f *fakeServer) eventLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// lastIssued is the last registration the server answered.
func (f *fakeServer) lastIssued() api.RegisterResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued[len(f.issued)-1]
}

// forget drops every credential, as a server that lost its state would.
func (f *fakeServer) forget() {
	f.mu.Lock()
	clear(f.creds)
	f.mu.Unlock()
}

func (f *fakeServer) stop(o api.StopOrder) {
	f.mu.Lock()
	f.stops = append(f.stops, o)
	f.mu.Unlock()
}

func (f *fakeServer) setDrain() {
	f.mu.Lock()
	f.drain = true
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Envelope{Status: "error", Error: &api.Error{Code: code, Message: msg}, Timestamp: time.Now()})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeErr(w, 400, "INVALID_JSON", err.Error())
		return false
	}
	return true
}

func (f *fakeServer) authed(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		id, ok := f.creds[cred]
		f.mu.Unlock()
		if !ok {
			writeErr(w, 401, codeWorkerUnknown, "register again")
			return
		}
		h(w, r, id)
	}
}

func (f *fakeServer) register(w http.ResponseWriter, r *http.Request) {
	var req api.RegisterRequest
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	refuse := f.refuseRegister
	f.nextCred++
	cred := fmt.Sprintf("cred-%d-0123456789", f.nextCred)
	id := req.WorkerID
	if id == "" {
		id = req.Name
	}
	if !refuse {
		f.creds[cred] = id
		f.events = append(f.events, "register")
	}
	f.mu.Unlock()
	if refuse {
		writeErr(w, 401, "AUTHENTICATION_REQUIRED", "bad join token")
		return
	}
	resp := api.RegisterResponse{WorkerID: id, Credential: cred,
		HeartbeatInterval: api.MillisOf(20 * time.Millisecond), LeaseTTL: api.MillisOf(time.Second)}
	f.mu.Lock()
	f.issued = append(f.issued, resp)
	f.mu.Unlock()
	f.registers <- req
	writeJSON(w, 200, resp)
}

func (f *fakeServer) heartbeat(w http.ResponseWriter, r *http.Request, _ string) {
	var req api.HeartbeatRequest
	if !decode(w, r, &req) {
		return
	}
	select {
	case f.heartbeats <- req:
	default: // a test that does not watch heartbeats
	}
	f.mu.Lock()
	resp := api.HeartbeatResponse{Stop: f.stops, Drain: f.drain}
	f.stops = nil
	f.mu.Unlock()
	writeJSON(w, 200, resp)
}

func (f *fakeServer) lease(w http.ResponseWriter, r *http.Request, _ string) {
	var req api.LeaseRequest
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	fail := f.leaseFailures > 0
	if fail {
		f.leaseFailures--
	}
	drain := f.drain
	f.mu.Unlock()
	if fail {
		writeErr(w, 503, "SERVICE_UNAVAILABLE", "try later")
		return
	}
	resp := api.LeaseResponse{Tasks: []api.LeasedTask{}, Drain: drain}
	timer := time.NewTimer(req.Wait.Duration())
	defer timer.Stop()
	select {
	case t := <-f.tasks:
		resp.Tasks = append(resp.Tasks, t)
	case <-timer.C:
	case <-r.Context().Done():
		return
	}
	for len(resp.Tasks) < req.Max {
		select {
		case t := <-f.tasks:
			resp.Tasks = append(resp.Tasks, t)
			continue
		default:
		}
		break
	}
	writeJSON(w, 200, resp)
}

func (f *fakeServer) logsHandler(w http.ResponseWriter, r *http.Request, _ string) {
	var req api.LogBatch
	if !decode(w, r, &req) {
		return
	}
	for _, l := range req.Lines {
		select {
		case f.logs <- l:
		default: // a test that does not read logs
		}
	}
	writeJSON(w, 200, struct{}{})
}

func (f *fakeServer) resultsHandler(w http.ResponseWriter, r *http.Request, _ string) {
	var req api.ResultBatch
	if !decode(w, r, &req) {
		return
	}
	if f.beforeResults != nil {
		if err := f.beforeResults(req.Results); err != nil {
			writeErr(w, 503, "SERVICE_UNAVAILABLE", err.Error())
			return
		}
	}
	select {
	case f.resultPost <- len(req.Results):
	default: // a test that does not count posts
	}
	resp := api.ResultBatchResponse{}
	for _, res := range req.Results {
		f.mu.Lock()
		stale := f.staleOnce[res.TaskID]
		delete(f.staleOnce, res.TaskID)
		if !stale {
			f.events = append(f.events, "result:"+res.TaskID)
		}
		f.mu.Unlock()
		o := api.ResultOutcome{TaskID: res.TaskID, Epoch: res.Epoch, Accepted: !stale, Status: res.Status}
		if stale {
			o.Code, o.Status = codeStaleLease, ""
		}
		resp.Outcomes = append(resp.Outcomes, o)
		f.results <- res
	}
	writeJSON(w, 200, resp)
}

func (f *fakeServer) deregisterHandler(w http.ResponseWriter, r *http.Request, id string) {
	f.event("deregister")
	f.deregister <- id
	writeJSON(w, 200, struct{}{})
}

// push queues a task for leasing.
func (f *fakeServer) push(id, typ string, epoch int64, payload string) {
	f.tasks <- api.LeasedTask{TaskID: id, Epoch: epoch, Attempt: 1, TaskType: typ,
		Payload: json.RawMessage(payload), Queue: DefaultQueue, CreatedAt: time.Now()}
}

// recv waits for one value from c, failing the test after a generous bound.
func recv[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// testWorker is a worker running against f until stop is called or the test
// ends.
type testWorker struct {
	*Worker
	cancel context.CancelFunc
	done   chan error
}

// startWorker runs a worker against f; cfg.Server and Logger are filled in.
func startWorker(t testing.TB, f *fakeServer, cfg Config, handlers map[string]HandlerFunc) *testWorker {
	t.Helper()
	cfg.Server = f.srv.URL
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.Name == "" {
		cfg.Name = "test-worker"
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for typ, h := range handlers {
		w.Handle(typ, h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tw := &testWorker{Worker: w, cancel: cancel, done: make(chan error, 1)}
	go func() { tw.done <- w.Run(ctx) }()
	t.Cleanup(func() { tw.stop(t) })
	return tw
}

// stop cancels Run's context and returns what Run returned.
func (tw *testWorker) stop(t testing.TB) error {
	t.Helper()
	tw.cancel()
	return tw.wait(t)
}

// wait returns what Run returned, once it has.
func (tw *testWorker) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-tw.done:
		tw.done <- err // for a second call
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
