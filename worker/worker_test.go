package worker

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
)

func TestRegisterAdvertisesWorker(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	startWorker(t, f, Config{Concurrency: 3, Queues: []string{"a", "b"}, Labels: map[string]string{"gpu": "none"}},
		map[string]HandlerFunc{"resize": noop})
	req := recv(t, f.registers, "register")

	if want := []string{"echo", "http", "resize", "sleep"}; !slices.Equal(req.TaskTypes, want) {
		t.Errorf("task_types = %v, want %v (no shell unless allowed)", req.TaskTypes, want)
	}
	if req.Name != "test-worker" || req.Concurrency != 3 || !slices.Equal(req.Queues, []string{"a", "b"}) ||
		req.Labels["gpu"] != "none" || req.Role != DefaultRole {
		t.Errorf("register = %+v", req)
	}
	if req.Platform.OS == "" || req.Platform.GoVersion == "" || req.Resources.CPUCores < 1 || req.PID == 0 {
		t.Errorf("register lacks host facts: platform %+v resources %+v", req.Platform, req.Resources)
	}
	if slices.Contains(req.DetailedInfo.Capabilities, "shell") {
		t.Errorf("capabilities %v advertise shell", req.DetailedInfo.Capabilities)
	}
}

func TestRunsTasksAndReportsResults(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	startWorker(t, f, Config{Concurrency: 2}, nil)
	f.push("task-1", "echo", 7, `{"message":"hi","repeat":2}`)

	res := recv(t, f.results, "result")
	if res.TaskID != "task-1" || res.Epoch != 7 || res.Status != "completed" || res.Result.Output != "hi\nhi" {
		t.Errorf("result = %+v, want task-1 epoch 7 completed with output %q", res, "hi\nhi")
	}
	// Log lines are posted before the result they belong to.
	for range 2 {
		select {
		case l := <-f.logs:
			if l.TaskID != "task-1" || l.Epoch != 7 || l.Message != "hi" || l.Stream != "stdout" {
				t.Errorf("log line = %+v", l)
			}
		default:
			t.Fatal("result posted before its log lines")
		}
	}
}

func TestFailedTasks(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	startWorker(t, f, Config{Concurrency: 4}, map[string]HandlerFunc{
		"boom": func(context.Context, *Task) (*api.TaskResult, error) { panic("kaboom") },
		"fail": func(context.Context, *Task) (*api.TaskResult, error) {
			return &api.TaskResult{Output: "partial"}, errors.New("no luck")
		},
	})
	f.push("t-panic", "boom", 1, `{}`)
	f.push("t-fail", "fail", 1, `{}`)
	f.push("t-bad", "echo", 1, `{"repeat":"x"}`)
	f.push("t-shell", "shell", 1, `{"command":"touch /tmp/should-not-exist"}`)

	want := map[string]string{
		"t-panic": "handler panicked: kaboom",
		"t-fail":  "no luck",
		"t-bad":   `invalid echo payload: "repeat" must be a number, not string`,
		"t-shell": "CAPABILITY_DENIED",
	}
	for range want {
		res := recv(t, f.results, "result")
		if res.Status != "failed" || res.Result.ExitCode == 0 || !strings.Contains(res.Result.Error, want[res.TaskID]) {
			t.Errorf("%s: result = %+v, want failed with error containing %q", res.TaskID, res, want[res.TaskID])
		}
	}
}

func TestTaskTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	startWorker(t, f, Config{}, map[string]HandlerFunc{"hang": waitDone})
	f.tasks <- api.LeasedTask{TaskID: "t", Epoch: 1, TaskType: "hang", Timeout: 1}
	res := recv(t, f.results, "result")
	if res.Status != "failed" || res.Result.ExitCode != exitTimeout || res.Result.Error != "task timed out after 1s" {
		t.Errorf("result = %+v, want failed, exit %d, timed out", res, exitTimeout)
	}
}

func TestResultsBatchWhilePostInFlight(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	const n = 50
	var ran atomic.Int32
	allRan := make(chan struct{})
	first := true
	f.beforeResults = func([]api.AgentResult) error {
		if first { // hold the first post until every task has run
			first = false
			<-allRan
		}
		return nil
	}
	startWorker(t, f, Config{Concurrency: n}, map[string]HandlerFunc{
		"noop": func(ctx context.Context, t *Task) (*api.TaskResult, error) {
			if ran.Add(1) == n {
				close(allRan)
			}
			return &api.TaskResult{}, nil
		},
	})
	for i := range n {
		f.push("t-"+strconv.Itoa(i), "noop", 1, `{}`)
	}
	got, posts := 0, 0
	for got < n {
		got += recv(t, f.resultPost, "results post")
		posts++
	}
	// One post carried the first result; the rest, queued meanwhile, ride
	// in the next one or two.
	if posts > 4 {
		t.Errorf("%d results took %d posts, want them batched into at most 4", n, posts)
	}
}

func TestHeartbeatReportsLeasesAndStopOrderKills(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	started, causes := make(chan struct{}, 1), make(chan error, 1)
	startWorker(t, f, Config{Concurrency: 1}, map[string]HandlerFunc{
		"block": func(ctx context.Context, _ *Task) (*api.TaskResult, error) {
			started <- struct{}{}
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return &api.TaskResult{}, nil // must not be sent
		},
	})
	f.push("t-stop", "block", 4, `{}`)
	recv(t, started, "task start")
	for {
		hb := recv(t, f.heartbeats, "heartbeat")
		if slices.Contains(hb.Running, api.Lease{TaskID: "t-stop", Epoch: 4}) {
			break
		}
	}
	f.stop(api.StopOrder{TaskID: "t-stop", Epoch: 4, Reason: "cancelled"})
	var se *stopError
	if err := recv(t, causes, "handler stop"); !errors.As(err, &se) || se.reason != "cancelled" {
		t.Fatalf("handler's context cause = %v, want stopped: cancelled", err)
	}
	// With one slot, the next task starts only after the stopped one ended;
	// its result is the first the server sees.
	f.push("t-next", "echo", 1, `{"message":"x"}`)
	if res := recv(t, f.results, "result"); res.TaskID != "t-next" {
		t.Errorf("first result is for %s, want t-next: a stopped task must send none", res.TaskID)
	}
}

func TestReregistersWhenServerForgets(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	startWorker(t, f, Config{}, nil)
	first := recv(t, f.registers, "register")
	if first.WorkerID != "" || first.Credential != "" {
		t.Errorf("first register carries worker_id %q, credential %q, want none", first.WorkerID, first.Credential)
	}
	issued := f.lastIssued()
	id, cred := issued.WorkerID, issued.Credential

	f.forget() // the next heartbeat gets 401 WORKER_NOT_REGISTERED
	again := recv(t, f.registers, "second register")
	if again.WorkerID != id || again.Credential != cred {
		t.Errorf("re-register sent worker_id %q, credential %q, want the previous %q, %q", again.WorkerID, again.Credential, id, cred)
	}
	f.push("t-after", "echo", 1, `{"message":"back"}`)
	if res := recv(t, f.results, "result"); res.Result.Output != "back" {
		t.Errorf("result after re-register = %+v", res)
	}
}

func TestStaleResultIsDropped(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	f.staleOnce["t-stale"] = true
	startWorker(t, f, Config{Concurrency: 1}, nil)
	f.push("t-stale", "echo", 1, `{"message":"a"}`)
	if res := recv(t, f.results, "result"); res.TaskID != "t-stale" {
		t.Fatalf("result for %s, want t-stale", res.TaskID)
	}
	f.push("t-fresh", "echo", 1, `{"message":"b"}`)
	if res := recv(t, f.results, "result"); res.TaskID != "t-fresh" {
		t.Errorf("result for %s, want t-fresh: a STALE_LEASE result is not sent again", res.TaskID)
	}
}

func TestRetriesWhileServerUnavailable(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	f.leaseFailures = 3
	failResults := 2
	f.beforeResults = func([]api.AgentResult) error {
		if failResults > 0 {
			failResults--
			return errors.New("down")
		}
		return nil
	}
	startWorker(t, f, Config{}, nil)
	f.push("t", "echo", 1, `{"message":"eventually"}`)
	if res := recv(t, f.results, "result"); res.Result.Output != "eventually" {
		t.Errorf("result = %+v", res)
	}
}

func TestInitialRegisterRefused(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	f.refuseRegister = true
	w, err := New(Config{Server: f.srv.URL, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AUTHENTICATION_REQUIRED") {
		t.Errorf("Run = %v, want the server's refusal", err)
	}
}

func TestDrainLetsRunningTasksFinish(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	started, release := make(chan struct{}), make(chan struct{})
	w := startWorker(t, f, Config{}, map[string]HandlerFunc{
		"slow": func(ctx context.Context, _ *Task) (*api.TaskResult, error) {
			close(started)
			<-release // ignores ctx: a drain does not cancel running tasks
			return &api.TaskResult{Output: "done"}, nil
		},
	})
	f.push("t-slow", "slow", 1, `{}`)
	<-started
	w.cancel()
	close(release)
	if err := w.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	ev := f.eventLog()
	if i, j := slices.Index(ev, "result:t-slow"), slices.Index(ev, "deregister"); i < 0 || j < i {
		t.Errorf("events = %v, want the result, then deregister", ev)
	}
}

func TestDrainTimeoutKillsAndHandsBack(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	started, causes := make(chan struct{}), make(chan error, 1)
	w := startWorker(t, f, Config{DrainTimeout: 1}, map[string]HandlerFunc{
		"forever": func(ctx context.Context, _ *Task) (*api.TaskResult, error) {
			close(started)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil, context.Cause(ctx)
		},
	})
	f.push("t-forever", "forever", 1, `{}`)
	<-started
	if err := w.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	var se *stopError
	if err := <-causes; !errors.As(err, &se) || se.reason != "shutdown" {
		t.Errorf("handler's context cause = %v, want stopped: shutdown", err)
	}
	if ev := f.eventLog(); slices.Contains(ev, "result:t-forever") || ev[len(ev)-1] != "deregister" {
		t.Errorf("events = %v, want no result for the killed task, then deregister", ev)
	}
}

func TestServerDrainEndsRun(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	w := startWorker(t, f, Config{}, nil)
	recv(t, f.registers, "register")
	f.setDrain()
	if err := w.wait(t); err != nil {
		t.Errorf("Run = %v", err)
	}
	recv(t, f.deregister, "deregister")
}

func TestStateFileResumesIdentity(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	state := filepath.Join(t.TempDir(), "worker.json")
	w := startWorker(t, f, Config{StateFile: state}, nil)
	recv(t, f.registers, "register")
	recv(t, f.heartbeats, "heartbeat") // sent once registration is complete
	issued := f.lastIssued()
	id, cred := issued.WorkerID, issued.Credential
	if err := w.stop(t); err != nil {
		t.Fatal(err)
	}

	startWorker(t, f, Config{StateFile: state}, nil)
	req := recv(t, f.registers, "register after restart")
	if req.WorkerID != id || req.Credential != cred {
		t.Errorf("restarted worker sent worker_id %q, credential %q, want %q, %q", req.WorkerID, req.Credential, id, cred)
	}
}

func noop(context.Context, *Task) (*api.TaskResult, error) { return &api.TaskResult{}, nil }

func waitDone(ctx context.Context, _ *Task) (*api.TaskResult, error) {
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

func TestStopOrderKillsShellProcessGroup(t *testing.T) {
	t.Parallel()
	requireLinux(t)
	f := newFakeServer(t)
	startWorker(t, f, Config{Concurrency: 1, AllowShell: true, KillGrace: 200 * time.Millisecond}, nil)
	f.push("t-sh", "shell", 2, `{"command":"sleep 100 & echo $!; wait"}`)
	pid, _ := strconv.Atoi(recv(t, f.logs, "log line with the pid").Message)
	if !alive(pid) {
		t.Fatalf("grandchild %d not running", pid)
	}
	f.stop(api.StopOrder{TaskID: "t-sh", Epoch: 2, Reason: "lease_lost"})
	f.push("t-next", "echo", 1, `{"message":"x"}`)
	if res := recv(t, f.results, "result"); res.TaskID != "t-next" {
		t.Errorf("first result is for %s, want t-next: a stopped task must send none", res.TaskID)
	}
	// t-next ran after t-sh's slot was freed, i.e. after its command was
	// reaped and its group killed; the grandchild may await init's reaping.
	for deadline := time.Now().Add(2 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived the stop order", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
