package agentserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/agentserver"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// fakeClock is a clock the test steps by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type bundle struct {
	h      http.Handler
	engine *dispatch.Service
	clock  *fakeClock
	ctl    *agentserver.Control
}

func setup(t *testing.T) *bundle {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "agent.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	ctl := agentserver.NewControl()
	// As the server wires it: a removed worker's mailbox and credentials go.
	hooks := dispatch.Hooks{WorkerChanged: func(w *domain.Worker) {
		if w.State == domain.WorkerRemoved {
			ctl.Forget(w.ID)
		}
	}}
	eng, err := dispatch.New(st, dispatch.Options{Clock: clock.now, Hooks: hooks, Config: dispatch.Config{HeartbeatInterval: time.Second, LeaseTTL: 4 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{h: agentserver.New(agentserver.Options{Engine: eng, Control: ctl}).Handler(), engine: eng, clock: clock, ctl: ctl}
}

// another is a second server on b's store (and, for brevity, engine), with
// its own credential cache and control channel.
func (b *bundle) another() *bundle {
	ctl := agentserver.NewControl()
	return &bundle{h: agentserver.New(agentserver.Options{Engine: b.engine, Control: ctl}).Handler(), engine: b.engine, clock: b.clock, ctl: ctl}
}

// call posts body to path as the worker holding cred and decodes data into out.
func (b *bundle) call(t *testing.T, path, cred string, body, out any) int {
	t.Helper()
	raw, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", path, bytes.NewReader(raw))
	r.Header.Set("Content-Type", "application/json")
	if cred != "" {
		r.Header.Set("Authorization", "Bearer "+cred)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	var env api.Envelope
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("POST %s: not an envelope: %s", path, w.Body.String())
	}
	if out != nil && env.Data != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatal(err)
		}
	}
	return w.Code
}

func (b *bundle) register(t *testing.T, name string) api.RegisterResponse {
	t.Helper()
	var reg api.RegisterResponse
	code := b.call(t, api.AgentRegisterPath, "", api.RegisterRequest{
		Name: name, Hostname: name, Platform: api.Platform{OS: "linux", Arch: "amd64"},
		Resources: api.Resources{CPUCores: 2, MemoryTotalGB: 4}, TaskTypes: []string{"sleep"}, Concurrency: 1,
	}, &reg)
	if code != 200 || reg.Credential == "" {
		t.Fatalf("register %s = %d %+v", name, code, reg)
	}
	return reg
}

func (b *bundle) lease(t *testing.T, cred string) []api.LeasedTask {
	t.Helper()
	var resp api.LeaseResponse
	if code := b.call(t, api.AgentLeasePath, cred, api.LeaseRequest{Max: 1}, &resp); code != 200 {
		t.Fatalf("lease = %d", code)
	}
	return resp.Tasks
}

func (b *bundle) report(t *testing.T, cred string, l api.LeasedTask) api.ResultOutcome {
	t.Helper()
	var resp api.ResultBatchResponse
	b.call(t, api.AgentResultsPath, cred, api.ResultBatch{Results: []api.AgentResult{{
		TaskID: l.TaskID, Epoch: l.Epoch, Status: "completed", Result: api.TaskResult{Output: "done by " + cred[:6]},
	}}}, &resp)
	if len(resp.Outcomes) != 1 {
		t.Fatalf("results answer = %+v", resp)
	}
	return resp.Outcomes[0]
}

// TestStaleLeaseIsFenced walks a zombie worker through the protocol: its
// lease expires, another worker takes the task, and everything the zombie
// sends afterwards is refused and changes nothing.
func TestStaleLeaseIsFenced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	zombie := b.register(t, "zombie")
	if _, err := b.engine.Submit(ctx, []*domain.Task{{Type: "sleep", Payload: json.RawMessage(`{"seconds":1}`), MaxRetries: 1}}); err != nil {
		t.Fatal(err)
	}
	first := b.lease(t, zombie.Credential)
	if len(first) != 1 || first[0].Epoch != 1 {
		t.Fatalf("first lease = %+v, want one task at epoch 1", first)
	}

	b.clock.add(5 * time.Second) // past the 4 s TTL, no heartbeat
	if err := b.engine.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	b.clock.add(time.Minute) // past any retry backoff
	heir := b.register(t, "heir")
	second := b.lease(t, heir.Credential)
	if len(second) != 1 || second[0].TaskID != first[0].TaskID || second[0].Epoch != 2 {
		t.Fatalf("second lease = %+v, want the same task at epoch 2", second)
	}

	if got := b.report(t, zombie.Credential, first[0]); got.Accepted || got.Code != "STALE_LEASE" {
		t.Errorf("zombie's result = %+v, want refused with STALE_LEASE", got)
	}
	task, err := b.engine.Task(ctx, first[0].TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.State != domain.TaskRunning || task.LeaseOwner != "heir" || task.LeaseEpoch != 2 {
		t.Errorf("after the zombie's result the task is %s owned by %q at epoch %d; want running, heir, 2", task.State, task.LeaseOwner, task.LeaseEpoch)
	}

	var hb api.HeartbeatResponse
	b.call(t, api.AgentHeartbeatPath, zombie.Credential, api.HeartbeatRequest{Running: []api.Lease{{TaskID: first[0].TaskID, Epoch: 1}}}, &hb)
	if len(hb.Stop) != 1 || hb.Stop[0].Reason != "lease_lost" {
		t.Errorf("zombie's heartbeat stop = %+v, want the task with lease_lost", hb.Stop)
	}

	if got := b.report(t, heir.Credential, second[0]); !got.Accepted || got.Status != "completed" {
		t.Errorf("heir's result = %+v, want accepted, completed", got)
	}
	if got := b.report(t, heir.Credential, second[0]); got.Accepted {
		t.Errorf("a second result for a completed task = %+v, want refused", got)
	}
	task, _ = b.engine.Task(ctx, first[0].TaskID)
	if task.State != domain.TaskCompleted || task.Result == nil || task.Result.Output != "done by "+heir.Credential[:6] {
		t.Errorf("final task = %s %+v, want completed with the heir's result", task.State, task.Result)
	}
}

// TestProgressIsFencedAndThrottled: a worker's progress reports through
// the protocol are kept under its lease, throttled when they come too
// fast, refused once the lease is another's, and malformed ones are a 400.
func TestProgressIsFencedAndThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	w1 := b.register(t, "w1")
	if _, err := b.engine.Submit(ctx, []*domain.Task{{Type: "sleep", Payload: json.RawMessage(`{"seconds":1}`), MaxRetries: 1}}); err != nil {
		t.Fatal(err)
	}
	leased := b.lease(t, w1.Credential)
	if len(leased) != 1 {
		t.Fatalf("lease = %+v, want one task", leased)
	}
	l := leased[0]
	report := func(cred string, epoch int64, f float64) (int, []api.ProgressOutcome) {
		var resp api.ProgressBatchResponse
		code := b.call(t, api.AgentProgressPath, cred, api.ProgressBatch{Reports: []api.AgentProgress{{TaskID: l.TaskID, Epoch: epoch, Fraction: f, Message: "m"}}}, &resp)
		return code, resp.Outcomes
	}
	if code, out := report(w1.Credential, l.Epoch, 0.25); code != 200 || len(out) != 1 || out[0].Outcome != "kept" {
		t.Errorf("first report = %d %+v, want kept", code, out)
	}
	report(w1.Credential, l.Epoch, 0.25) // the burst's second
	if _, out := report(w1.Credential, l.Epoch, 0.3); len(out) != 1 || out[0].Outcome != "throttled" {
		t.Errorf("third report at once = %+v, want throttled", out)
	}
	if code, _ := report(w1.Credential, l.Epoch, 1.5); code != 400 {
		t.Errorf("fraction 1.5 = %d, want 400", code)
	}
	b.clock.add(time.Second)
	w2 := b.register(t, "w2")
	if _, out := report(w2.Credential, l.Epoch, 0.9); len(out) != 1 || out[0].Outcome != "stale_lease" {
		t.Errorf("another worker's report = %+v, want stale_lease", out)
	}
	task, err := b.engine.Task(ctx, l.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.engine.TaskProgress(ctx, task); err != nil || p == nil || p.Fraction != 0.25 {
		t.Errorf("TaskProgress() = %+v, %v; want the kept 0.25", p, err)
	}
}

func TestCredentialIsRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if code := b.call(t, api.AgentLeasePath, "", api.LeaseRequest{Max: 1}, nil); code != http.StatusUnauthorized {
		t.Errorf("lease without credential = %d, want 401", code)
	}
	if code := b.call(t, api.AgentLeasePath, "forged", api.LeaseRequest{Max: 1}, nil); code != http.StatusUnauthorized {
		t.Errorf("lease with a forged credential = %d, want 401", code)
	}
}

func TestRegisterKeepsOrVariesTheName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.register(t, "android-001")
	c := b.register(t, "android-001")
	if a.WorkerID != "android-001" || c.WorkerID != "android-001-2" {
		t.Errorf("ids = %q, %q; want android-001 then android-001-2 while the first is online", a.WorkerID, c.WorkerID)
	}
	var back api.RegisterResponse
	b.call(t, api.AgentRegisterPath, "", api.RegisterRequest{
		Name: "android-001", WorkerID: a.WorkerID, Credential: a.Credential, Hostname: "h",
		TaskTypes: []string{"sleep"}, Concurrency: 1,
	}, &back)
	if back.WorkerID != "android-001" {
		t.Errorf("a worker proving its old credential got %q, want its id back", back.WorkerID)
	}
}

// FuzzAgentProtocol throws arbitrary bodies at every worker-protocol
// endpoint, as a registered worker: the answer is always the envelope and
// never a 5xx.
func FuzzAgentProtocol(f *testing.F) {
	seeds := []string{
		`{"name":"android-001","hostname":"pixel-phone","platform":{"os":"android","arch":"aarch64"},"task_types":["echo"],"concurrency":2}`,
		`{"resources":{"cpu_cores":8,"cpu_usage":42.5},"running":[{"task_id":"task-x","epoch":1}]}`,
		`{"max":4,"wait_ms":0}`,
		`{"lines":[{"task_id":"task-x","epoch":1,"stream":"stdout","message":"hi"}]}`,
		`{"results":[{"task_id":"task-x","epoch":1,"status":"completed","result":{"output":"x","exit_code":0}}]}`,
		`{}`, `[]`, `{"max":-1}`, `{"results":[{"status":"won"}]}`,
		`{"reports":[{"task_id":"task-x","epoch":1,"fraction":0.5,"message":"half"}]}`, `{"reports":[{"fraction":2}]}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	b := &bundle{}
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		f.Fatal(err)
	}
	b.h = agentserver.New(agentserver.Options{Engine: eng}).Handler()
	reg := httptest.NewRecorder()
	b.h.ServeHTTP(reg, httptest.NewRequest("POST", api.AgentRegisterPath, bytes.NewReader([]byte(seeds[0]))))
	var env api.Envelope
	var rr api.RegisterResponse
	if json.Unmarshal(reg.Body.Bytes(), &env) != nil || json.Unmarshal(env.Data, &rr) != nil || rr.Credential == "" {
		f.Fatalf("register: %s", reg.Body.String())
	}
	paths := []string{api.AgentRegisterPath, api.AgentHeartbeatPath, api.AgentLeasePath, api.AgentLogsPath, api.AgentResultsPath, api.AgentProgressPath}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		if path == api.AgentLeasePath {
			// Never long-poll inside the fuzzer.
			var lr map[string]any
			if json.Unmarshal([]byte(body), &lr) == nil && lr != nil {
				lr["wait_ms"] = 0
				raw, _ := json.Marshal(lr)
				body = string(raw)
			}
		}
		r := httptest.NewRequest("POST", path, bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+rr.Credential)
		w := httptest.NewRecorder()
		b.h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q = %d %s", path, body, w.Code, w.Body.String())
		}
		var env api.Envelope
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.RequestID == "" {
			t.Fatalf("POST %s %q: not the envelope: %s", path, body, w.Body.String())
		}
	})
}

// TestRemovedIDIsRetired: a removed device's id is not handed out again.
func TestRemovedIDIsRetired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.register(t, "android-001")
	if _, err := b.engine.RemoveWorker(context.Background(), first.WorkerID, true); err != nil {
		t.Fatal(err)
	}
	again := b.register(t, "android-001")
	if again.WorkerID == first.WorkerID {
		t.Errorf("re-joining after removal got the retired id %q back", again.WorkerID)
	}
	if code := b.call(t, api.AgentLeasePath, first.Credential, api.LeaseRequest{Max: 1}, nil); code != http.StatusUnauthorized {
		t.Errorf("the removed worker's credential = %d, want 401", code)
	}
}

// TestWildResourcesAreRefused: a worker reporting numbers no machine has is
// refused on register and on heartbeat, and nothing it sent is kept — one
// such worker once turned the cluster summaries into 500s for everyone.
func TestWildResourcesAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wild := []api.Resources{
		{CPUCores: 2, MemoryTotalGB: 1.7e308},
		{CPUCores: 2, StorageTotalGB: 1.7e308},
		{CPUCores: -4},
		{CPUCores: 2, CPUUsage: 1e300},
		{CPUCores: 2, MemoryTotalGB: 4, MemoryUsedGB: -1},
	}
	for i, res := range wild {
		code := b.call(t, api.AgentRegisterPath, "", api.RegisterRequest{
			Name: fmt.Sprintf("wild-%d", i), Hostname: "h", Resources: res, TaskTypes: []string{"sleep"}, Concurrency: 1,
		}, nil)
		if code != 400 {
			t.Errorf("register with %+v = %d, want 400", res, code)
		}
	}
	reg := b.register(t, "sane")
	for _, res := range wild {
		if code := b.call(t, api.AgentHeartbeatPath, reg.Credential, api.HeartbeatRequest{Resources: res}, nil); code != 400 {
			t.Errorf("heartbeat with %+v = %d, want 400", res, code)
		}
	}
	w, err := b.engine.Worker(t.Context(), reg.WorkerID)
	if err != nil || w.Resources.MemoryTotalGB != 4 {
		t.Errorf("after refused heartbeats the worker is %+v (%v); want its registered resources", w, err)
	}
}

// relay connects servers' control channels as the PostgreSQL relay does:
// every message to every server, the sender's own included. delivered
// receives each message's kind once every server has handled it.
type relay struct {
	ctls      []*agentserver.Control
	delivered chan string
}

func newRelay(bs ...*bundle) *relay {
	r := &relay{delivered: make(chan string, 16)}
	for _, b := range bs {
		r.ctls = append(r.ctls, b.ctl)
		b.ctl.SetRelay(r.publish)
	}
	return r
}

func (r *relay) publish(_ context.Context, msg []byte) error {
	for _, c := range r.ctls {
		c.Relayed(msg)
	}
	var m struct{ Kind string }
	_ = json.Unmarshal(msg, &m)
	r.delivered <- m.Kind
	return nil
}

// waitFor waits for the relay to deliver a message of kind.
func (r *relay) waitFor(t *testing.T, kind string) {
	t.Helper()
	if got := <-r.delivered; got != kind {
		t.Fatalf("relayed %q, want %q", got, kind)
	}
}

func (b *bundle) leaseCode(t *testing.T, cred string) int {
	t.Helper()
	return b.call(t, api.AgentLeasePath, cred, api.LeaseRequest{Max: 1}, nil)
}

// TestRemovedWorkerIsRefusedAtOnce: credentials are cached for long, but a
// removed worker is refused at once by the server that removed it, and by
// the others as soon as the relay tells them.
func TestRemovedWorkerIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	here := setup(t)
	there := here.another()
	rel := newRelay(here, there)
	w := here.register(t, "w1")
	rel.waitFor(t, "revoke") // a registration revokes any earlier session's credential
	for name, b := range map[string]*bundle{"here": here, "there": there} {
		if code := b.leaseCode(t, w.Credential); code != http.StatusOK {
			t.Fatalf("lease %s before removal = %d, want 200", name, code)
		}
	}
	if _, err := here.engine.RemoveWorker(context.Background(), w.WorkerID, true); err != nil {
		t.Fatal(err)
	}
	if code := here.leaseCode(t, w.Credential); code != http.StatusUnauthorized {
		t.Errorf("lease on the removing server right after removal = %d, want 401", code)
	}
	rel.waitFor(t, "revoke")
	if code := there.leaseCode(t, w.Credential); code != http.StatusUnauthorized {
		t.Errorf("lease on another server once the relay delivered the removal = %d, want 401", code)
	}
}

// TestReplacedCredentialIsRefused: a worker registering again under its id
// gets a new credential, and the old one stops working — at once where it
// registered, and, with no relay at all, on another server that cached it
// at its next heartbeat there, which the store refuses.
func TestReplacedCredentialIsRefused(t *testing.T) {
	t.Parallel()
	here := setup(t)
	there := here.another()
	old := here.register(t, "w1")
	if code := there.leaseCode(t, old.Credential); code != http.StatusOK {
		t.Fatalf("lease there = %d, want 200", code)
	}
	var again api.RegisterResponse
	here.call(t, api.AgentRegisterPath, "", api.RegisterRequest{Name: "w1", WorkerID: old.WorkerID, Credential: old.Credential,
		Hostname: "h", TaskTypes: []string{"sleep"}, Concurrency: 1}, &again)
	if again.WorkerID != old.WorkerID || again.Credential == old.Credential {
		t.Fatalf("registering again = (%s, new credential %v), want %s with a new credential", again.WorkerID, again.Credential != old.Credential, old.WorkerID)
	}
	if code := here.leaseCode(t, old.Credential); code != http.StatusUnauthorized {
		t.Errorf("lease here with the replaced credential = %d, want 401", code)
	}
	var hb api.HeartbeatResponse
	if code := there.call(t, api.AgentHeartbeatPath, old.Credential, api.HeartbeatRequest{}, &hb); code != http.StatusUnauthorized {
		t.Errorf("heartbeat there with the replaced credential = %d, want 401", code)
	}
	if code := there.leaseCode(t, old.Credential); code != http.StatusUnauthorized {
		t.Errorf("lease there with the replaced credential after its heartbeat = %d, want 401", code)
	}
	for name, b := range map[string]*bundle{"here": here, "there": there} {
		if code := b.call(t, api.AgentHeartbeatPath, again.Credential, api.HeartbeatRequest{}, &hb); code != http.StatusOK {
			t.Errorf("heartbeat %s with the new credential = %d, want 200", name, code)
		}
	}
}
