package client_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

func TestClusterStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "phone", Role: "mobile"})
	b.srv.StartWorker(t, worker.Config{Name: "box"})
	b.wait(t, b.submit(t, echo("hi", 1)))
	b.submit(t, later("queued"))

	got, err := b.c.Cluster.Status(t.Context())

	if err != nil {
		t.Fatal(err)
	}
	if got.TotalDevices != 2 || got.OnlineDevices != 2 || got.OfflineDevices != 0 || got.HealthPercentage != 100 ||
		got.ByRole["mobile"] != 1 || got.ByRole["compute"] != 1 || got.TotalResources.CPUCores <= 0 || got.Uptime == "" ||
		got.Tasks["completed"] != 1 || got.Tasks["pending"] != 1 {
		t.Errorf("Status = %+v", got)
	}
}

func TestClusterHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{})
	got, err := b.c.Cluster.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	db, ok := got.Checks["database"]
	if got.OverallHealth == "" || !ok || db.Status != "healthy" || db.ResponseTimeMS == nil {
		t.Errorf("Health = %+v, want a healthy database check with its response time", got)
	}
}

func TestClusterMetricsAndStats(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1", AllowShell: true})
	b.wait(t, b.submit(t, echo("ok", 1)))
	b.wait(t, b.submit(t, failing()))
	ctx := t.Context()
	if err := b.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	m, err := b.c.Cluster.Metrics(ctx, "24h", "tasks")
	if err != nil {
		t.Fatal(err)
	}
	if q := b.rec.last(t).Query; q != "period=24h&type=tasks" {
		t.Errorf("Metrics query %q", q)
	}
	if m.Period != "24h" || m.Metrics.Tasks == nil || m.Metrics.Tasks.Completed != 1 || m.Metrics.Tasks.Failed != 1 || m.Metrics.CPU != nil {
		t.Errorf("Metrics(24h, tasks) = %+v", m)
	}
	if m, err := b.c.Cluster.Metrics(ctx, "", ""); err != nil || m.Period != "1h" || m.Metrics.CPU == nil || m.Metrics.Network == nil {
		t.Errorf("Metrics() = %+v, %v; want every section over 1h", m, err)
	}
	if _, err := b.c.Cluster.Metrics(ctx, "2h", ""); !isCode(err, "VALIDATION_ERROR") {
		t.Errorf("Metrics(2h) = %v, want VALIDATION_ERROR", err)
	}

	ts, err := b.c.Cluster.TaskStats(ctx, "24h", "task_type")
	if err != nil {
		t.Fatal(err)
	}
	if ts.TotalTasks != 2 || ts.ByStatus.Completed != 1 || ts.ByStatus.Failed != 1 || ts.ByTaskType["echo"].Completed != 1 || ts.ByTaskType["shell"].Failed != 1 ||
		ts.ByDevice["w1"].Failed != 1 || ts.SuccessRate != 50 {
		t.Errorf("TaskStats(24h, task_type) = %+v", ts)
	}

	ds, err := b.c.Cluster.DeviceStats(ctx, "24h")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Period != "24h" || ds.Utilization["w1"].TasksCompleted != 1 || len(ds.PerformanceRanking) != 1 || ds.ScoreFormula == "" {
		t.Errorf("DeviceStats(24h) = %+v", ds)
	}
}

func TestClusterLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1", AllowShell: true})
	id := b.submit(t, failing())
	b.wait(t, id)
	ctx := t.Context()
	if err := b.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	got, err := b.c.Cluster.Logs(ctx, client.LogOptions{TaskID: id, Since: "1h", Limit: 50, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	if q := b.rec.last(t).Query; q != "limit=50&order=asc&since=1h&task_id="+id {
		t.Errorf("Logs query %q", q)
	}
	var types []string
	for _, e := range got.Logs {
		if e.TaskID != id {
			t.Errorf("Logs(task %s) has an entry of task %q", id, e.TaskID)
		}
		types = append(types, e.Type)
	}
	if !slices.Contains(types, "task_failed") || !slices.IsSortedFunc(got.Logs, func(a, b api.LogEntry) int { return int(a.ID - b.ID) }) {
		t.Errorf("Logs(task, asc) types %q, want task_failed among them, oldest first", types)
	}
	if len(got.Logs) > 1 {
		page, err := b.c.Cluster.Logs(ctx, client.LogOptions{TaskID: id, Limit: 1, Cursor: got.Logs[0].ID, Ascending: true})
		if err != nil || len(page.Logs) != 1 || page.Logs[0].ID != got.Logs[1].ID {
			t.Errorf("Logs after cursor %d = %+v, %v; want entry %d", got.Logs[0].ID, page, err, got.Logs[1].ID)
		}
	}
	errs, err := b.c.Cluster.Logs(ctx, client.LogOptions{Level: "error", DeviceID: "w1", Component: "dispatch"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs.Logs {
		if e.Level != "error" || e.Component != "dispatch" {
			t.Errorf("Logs(level error, component dispatch) has %+v", e)
		}
	}
}

func TestClusterConfig(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	ctx := t.Context()
	cfg, err := b.c.Cluster.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.HeartbeatInterval != 0.1 || cfg.Logging.Level == "" {
		t.Errorf("Config = %+v, want the test server's 100 ms heartbeat", cfg)
	}

	res, err := b.c.Cluster.UpdateConfig(ctx, map[string]any{"cluster": map[string]any{"heartbeat_interval": 2, "offline_threshold": 30}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.UpdatedFields, []string{"cluster.heartbeat_interval", "cluster.offline_threshold"}) || res.RestartRequired {
		t.Errorf("UpdateConfig = %+v", res)
	}
	if cfg, err := b.c.Cluster.Config(ctx); err != nil || cfg.Cluster.HeartbeatInterval != 2 || cfg.Cluster.OfflineThreshold != 30 {
		t.Errorf("Config after UpdateConfig = %+v, %v", cfg, err)
	}
	_, err = b.c.Cluster.UpdateConfig(ctx, map[string]any{"cluster": map[string]any{"heartbeat": 3}})
	if ae, ok := errors.AsType[*api.Error](err); !ok || ae.Code != "VALIDATION_ERROR" || ae.Details["field"] != "cluster.heartbeat" {
		t.Errorf("UpdateConfig(unknown field) = %v, want VALIDATION_ERROR on cluster.heartbeat", err)
	}
}

// isCode reports whether err carries the API error code.
func isCode(err error, code string) bool {
	ae, ok := errors.AsType[*api.Error](err)
	return ok && ae.Code == code
}
