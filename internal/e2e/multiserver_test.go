package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// pgCluster is several server processes sharing one PostgreSQL schema.
type pgCluster struct {
	store   string // the --store URL, with the test's schema as search_path
	schema  string
	db      *pgx.Conn
	servers []*pgServer
}

type pgServer struct {
	name       string
	api, agent string
	c          *client.Client
	proc       *proc
}

// newPGCluster makes a fresh schema on DROVER_TEST_POSTGRES_URL, dropped
// when the test ends. Without the variable the test skips, except in CI.
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	base := os.Getenv("DROVER_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DROVER_TEST_POSTGRES_URL is not set; in CI the PostgreSQL tests must run (source .ci/postgres.sh)")
		}
		t.Skip("DROVER_TEST_POSTGRES_URL is not set; run .ci/postgres.sh to start a local PostgreSQL")
	}
	var b [6]byte
	rand.Read(b[:])
	cl := &pgCluster{schema: "drover_e2e_" + hex.EncodeToString(b[:])}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", cl.schema) // the server creates it
	u.RawQuery = q.Encode()
	cl.store = u.String()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cl.db, err = pgx.Connect(ctx, base); err != nil {
		t.Fatalf("connecting to DROVER_TEST_POSTGRES_URL: %v", err)
	}
	t.Cleanup(func() { // registered first, so it runs after the processes are killed
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := cl.db.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{cl.schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", cl.schema, err)
		}
		cl.db.Close(ctx)
	})
	return cl
}

func (cl *pgCluster) startServer(t *testing.T, name string) *pgServer {
	t.Helper()
	apiPort, agentPort := freePort(t), freePort(t)
	s := &pgServer{
		name:  name,
		api:   fmt.Sprintf("http://127.0.0.1:%d", apiPort),
		agent: fmt.Sprintf("http://127.0.0.1:%d", agentPort),
	}
	s.proc = start(t, name, "server", "--store", cl.store,
		"--port", strconv.Itoa(apiPort), "--agent-port", strconv.Itoa(agentPort),
		"--heartbeat-interval", heartbeat.String(), "--lease-ttl", leaseTTL.String(),
		"--offline-threshold", (5 * heartbeat).String(), "--log-level", "info",
		"--keeper-port", "0", "--netpulse-port", "0")
	c, err := client.New(s.api)
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	eventually(t, 20*time.Second, name+" to answer", func() bool {
		_, err := c.Health(context.Background())
		return err == nil
	})
	cl.servers = append(cl.servers, s)
	return s
}

func (cl *pgCluster) startWorker(t *testing.T, s *pgServer, name string, concurrency int, queues string) *proc {
	t.Helper()
	p := start(t, name, "worker", "--server", s.agent, "--name", name, "--queues", queues,
		"--concurrency", strconv.Itoa(concurrency), "--log-level", "warn")
	eventually(t, 20*time.Second, name+" to register", func() bool {
		d, err := s.c.Devices.Get(context.Background(), name)
		return err == nil && d.Status == "online"
	})
	return p
}

// leader is the server whose process holds the leadership row, and the
// row's term; nil while no live server holds it.
func (cl *pgCluster) leader(t *testing.T) (*pgServer, int64) {
	t.Helper()
	var holder string
	var term int64
	err := cl.db.QueryRow(context.Background(),
		`SELECT holder, term FROM `+pgx.Identifier{cl.schema, "leader"}.Sanitize()+` WHERE name = 'maintenance' AND expires_at > now()`).
		Scan(&holder, &term)
	if err != nil {
		return nil, 0
	}
	// The holder is host/pid/random.
	parts := strings.Split(holder, "/")
	if len(parts) != 3 {
		t.Fatalf("leader holder %q is not host/pid/random", holder)
	}
	for _, s := range cl.servers {
		if strconv.Itoa(s.proc.cmd.Process.Pid) == parts[1] && s.proc.cmd.ProcessState == nil {
			return s, term
		}
	}
	return nil, term
}

// TestTwoServersOnePostgres runs two servers on one PostgreSQL schema, a
// worker on each. Tasks submitted through one server start at once on the
// other's worker (LISTEN/NOTIFY, not the long-poll timeout). Then, under
// load, the leader is killed -9 and so is the worker attached to it: every
// acknowledged task still completes exactly once, the survivor takes over
// the leadership and rescues the dead worker's leases.
func TestTwoServersOnePostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newPGCluster(t)
	a := cl.startServer(t, "server-a")
	eventually(t, 10*time.Second, "server-a to lead", func() bool { s, _ := cl.leader(t); return s == a })
	b := cl.startServer(t, "server-b")
	// The metrics say who leads: one server, and the other not.
	if ga, gb := gauge(t, a.api, "drover_leader"), gauge(t, b.api, "drover_leader"); ga != 1 || gb != 0 {
		t.Errorf("drover_leader: server-a %v, server-b %v; want 1 and 0", ga, gb)
	}
	workerA := cl.startWorker(t, a, "worker-a", 10, "FifoQ")
	cl.startWorker(t, b, "worker-b", 10, "FifoQ,only-b")

	// Cross-server wake-up: worker-b long-polls server-b (25 s per poll);
	// tasks for its queue submitted through server-a must start at once.
	for i := range 5 {
		sub, err := a.c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: []byte(`{"message":"hop"}`), Queue: "only-b"})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := b.c.Tasks.Wait(ctx, sub.TaskID, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Status != "completed" || deref(tk.DeviceID) != "worker-b" {
			t.Fatalf("task %d submitted on server-a: %s on %s, want completed on worker-b", i, tk.Status, deref(tk.DeviceID))
		}
		if lag := tk.StartedAt.Sub(tk.CreatedAt); lag > 2*time.Second {
			t.Errorf("task %d submitted on server-a started %s later on worker-b: woken by the poll timeout, not a notification", i, lag)
		}
	}

	// Load on both servers: submitters alternate between them and keep the
	// acknowledged ids; an error is an unknown outcome and is not counted.
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				s := cl.servers[(g+i)%2]
				batch := []api.SubmitTaskRequest{sleepTask(0.3), sleepTask(0.3)}
				r, err := s.c.Tasks.SubmitBatch(ctx, batch)
				if err != nil {
					continue
				}
				mu.Lock()
				for _, st := range r.Tasks {
					acked[st.TaskID] = true
				}
				mu.Unlock()
			}
		})
	}
	var onWorkerA []api.Task
	eventually(t, 20*time.Second, "load on both servers and both workers", func() bool {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		la, errA := a.c.Tasks.List(ctx, client.TaskListOptions{Status: "running", DeviceID: "worker-a", Limit: 1000})
		lb, errB := a.c.Tasks.List(ctx, client.TaskListOptions{Status: "running", DeviceID: "worker-b", Limit: 1})
		if errA != nil || errB != nil {
			return false
		}
		onWorkerA = la.Tasks
		return n >= 150 && len(la.Tasks) >= 5 && lb.Total >= 5
	})
	a.proc.kill() // the leader, mid-load
	workerA.kill()
	killedAt := time.Now()
	mu.Lock()
	ackedAtKill := len(acked)
	mu.Unlock()
	// worker-a's running tasks were taken by it after the last listing too;
	// list again through the survivor (the task rows are shared).
	running, err := b.c.Tasks.List(ctx, client.TaskListOptions{Status: "running", DeviceID: "worker-a", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	orphans := map[string]bool{}
	for _, tk := range append(onWorkerA, running.Tasks...) {
		orphans[tk.TaskID] = true
	}

	time.Sleep(time.Second) // keep submitting, now to the survivor alone, for a moment
	close(stop)
	wg.Wait()
	eventually(t, 20*time.Second, "server-b to lead", func() bool { s, _ := cl.leader(t); return s == b })
	tookOver := time.Since(killedAt)
	// The survivor's failover grace counts from its own election.
	eventually(t, 5*time.Second, "server-b's metrics to show its leadership", func() bool {
		return gauge(t, b.api, "drover_leader") == 1
	})
	if since := gauge(t, b.api, "drover_leader_since_timestamp_seconds"); since < float64(killedAt.UnixNano())/1e9 {
		t.Errorf("server-b leads since %v, before server-a was killed at %v", since, killedAt)
	}
	if _, term := cl.leader(t); term != 2 {
		t.Errorf("server-b leads under term %d, want 2", term)
	}

	eventually(t, 40*time.Second, "every acknowledged task to complete", func() bool {
		l, err := b.c.Tasks.List(ctx, client.TaskListOptions{Limit: 1})
		return err == nil && l.Pending == 0 && l.Running == 0
	})
	tasks := allTasks(t, b.c)
	have := map[string]api.Task{}
	for _, tk := range tasks {
		have[tk.TaskID] = tk
	}
	for id := range acked {
		tk, ok := have[id]
		switch {
		case !ok:
			t.Errorf("acknowledged task %s is lost", id)
		case tk.Status != "completed":
			t.Errorf("acknowledged task %s ended %s, want completed", id, tk.Status)
		}
	}
	rescued := 0
	for id := range orphans {
		tk := have[id]
		if tk.Status == "completed" && deref(tk.DeviceID) == "worker-b" && tk.Attempt >= 2 {
			rescued++
		} else if deref(tk.DeviceID) != "worker-a" || tk.Attempt != 1 {
			// worker-a may have reported some before it died; others must
			// have been rescued and rerun on worker-b.
			t.Errorf("worker-a's task %s: %s on %s attempt %d, want rescued and completed on worker-b", id, tk.Status, deref(tk.DeviceID), tk.Attempt)
		}
	}
	if rescued == 0 {
		t.Errorf("none of worker-a's %d in-flight tasks was rescued by the surviving leader", len(orphans))
	}
	// Completed at most once: the workers' counters of accepted completions
	// add up to the completed tasks exactly.
	var counted int64
	for _, name := range []string{"worker-a", "worker-b"} {
		d, err := b.c.Devices.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		counted += d.Tasks.Completed
	}
	completed := 0
	for _, tk := range tasks {
		if tk.Status == "completed" {
			completed++
		}
	}
	if counted != int64(completed) {
		t.Errorf("workers had %d completions accepted for %d completed tasks: some task was completed twice", counted, completed)
	}
	t.Logf("%d tasks acknowledged (%d before the kill), %d completed; worker-a's %d in-flight tasks: %d rescued by server-b, which led %s after the kill",
		len(acked), ackedAtKill, completed, len(orphans), rescued, tookOver.Round(100*time.Millisecond))
}

// TestTwoServersJoinOneName: workers with one hostname registering at the
// same moment through two servers on one PostgreSQL database each get an id
// of their own (name, name-2, …): the database picks them, not a lock in one
// server's memory.
func TestTwoServersJoinOneName(t *testing.T) {
	t.Parallel()
	cl := newPGCluster(t)
	a := cl.startServer(t, "server-a")
	b := cl.startServer(t, "server-b")

	const perServer = 12
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	startLine := make(chan struct{})
	for i := range 2 * perServer {
		s := []*pgServer{a, b}[i%2]
		wg.Go(func() {
			<-startLine
			id, err := registerRaw(s.agent, "twin")
			if err != nil {
				t.Errorf("register through %s: %v", s.name, err)
				return
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		})
	}
	close(startLine)
	wg.Wait()
	want := map[string]bool{"twin": true}
	for n := 2; n <= 2*perServer; n++ {
		want["twin-"+strconv.Itoa(n)] = true
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("id %s handed out twice", id)
		}
		seen[id] = true
		if !want[id] {
			t.Errorf("id %s, want one of twin, twin-2 … twin-%d", id, 2*perServer)
		}
	}
	devices, err := b.c.Devices.List(context.Background(), client.DeviceListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(devices.Devices) != 2*perServer {
		t.Errorf("%d devices registered, want %d", len(devices.Devices), 2*perServer)
	}
}

// registerRaw registers a worker named name through the worker protocol at
// agent and returns the id it got.
func registerRaw(agent, name string) (string, error) {
	body, err := json.Marshal(api.RegisterRequest{
		Name: name, Hostname: name, Platform: api.Platform{OS: "linux", Arch: "amd64"},
		Queues: []string{"default"}, TaskTypes: []string{"echo"}, Concurrency: 1,
	})
	if err != nil {
		return "", err
	}
	resp, err := http.Post(agent+api.AgentRegisterPath, "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var env struct {
		Data  api.RegisterResponse `json:"data"`
		Error *api.Error           `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || env.Data.WorkerID == "" {
		return "", fmt.Errorf("status %d, error %+v", resp.StatusCode, env.Error)
	}
	return env.Data.WorkerID, nil
}

// gauge reads an unlabelled series from a server's /metrics; -1 when the
// server does not export it.
func gauge(t *testing.T, api, name string) float64 {
	t.Helper()
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s/metrics: %s: %v", api, name, err)
			}
			return f
		}
	}
	return -1
}
