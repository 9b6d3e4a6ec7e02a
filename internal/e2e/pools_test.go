package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// poolArgs make the pool loops quick enough for tests.
var poolArgs = []string{"--keeper-port", "0", "--netpulse-port", "0",
	"--pool-reconcile-interval", "200ms", "--pool-autoscale-interval", "300ms"}

// poolProcs lists the pids of the local pool workers that serve agent: the
// processes a server's local provider started, whichever server started
// them (they outlive a server killed with SIGKILL).
func poolProcs(agent string) []int { return poolProcsOf(agent, 0) }

// poolProcsOf is poolProcs of one pool (0: of every pool).
func poolProcsOf(agent string, pool int64) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		i := slices.Index(args, "--pool-id")
		if len(args) > 1 && args[1] == "worker" && i > 0 && i+1 < len(args) && slices.Contains(args, agent) &&
			(pool == 0 || args[i+1] == strconv.FormatInt(pool, 10)) {
			if st, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
				continue // a zombie: exited, not yet reaped by its (dead) parent's heir
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// killPoolProcs makes sure no pool worker outlives its test.
func killPoolProcs(t *testing.T, agent string) {
	t.Cleanup(func() {
		for _, pid := range poolProcs(agent) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

func newPoolCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	cl := newCluster(t, append(slices.Clone(poolArgs), extra...)...)
	killPoolProcs(t, cl.agent)
	return cl
}

func createPool(t *testing.T, cl *cluster, req api.CreatePoolRequest) *api.Pool {
	t.Helper()
	if req.Provider == "" {
		req.Provider = "local"
	}
	p, err := cl.c.Pools.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("Pools.Create() error = %v", err)
	}
	return p
}

// waitPool waits until pool id has want online workers, none draining,
// and exactly want local worker processes.
func waitPool(t *testing.T, cl *cluster, id int64, want int, limit time.Duration) *api.Pool {
	t.Helper()
	var p *api.Pool
	eventually(t, limit, fmt.Sprintf("pool %d to have %d workers", id, want), func() bool {
		var err error
		p, err = cl.c.Pools.Get(context.Background(), id)
		return err == nil && p.Running == want && len(p.Workers) == want && len(poolProcsOf(cl.agent, id)) == want
	})
	return p
}

func submitTo(t *testing.T, cl *cluster, queue string, n int, seconds float64) []string {
	t.Helper()
	var ids []string
	for range n {
		req := sleepTask(seconds)
		req.Queue = queue
		r, err := cl.c.Tasks.Submit(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.TaskID)
	}
	return ids
}

// waitCompleted waits until every task completed, and fails on any that
// ended otherwise: none may be lost by scaling.
func waitCompleted(t *testing.T, cl *cluster, ids []string, limit time.Duration) []*api.Task {
	t.Helper()
	out := make([]*api.Task, len(ids))
	eventually(t, limit, fmt.Sprintf("%d tasks to complete", len(ids)), func() bool {
		for i, id := range ids {
			if out[i] != nil && out[i].Status == "completed" {
				continue
			}
			task, err := cl.c.Tasks.Get(context.Background(), id)
			if err != nil {
				return false
			}
			if task.Status == "failed" || task.Status == "cancelled" {
				t.Fatalf("task %s ended %s (%v): lost by scaling", id, task.Status, task.Error)
			}
			out[i] = task
			if task.Status != "completed" {
				return false
			}
		}
		return true
	})
	return out
}

func eventsOf(t *testing.T, cl *cluster, id int64) []string {
	t.Helper()
	l, err := cl.c.Pools.Events(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Events {
		out = append(out, fmt.Sprintf("%d->%d", e.From, e.To))
	}
	return out
}

// TestPoolLocalScaleUpDown: a pool of local worker processes scaled
// 1 -> 3 -> 1. The processes appear and register, then the surplus drains:
// the tasks it runs finish, and its processes leave.
func TestPoolLocalScaleUpDown(t *testing.T) {
	t.Parallel()
	cl := newPoolCluster(t)
	p := createPool(t, cl, api.CreatePoolRequest{Name: "updown", Points: 1, MaxPoints: 5,
		Worker: api.WorkerTemplate{Queues: []string{"pq"}, Concurrency: 2}, DrainTimeoutSeconds: 20})
	first := waitPool(t, cl, p.ID, 1, 20*time.Second)

	if _, changed, err := cl.c.Pools.Scale(context.Background(), p.ID, 3, "test"); err != nil || !changed {
		t.Fatalf("Scale(3) = changed %v, %v", changed, err)
	}
	three := waitPool(t, cl, p.ID, 3, 20*time.Second)
	if three.Workers[0].ID != first.Workers[0].ID && three.Workers[1].ID != first.Workers[0].ID && three.Workers[2].ID != first.Workers[0].ID {
		t.Errorf("the first worker %s is not among %v after scaling up", first.Workers[0].ID, three.Workers)
	}

	ids := submitTo(t, cl, "pq", 6, 2)
	eventually(t, 10*time.Second, "6 tasks running on 3 workers", func() bool {
		l, err := cl.c.Tasks.List(context.Background(), client.TaskListOptions{Status: "running"})
		return err == nil && len(l.Tasks) == 6
	})
	if _, _, err := cl.c.Pools.Scale(context.Background(), p.ID, 1, "test"); err != nil {
		t.Fatal(err)
	}
	waitPool(t, cl, p.ID, 1, 30*time.Second)
	tasks := waitCompleted(t, cl, ids, 30*time.Second)
	for _, task := range tasks {
		if task.Attempt != 1 {
			t.Errorf("task %s took %d attempts; the drain deadline (20s) left time to finish", task.TaskID, task.Attempt)
		}
	}
	if got, want := eventsOf(t, cl, p.ID), []string{"3->1", "1->3", "0->1"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// TestPoolScaleDownBusyLosesNothing (RELIABILITY R10): ten busy workers
// scaled to two, twice. Tasks still running at the drain deadline are
// handed back once and finish elsewhere; nothing is lost; the second,
// identical request changes nothing.
func TestPoolScaleDownBusyLosesNothing(t *testing.T) {
	t.Parallel()
	cl := newPoolCluster(t)
	p := createPool(t, cl, api.CreatePoolRequest{Name: "busy", Points: 10, MaxPoints: 10,
		Worker: api.WorkerTemplate{Queues: []string{"busy"}, Concurrency: 1}, DrainTimeoutSeconds: 1})
	waitPool(t, cl, p.ID, 10, 60*time.Second)
	ids := submitTo(t, cl, "busy", 20, 3)
	eventually(t, 20*time.Second, "10 tasks running", func() bool {
		l, err := cl.c.Tasks.List(context.Background(), client.TaskListOptions{Status: "running"})
		return err == nil && len(l.Tasks) == 10
	})
	for i, wantChanged := range []bool{true, false} {
		if _, changed, err := cl.c.Pools.Scale(context.Background(), p.ID, 2, "test"); err != nil || changed != wantChanged {
			t.Fatalf("Scale(2) #%d = changed %v, %v; want changed %v", i+1, changed, err, wantChanged)
		}
	}
	waitPool(t, cl, p.ID, 2, 60*time.Second)
	begin := time.Now()
	tasks := waitCompleted(t, cl, ids, 90*time.Second)
	// Handed-back tasks start again from scratch, so they end late: the
	// last start is after the drain deadline of the first ones.
	late := 0
	for _, task := range tasks {
		if task.StartedAt != nil && task.StartedAt.After(begin.Add(time.Second)) {
			late++
		}
	}
	t.Logf("20 tasks completed, none lost; %d started (or restarted) after the 1 s drain deadline", late)
	if got, want := eventsOf(t, cl, p.ID), []string{"10->2", "0->10"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v (the repeated request is a no-op)", got, want)
	}
}

// TestPoolServerKilledWhileScaling: the server is killed (SIGKILL) just
// after a scale-up and again during a scale-down; after each restart the
// pool reaches its size, with no worker process left over and no task lost.
func TestPoolServerKilledWhileScaling(t *testing.T) {
	t.Parallel()
	cl := newPoolCluster(t)
	apiPort, agentPort := portOf(t, cl.api), portOf(t, cl.agent)
	p := createPool(t, cl, api.CreatePoolRequest{Name: "crash", Points: 1, MaxPoints: 5,
		Worker: api.WorkerTemplate{Queues: []string{"cq"}, Concurrency: 2}, DrainTimeoutSeconds: 2})
	waitPool(t, cl, p.ID, 1, 20*time.Second)
	ids := submitTo(t, cl, "cq", 10, 1)

	// Scale-up, killed at once: some launches may not have registered yet.
	if _, _, err := cl.c.Pools.Scale(context.Background(), p.ID, 3, "test"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the reconciler has launched (its kick is immediate)
	cl.server.kill()
	cl.startServer(t, apiPort, agentPort)
	waitPool(t, cl, p.ID, 3, 40*time.Second)

	// Scale-down, killed while draining.
	ids = append(ids, submitTo(t, cl, "cq", 10, 1)...)
	if _, _, err := cl.c.Pools.Scale(context.Background(), p.ID, 1, "test"); err != nil {
		t.Fatal(err)
	}
	// Kill while a worker drains; on a loaded machine an idle worker may
	// drain and go between two looks, which is as good a moment.
	eventually(t, 30*time.Second, "a worker to drain", func() bool {
		pl, err := cl.c.Pools.Get(context.Background(), p.ID)
		return err == nil && (pl.Running < len(pl.Workers) || len(pl.Workers) <= 1)
	})
	cl.server.kill()
	cl.startServer(t, apiPort, agentPort)
	waitPool(t, cl, p.ID, 1, 40*time.Second)
	waitCompleted(t, cl, ids, 60*time.Second)
	// Stable: no orphan comes back, nothing more is launched.
	time.Sleep(time.Second)
	if n := len(poolProcs(cl.agent)); n != 1 {
		t.Errorf("%d pool worker processes a second later, want 1", n)
	}
}

// TestPoolAutoscale: a backlog grows an autoscaled pool within its bounds,
// and once idle it shrinks to its minimum.
func TestPoolAutoscale(t *testing.T) {
	t.Parallel()
	cl := newPoolCluster(t)
	p := createPool(t, cl, api.CreatePoolRequest{Name: "auto", Points: 0, MinPoints: 0, MaxPoints: 3,
		Worker:    api.WorkerTemplate{Queues: []string{"aq"}, Concurrency: 2},
		Autoscale: api.Autoscale{Enabled: true, TasksPerWorker: 2, CooldownSeconds: 1}})
	ids := submitTo(t, cl, "aq", 12, 1.5) // asks for 6 workers: held at 3
	waitPool(t, cl, p.ID, 3, 30*time.Second)
	waitCompleted(t, cl, ids, 60*time.Second)
	waitPool(t, cl, p.ID, 0, 30*time.Second)
	l, err := cl.c.Pools.Events(context.Background(), p.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Events {
		if e.To < 0 || e.To > 3 {
			t.Errorf("event %+v leaves the bounds 0..3", e)
		}
		if e.ID != l.Events[len(l.Events)-1].ID && e.Actor != "autoscaler" {
			t.Errorf("event %+v not by the autoscaler", e)
		}
	}
	t.Logf("autoscaling events: %v", eventsOf(t, cl, p.ID))
}

// TestChangePointsDocumentExample runs document 000's two Python examples
// as written, pointed at `drover dev` (only the connection line changes):
// the full one scales the dev pool, task 3000, from 1 to 2 running
// workers; the first one, with its placeholder token and fixed timestamp,
// sets task 388 to 1 node.
func TestChangePointsDocumentExample(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "testdata", "000_change_points_example.py"))
	if err != nil {
		t.Fatal(err)
	}
	apiPort, agentPort := freePort(t), freePort(t)
	agent := fmt.Sprintf("http://127.0.0.1:%d", agentPort)
	killPoolProcs(t, agent)
	start(t, "dev", "dev", "--data", t.TempDir(), "--port", strconv.Itoa(apiPort), "--agent-port", strconv.Itoa(agentPort),
		"--keeper-port", "0", "--netpulse-port", "0", "--workers", "0")
	c, err := client.New(fmt.Sprintf("http://127.0.0.1:%d", apiPort))
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{api: fmt.Sprintf("http://127.0.0.1:%d", apiPort), agent: agent, c: c}
	eventually(t, 20*time.Second, "dev to answer", func() bool { _, err := c.Health(context.Background()); return err == nil })
	waitPool(t, cl, 3000, 1, 20*time.Second)

	script := bytes.Replace(doc, []byte(`http.client.HTTPSConnection("openapi.suanli.cn")`),
		[]byte(fmt.Sprintf(`http.client.HTTPConnection("localhost", %d)`, apiPort)), 1)
	if bytes.Equal(script, doc) {
		t.Fatal("the example's connection line was not found")
	}
	out, err := exec.Command("python3", "-c", string(script)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	for _, want := range []string{"状态码: 200 OK", `"code": "0000"`, `"message": "success"`, `"data": null`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the example printed %s; want it to contain %s", out, want)
		}
	}
	waitPool(t, cl, 3000, 2, 20*time.Second)

	short, err := os.ReadFile(filepath.Join("..", "..", "docs", "testdata", "000_change_points_short.py"))
	if err != nil {
		t.Fatal(err)
	}
	script = bytes.Replace(short, []byte(`http.client.HTTPSConnection("openapi.suanli.cn")`),
		[]byte(fmt.Sprintf(`http.client.HTTPConnection("localhost", %d)`, apiPort)), 1)
	out, err = exec.Command("python3", "-c", string(script)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != `{"code":"0000","message":"success","data":null}` {
		t.Fatalf("the first example: %v, printed %s", err, out)
	}
	waitPool(t, cl, 388, 1, 20*time.Second)
}

// TestChangePointsLatency measures the time from change_points to the new
// worker leasing its first task, with the local provider (issue 10: p50 of
// 10, in the closing note).
func TestChangePointsLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	cl := newPoolCluster(t)
	var samples []time.Duration
	for i := range 10 {
		q := fmt.Sprintf("lat%d", i)
		p := createPool(t, cl, api.CreatePoolRequest{Name: q, Points: 0, MaxPoints: 1, Worker: api.WorkerTemplate{Queues: []string{q}}})
		req := sleepTask(0)
		req.Queue = q
		sub, err := cl.c.Tasks.Submit(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"task_id": %d, "points": 1}`, p.ID)
		hr, _ := http.NewRequest("POST", cl.api+"/api/deployment/task/change_points", strings.NewReader(body))
		for k, v := range map[string]string{"token": "x", "timestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "version": "1.0.0", "Content-Type": "application/json"} {
			hr.Header.Set(k, v)
		}
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(hr)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("change_points: %v %v", resp, err)
		}
		resp.Body.Close()
		var started time.Time
		eventually(t, 20*time.Second, "the new worker to lease its task", func() bool {
			task, err := cl.c.Tasks.Get(context.Background(), sub.TaskID)
			if err != nil || task.StartedAt == nil {
				return false
			}
			started = *task.StartedAt
			return true
		})
		samples = append(samples, started.Sub(t0))
		if _, _, err := cl.c.Pools.Scale(context.Background(), p.ID, 0, "test"); err != nil {
			t.Fatal(err)
		}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	t.Logf("change_points -> new worker leases its first task (local provider): p50 %s (min %s, max %s) over %d: %v",
		sorted[len(sorted)/2].Round(time.Millisecond), sorted[0].Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond), len(samples), samples)
}

// TestPoolsCLI drives `drover pools` against a real server, with the
// command provider and scripts that record their calls.
func TestPoolsCLI(t *testing.T) {
	t.Parallel()
	cl := newPoolCluster(t)
	calls := filepath.Join(t.TempDir(), "calls.log")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(droverBin, append([]string{"--api-url", cl.api}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("drover %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("pools", "create", "--id", "77", "--name", "cli", "--points", "1", "--max", "4", "--provider", "command",
		"--scale-up", "echo up $DROVER_POOL_ID $DROVER_COUNT >> "+calls, "--scale-down", "echo down $DROVER_WORKER_ID >> "+calls)
	if !strings.Contains(out, "Pool 77 (cli)") {
		t.Errorf("pools create printed %q", out)
	}
	eventually(t, 10*time.Second, "the scale-up script to run", func() bool {
		b, _ := os.ReadFile(calls)
		return strings.Contains(string(b), "up 77 1")
	})
	if out := run("pools", "list"); !strings.Contains(out, "77") || !strings.Contains(out, "command") {
		t.Errorf("pools list printed %q", out)
	}
	if out := run("pools", "scale", "77", "3"); !strings.Contains(out, "scaled to 3") {
		t.Errorf("pools scale printed %q", out)
	}
	if out := run("pools", "scale", "77", "3"); !strings.Contains(out, "nothing changed") {
		t.Errorf("pools scale (same size) printed %q", out)
	}
	var got struct {
		Pool api.Pool `json:"pool"`
	}
	if err := json.Unmarshal([]byte(run("pools", "get", "77", "-o", "json")), &got); err != nil || got.Pool.Points != 3 {
		t.Errorf("pools get -o json = %+v, %v", got, err)
	}
	if out := run("pools", "events", "77"); strings.Count(out, "\n") != 3 || !strings.Contains(out, "1     3") && !strings.Contains(out, "api") {
		t.Errorf("pools events printed %q", out)
	}
	if out := run("pools", "delete", "77"); !strings.Contains(out, "deleted") {
		t.Errorf("pools delete printed %q", out)
	}
	if out, err := exec.Command(droverBin, "--api-url", cl.api, "pools", "get", "77").CombinedOutput(); err == nil || !strings.Contains(string(out), "does not exist") {
		t.Errorf("pools get after delete: %v %s", err, out)
	}
}

// TestPoolLocalWithAuth: with --auth the local provider hands each worker a
// one-use join token bound to its pool; the worker joins with it and is
// counted in the pool.
func TestPoolLocalWithAuth(t *testing.T) {
	t.Parallel()
	const admin = "pool-test-admin-key-0123456789abcdef"
	cl := newPoolCluster(t, "--auth", "--api-key", admin)
	c, err := client.New(cl.api, client.WithAPIKey(admin))
	if err != nil {
		t.Fatal(err)
	}
	cl.c = c
	p := createPool(t, cl, api.CreatePoolRequest{Name: "authed", Points: 2, MaxPoints: 3})
	got := waitPool(t, cl, p.ID, 2, 30*time.Second)
	keys, err := c.Keys.List(context.Background(), client.KeyListOptions{Kind: "join", IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	joins := 0
	for _, k := range keys.Keys {
		if k.Pool == strconv.FormatInt(p.ID, 10) {
			joins++
		}
	}
	if joins == 0 {
		t.Errorf("no join token bound to pool %d among %+v", p.ID, keys.Keys)
	}
	for _, w := range got.Workers {
		d, err := c.Devices.Get(context.Background(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Labels["pool"] != strconv.FormatInt(p.ID, 10) || d.PoolID != p.ID {
			t.Errorf("worker %s has pool_id %d, labels %v; want it admitted to pool %d by its pool's join token", w.ID, d.PoolID, d.Labels, p.ID)
		}
	}
}
