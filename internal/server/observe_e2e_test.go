package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// observeBundle is a real server with one real worker.
type observeBundle struct {
	srv    *drovertest.Server
	worker *worker.Worker
	c      *client.Client
}

func observeSetup(t *testing.T) *observeBundle {
	t.Helper()
	srv := drovertest.NewServer(t, drovertest.Options{})
	w := srv.StartWorker(t, worker.Config{Name: "obs-worker", Concurrency: 4})
	return &observeBundle{srv: srv, worker: w, c: srv.Client}
}

// submitAndWait submits n echo tasks and waits for them all to complete.
func (b *observeBundle) submitAndWait(t *testing.T, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		res, err := b.c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"hi"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.TaskID
	}
	for _, id := range ids {
		drovertest.Eventually(t, 15*time.Second, func() bool {
			task, err := b.c.Tasks.Get(ctx, id)
			return err == nil && task.Status == "completed"
		}, "task "+id+" to complete")
	}
	return ids
}

// getData GETs an API path and decodes the envelope's data.
func getData(t *testing.T, base, path string, out any) int {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env api.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if out != nil && env.Status == "success" {
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatalf("GET %s: data: %v", path, err)
		}
	}
	if env.Error != nil && out != nil {
		if p, ok := out.(*api.Error); ok {
			*p = *env.Error
		}
	}
	return resp.StatusCode
}

func sendJSON(t *testing.T, method, url, body string) (int, api.Envelope) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env api.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, env
}

func TestHistoryMetricsAndStats(t *testing.T) {
	t.Parallel()
	b := observeSetup(t)
	ctx := context.Background()
	b.submitAndWait(t, 5)
	id := b.worker.ID()
	// A few heartbeats (every 100 ms here) have been sampled; write them.
	drovertest.Eventually(t, 5*time.Second, func() bool {
		if err := b.srv.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		d, err := b.c.Devices.Get(ctx, id)
		return err == nil && len(d.PerformanceHistory.CPUUsage24h) > 0
	}, "performance history")

	d, err := b.c.Devices.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	h := d.PerformanceHistory
	if len(h.MemoryUsage24h) != len(h.CPUUsage24h) || len(h.TaskCount24h) != len(h.CPUUsage24h) || len(h.Timestamps24h) != len(h.CPUUsage24h) {
		t.Errorf("performance_history series differ in length: %+v", h)
	}
	// Each point has its hour's start, oldest first, within the last day.
	for i, at := range h.Timestamps24h {
		if at.IsZero() || !at.Equal(at.Truncate(time.Hour)) || time.Since(at) > 24*time.Hour || (i > 0 && !at.After(h.Timestamps24h[i-1])) {
			t.Errorf("performance_history timestamps_24h = %v: want hour starts of the last day, ascending", h.Timestamps24h)
			break
		}
	}
	if last := h.TaskCount24h[len(h.TaskCount24h)-1]; last < 5 {
		t.Errorf("task_count_24h last hour = %d, want >= 5", last)
	}
	if len(d.DetailedInfo.NetworkInterfaces) == 0 && len(d.DetailedInfo.Capabilities) == 0 {
		t.Errorf("detailed_info is empty: %+v", d.DetailedInfo)
	}

	for _, period := range []string{"1h", "24h", "7d", "30d"} {
		m, err := b.c.Cluster.Metrics(ctx, period, "")
		if err != nil {
			t.Fatalf("metrics %s: %v", period, err)
		}
		if m.Period != period || m.Metrics.CPU == nil || m.Metrics.Memory == nil || m.Metrics.Tasks == nil || m.Metrics.Network == nil || m.Metrics.Disk == nil {
			t.Fatalf("metrics %s = %+v, want every section", period, m)
		}
		if m.Metrics.Tasks.Completed != 5 {
			t.Errorf("metrics %s: tasks.completed = %d, want 5", period, m.Metrics.Tasks.Completed)
		}
		if *m.Metrics.CPU.TotalCores <= 0 || m.Metrics.Network.Heartbeats == 0 {
			t.Errorf("metrics %s: cpu %+v network %+v", period, m.Metrics.CPU, m.Metrics.Network)
		}
	}
	m, err := b.c.Cluster.Metrics(ctx, "", "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if m.Period != "1h" || m.Metrics.CPU == nil || m.Metrics.Memory != nil || m.Metrics.Tasks != nil {
		t.Errorf("metrics?type=cpu = %+v, want only cpu over 1h", m)
	}
	var apiErr api.Error
	if code := getData(t, b.srv.APIURL(), "/api/v1/cluster/metrics?period=2h", &apiErr); code != 400 || apiErr.Code != "VALIDATION_ERROR" {
		t.Errorf("period=2h: %d %s, want 400 VALIDATION_ERROR", code, apiErr.Code)
	}

	st, err := b.c.Cluster.TaskStats(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Period != "24h" || st.TotalTasks != 5 || st.ByStatus.Completed != 5 || st.ByDevice[id].Completed != 5 || st.SuccessRate != 100 {
		t.Errorf("stats/tasks = %+v", st)
	}
	for _, g := range []string{"task_type", "hour"} {
		st, err := b.c.Cluster.TaskStats(ctx, "7d", g)
		if err != nil {
			t.Fatal(err)
		}
		if g == "task_type" && st.ByTaskType["echo"].Completed != 5 || g == "hour" && len(st.ByHour) == 0 {
			t.Errorf("stats/tasks group_by=%s = %+v", g, st)
		}
	}
	ds, err := b.c.Cluster.DeviceStats(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	u, ok := ds.Utilization[id]
	if !ok || u.TasksCompleted != 5 || u.UptimePercent <= 0 || len(ds.PerformanceRanking) != 1 || ds.PerformanceRanking[0].Score <= 50 {
		t.Errorf("stats/devices = %+v", ds)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	b := observeSetup(t)
	ctx := context.Background()
	ids := b.submitAndWait(t, 3)
	if err := b.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := b.c.Cluster.Logs(ctx, client.LogOptions{TaskID: ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range l.Logs {
		types = append(types, e.Type)
	}
	// Newest first.
	if strings.Join(types, ",") != "task_completed,task_started,task_submitted" {
		t.Errorf("log of task %s: types %v", ids[0], types)
	}
	if l.Total != 3 || l.Logs[0].Component != "task_executor" || *l.Logs[0].DeviceID != b.worker.ID() {
		t.Errorf("log entry = %+v (total %d)", l.Logs[0], l.Total)
	}

	// Paging with the cursor visits every entry once.
	seen := map[int64]bool{}
	var cursor int64
	for page := 0; ; page++ {
		l, err := b.c.Cluster.Logs(ctx, client.LogOptions{Limit: 2, Cursor: cursor, DeviceID: b.worker.ID()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Logs {
			if seen[e.ID] {
				t.Fatalf("entry %d seen twice", e.ID)
			}
			seen[e.ID] = true
			if *e.DeviceID != b.worker.ID() {
				t.Fatalf("device filter let through %+v", e)
			}
		}
		if !l.HasMore {
			if len(seen) != l.Total {
				t.Errorf("paged through %d entries, total says %d", len(seen), l.Total)
			}
			break
		}
		cursor = l.Cursor
		if page > 100 {
			t.Fatal("paging does not end")
		}
	}

	// The server's own log is there too, and levels filter.
	l, err = b.c.Cluster.Logs(ctx, client.LogOptions{Component: "server"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range l.Logs {
		found = found || strings.Contains(e.Message, "worker registered")
	}
	if !found {
		t.Errorf("the server's 'worker registered' log record is not in the cluster log: %+v", l.Logs)
	}
	l, err = b.c.Cluster.Logs(ctx, client.LogOptions{Level: "error"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Logs {
		if e.Level != "error" {
			t.Errorf("level=error let through %+v", e)
		}
	}
	var apiErr api.Error
	if code := getData(t, b.srv.APIURL(), "/api/v1/logs?level=loud", &apiErr); code != 400 || apiErr.Code != "VALIDATION_ERROR" {
		t.Errorf("level=loud: %d %+v", code, apiErr)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	b := observeSetup(t)
	ctx := context.Background()
	cfg, err := b.c.Cluster.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.HeartbeatInterval != 0.1 || cfg.Server.MaxStreams != 10 || cfg.Logging.Level != "info" {
		t.Errorf("GET /config = %+v", cfg)
	}
	// Document 001's example, as written.
	code, env := sendJSON(t, "PUT", b.srv.APIURL()+"/api/v1/config", `{"cluster": {"heartbeat_interval": 30, "offline_threshold": 180}}`)
	if code != 200 || !bytes.Contains(env.Data, []byte(`"updated_fields":["cluster.heartbeat_interval","cluster.offline_threshold"]`)) ||
		!bytes.Contains(env.Data, []byte(`"restart_required":false`)) {
		t.Fatalf("PUT /config = %d %s", code, env.Data)
	}
	// The engine took it live: a worker registering now is told the new
	// interval, and a silent worker outlives the old threshold (1s) online.
	silent := registerRaw(t, b.srv.AgentURL(), "silent")
	if silent.HeartbeatInterval.Duration() != 30*time.Second || silent.LeaseTTL.Duration() <= 30*time.Second {
		t.Errorf("register after PUT: heartbeat %s, lease TTL %s; want 30s and longer", silent.HeartbeatInterval.Duration(), silent.LeaseTTL.Duration())
	}
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if d, err := b.c.Devices.Get(ctx, silent.WorkerID); err != nil || d.Status != "online" {
			t.Fatalf("a worker silent for %s under offline_threshold 180s: %+v, %v; want online", time.Since(end.Add(-1500*time.Millisecond)), d, err)
		}
	}
	cfg, err = b.c.Cluster.Config(ctx)
	if err != nil || cfg.Cluster.HeartbeatInterval != 30 {
		t.Errorf("GET after PUT = %+v, %v", cfg, err)
	}
	// The alias path, and a field needing a restart.
	code, env = sendJSON(t, "PUT", b.srv.APIURL()+"/api/v1/cluster/config", `{"server": {"max_connections": 500}, "logging": {"level": "warning"}}`)
	if code != 200 || !bytes.Contains(env.Data, []byte(`"restart_required":true`)) {
		t.Errorf("PUT /cluster/config = %d %s", code, env.Data)
	}

	bad := []struct{ name, body, field string }{
		{"wrong type", `{"cluster": {"heartbeat_interval": "fast"}}`, "cluster.heartbeat_interval"},
		{"out of range", `{"cluster": {"task_timeout": 0}}`, "cluster.task_timeout"},
		{"unknown field", `{"cluster": {"heartbeat": 3}}`, "cluster.heartbeat"},
		{"unknown section", `{"network": {"mtu": 1500}}`, "network.mtu"},
		{"read-only", `{"server": {"port": 9000}}`, "server.port"},
		{"bad level", `{"logging": {"level": "loud"}}`, "logging.level"},
		{"bad size", `{"logging": {"max_size": "lots"}}`, "logging.max_size"},
		{"threshold under interval", `{"cluster": {"offline_threshold": 10}}`, "cluster.offline_threshold"},
		{"section not an object", `{"cluster": 5}`, "cluster"},
	}
	for _, tc := range bad {
		code, env := sendJSON(t, "PUT", b.srv.APIURL()+"/api/v1/config", tc.body)
		if code != 400 || env.Error == nil || env.Error.Code != "VALIDATION_ERROR" || env.Error.Details["field"] != tc.field {
			t.Errorf("%s: PUT %s = %d %+v, want 400 VALIDATION_ERROR on %s", tc.name, tc.body, code, env.Error, tc.field)
		}
	}
	// A body with one bad field changes nothing, and lists every problem.
	code, env = sendJSON(t, "PUT", b.srv.APIURL()+"/api/v1/config", `{"cluster": {"heartbeat_interval": 20, "task_timeout": -1}, "logging": {"level": "x"}}`)
	if code != 400 || len(env.Error.Details["errors"].([]any)) != 2 {
		t.Errorf("two bad fields: %d %+v", code, env.Error)
	}
	if got := registerRaw(t, b.srv.AgentURL(), "after-refused").HeartbeatInterval.Duration(); got != 30*time.Second {
		t.Errorf("a refused PUT changed the heartbeat interval to %s", got)
	}
}

// registerRaw registers a worker by hand on the worker protocol, which
// answers with the engine's timing; the worker never heartbeats.
func registerRaw(t *testing.T, agentURL, name string) api.RegisterResponse {
	t.Helper()
	body, _ := json.Marshal(api.RegisterRequest{Name: name, Hostname: name, Queues: []string{"FifoQ"}, TaskTypes: []string{"echo"}, Concurrency: 1})
	resp, err := http.Post(agentURL+api.AgentRegisterPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env api.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	var out api.RegisterResponse
	if resp.StatusCode/100 != 2 || json.Unmarshal(env.Data, &out) != nil || out.WorkerID == "" {
		t.Fatalf("register %s: %d %s %+v", name, resp.StatusCode, env.Data, env.Error)
	}
	return out
}

func TestPing(t *testing.T) {
	t.Parallel()
	b := observeSetup(t)
	ctx := context.Background()
	res, err := b.c.Devices.Ping(ctx, b.worker.ID(), 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reachable || res.PacketLoss != 0 || len(res.Results) != 3 || res.AverageLatencyMS == nil {
		t.Fatalf("ping = %+v", res)
	}
	for i, p := range res.Results {
		if p.Seq != i+1 || p.TimeMS == nil || *p.TimeMS <= 0 || *p.TimeMS > 5000 {
			t.Errorf("probe %d = %+v", i, p)
		}
	}
	// Document 001's body as written.
	code, env := sendJSON(t, "POST", b.srv.APIURL()+"/api/v1/devices/"+b.worker.ID()+"/ping", `{"timeout": 5, "count": 3}`)
	if code != 200 || !bytes.Contains(env.Data, []byte(`"reachable":true`)) {
		t.Errorf("POST ping = %d %s", code, env.Data)
	}
	if code, env := sendJSON(t, "POST", b.srv.APIURL()+"/api/v1/devices/nope/ping", `{}`); code != 404 || env.Error.Code != "DEVICE_NOT_FOUND" {
		t.Errorf("ping unknown device = %d %+v", code, env.Error)
	}
	if code, env := sendJSON(t, "POST", b.srv.APIURL()+"/api/v1/devices/"+b.worker.ID()+"/ping", `{"count": 0}`); code != 400 || env.Error.Code != "VALIDATION_ERROR" {
		t.Errorf("ping count 0 = %d %+v", code, env.Error)
	}
}

func TestPingOfflineDevice(t *testing.T) {
	t.Parallel()
	srv := drovertest.NewServer(t, drovertest.Options{})
	w, err := worker.New(worker.Config{Server: srv.AgentURL(), Name: "leaver", DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	drovertest.Eventually(t, 10*time.Second, func() bool { return w.ID() != "" }, "worker to register")
	id := w.ID()
	cancel() // the worker drains and deregisters: offline
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client.Devices.Ping(context.Background(), id, 1, 2)
	if err != nil {
		t.Fatalf("ping an offline device: %v, want an answer", err)
	}
	if res.Reachable || res.PacketLoss != 100 || res.Status != "offline" || res.Results[0].TimeMS != nil {
		t.Errorf("ping offline = %+v", res)
	}
}

func TestPrometheusMetrics(t *testing.T) {
	t.Parallel()
	b := observeSetup(t)
	b.submitAndWait(t, 2)
	want := []string{
		`drover_queue_depth{queue="FifoQ"} 0`,
		`drover_queue_oldest_pending_age_seconds{queue="FifoQ"}`,
		`drover_tasks{queue="FifoQ",state="completed"} 2`,
		`drover_task_transitions_total{state="completed",type="echo"} 2`,
		`drover_dispatch_latency_seconds_count`,
		`drover_lease_expiries_total 0`,
		`drover_workers{state="online"} 1`,
		`drover_http_requests_total{code="201",method="POST",route="/api/v1/tasks"} 2`,
		`drover_store_operation_duration_seconds_bucket{op="TaskLease"`,
		`go_goroutines`,
	}
	// The test server counts a worker offline after one second of silence,
	// which a heavily loaded machine can stretch a heartbeat past; the store
	// gauges are also cached for a second. So the scrape is repeated until
	// it shows everything (the worker comes back with its next heartbeat).
	missing := want
	for deadline := time.Now().Add(15 * time.Second); len(missing) > 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(b.srv.APIURL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing = nil
		for _, w := range want {
			if !bytes.Contains(body, []byte(w)) {
				missing = append(missing, w)
			}
		}
	}
	for _, m := range missing {
		t.Errorf("/metrics lacks %s", m)
	}
}

// TestMonitorStreamResumesWithoutLossOrDuplicates drops a stream
// mid-flow and resumes it with Last-Event-ID: every event is delivered
// exactly once across the two connections.
func TestMonitorStreamResumesWithoutLossOrDuplicates(t *testing.T) {
	t.Parallel()
	b := observeSetup(t)
	ctx := context.Background()

	// First connection: take a few task events, then drop it.
	var (
		mu   sync.Mutex
		ids  = map[int64]int{}
		done = map[string]bool{}
		last int64
	)
	record := func(ev api.StreamEvent) {
		mu.Lock()
		defer mu.Unlock()
		ids[ev.ID]++
		last = ev.ID
		if ev.Type == "task_completed" {
			done[ev.TaskID] = true
		}
	}
	// A first task, and where its events start in the log.
	firstTask := b.submitAndWait(t, 1)[0]
	if err := b.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := b.c.Cluster.Logs(ctx, client.LogOptions{TaskID: firstTask, Ascending: true})
	if err != nil || len(l.Logs) == 0 {
		t.Fatalf("log of the first task: %+v, %v", l, err)
	}
	from := l.Logs[0].ID - 1

	errStop := errors.New("stop")
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		n := 0
		first <- b.c.Monitor.StreamWith(ctx, client.StreamOptions{Types: []string{"tasks"}, LastEventID: from}, func(ev api.StreamEvent) error {
			if ev.Type == "" {
				return nil
			}
			record(ev)
			if n++; n == 1 {
				close(started)
			}
			if n == 3 {
				return errStop // drop the connection mid-flow
			}
			return nil
		})
	}()
	<-started
	ids2 := b.submitAndWait(t, 10) // events the dropped client misses, at least partly
	if err := <-first; !errors.Is(err, errStop) {
		t.Fatalf("first stream ended with %v", err)
	}

	// Second connection resumes after the last id seen.
	mu.Lock()
	resume := last
	mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		second <- b.c.Monitor.StreamWith(sctx, client.StreamOptions{Types: []string{"tasks"}, LastEventID: resume}, func(ev api.StreamEvent) error {
			if !strings.HasPrefix(ev.Type, "task_") {
				t.Errorf("types=tasks let through %s", ev.Type)
			}
			record(ev)
			mu.Lock()
			all := true
			for _, id := range ids2 {
				all = all && done[id]
			}
			mu.Unlock()
			if all {
				cancel()
			}
			return nil
		})
	}()
	select {
	case <-sctx.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the resumed stream did not deliver every task_completed")
	}
	<-second
	mu.Lock()
	defer mu.Unlock()
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %d delivered %d times", id, n)
		}
	}
	// Every task event stored from the first one seen on is delivered.
	if err := b.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var stored []int64
	var cursor int64
	for {
		l, err := b.c.Cluster.Logs(ctx, client.LogOptions{Ascending: true, Cursor: cursor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Logs {
			if strings.HasPrefix(e.Type, "task_") && e.ID <= last {
				stored = append(stored, e.ID)
			}
		}
		if !l.HasMore {
			break
		}
		cursor = l.Cursor
	}
	var firstSeen int64 = 1 << 62
	for id := range ids {
		firstSeen = min(firstSeen, id)
	}
	for _, id := range stored {
		if id >= firstSeen && ids[id] != 1 {
			t.Errorf("stored event %d was not delivered", id)
		}
	}
}

func TestMonitorStreamFiltersAndLimits(t *testing.T) {
	t.Parallel()
	b := observeSetup(t)
	url := b.srv.APIURL() + "/api/v1/monitor/stream"
	if code, env := getEnvelope(t, url+"?types=weather"); code != 400 || env.Error.Code != "VALIDATION_ERROR" {
		t.Errorf("types=weather: %d %+v", code, env.Error)
	}

	// Devices only, from one device: heartbeats arrive as device_update.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := 0
	err := b.c.Monitor.StreamWith(ctx, client.StreamOptions{Types: []string{"devices"}, DeviceID: b.worker.ID()}, func(ev api.StreamEvent) error {
		if !strings.HasPrefix(ev.Type, "device_") || ev.DeviceID != b.worker.ID() || ev.Fields["cpu_usage"] == nil {
			t.Errorf("devices stream sent %+v", ev.Fields)
		}
		if ev.Type != "device_update" {
			return nil // device_online, from the registration
		}
		if got++; got == 3 {
			cancel()
		}
		return nil
	})
	if err != nil || got < 3 {
		t.Errorf("devices stream: %d events, %v", got, err)
	}

	// server.max_streams: the stream past the limit is refused with 429.
	if code, env := sendJSON(t, "PUT", b.srv.APIURL()+"/api/v1/config", `{"server": {"max_streams": 1}}`); code != 200 {
		t.Fatalf("PUT max_streams: %d %+v", code, env.Error)
	}
	req, _ := http.NewRequest("GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("first stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if code, env := getEnvelope(t, url); code != 429 || env.Error.Code != "RATE_LIMIT_EXCEEDED" {
		t.Errorf("second stream over max_streams=1: %d %+v", code, env.Error)
	}
}

func getEnvelope(t *testing.T, url string) (int, api.Envelope) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env api.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, env
}

// TestMonitorStreamEndsOnShutdown: an open stream ends cleanly (EOF, no
// error frame) when the server stops, and does not hold the shutdown.
func TestMonitorStreamEndsOnShutdown(t *testing.T) {
	t.Parallel()
	srv := drovertest.NewServer(t, drovertest.Options{})
	var (
		resp *http.Response
		err  error
	)
	drovertest.Eventually(t, 5*time.Second, func() bool {
		resp, err = http.Get(srv.APIURL() + "/api/v1/monitor/stream")
		return err == nil
	}, "the stream to open")
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "retry: 2000\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	start := time.Now()
	stopped := make(chan struct{})
	go func() { srv.Stop(); close(stopped) }() // Stop fails the test if Run returns an error
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("stream ended with %v, want a clean EOF", err)
	}
	<-stopped
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown with an open stream took %s", took)
	}
}

// TestShellSubmissionIsAudited: every shell task leaves a record of who
// submitted it and what it runs in the cluster log.
func TestShellSubmissionIsAudited(t *testing.T) {
	t.Parallel()
	srv := drovertest.NewServer(t, drovertest.Options{})
	ctx := context.Background()
	res, err := srv.Client.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "shell", Payload: json.RawMessage(`{"command":"echo audited"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: json.RawMessage(`{"message":"not audited"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	logs, err := srv.Client.Cluster.Logs(ctx, client.LogOptions{Component: "audit", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs.Logs) != 1 || logs.Logs[0].TaskID != res.TaskID || !strings.Contains(string(logs.Logs[0].Details), "echo audited") {
		t.Fatalf("audit log = %+v, want one record of task %s and its command", logs.Logs, res.TaskID)
	}
}
