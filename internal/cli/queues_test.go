package cli

import (
	"strings"
	"testing"

	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

func TestQueuesPauseListResume(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{Name: "w1", Concurrency: 1, PinHost: "10.0.0.5"})
	env := testEnv(t, srv)

	if out := mustRun(t, env, "queues", "pause", "pinned_10.0.0.5"); out != "Queue pinned_10.0.0.5 paused (0 pending).\n" {
		t.Errorf("queues pause = %q", out)
	}
	req := echoReq("held", 1)
	req.Host = "10.0.0.5"
	id := submit(t, srv, req)

	out := mustRun(t, env, "queues", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "QUEUE STATE PENDING RUNNING COMPLETED FAILED CANCELLED OLDEST PENDING WORKERS" {
		t.Fatalf("queues list =\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[0] != "FifoQ" || f[1] != "running" || f[len(f)-1] != "0/0" {
		t.Errorf("FifoQ row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != "pinned_10.0.0.5" || f[1] != "paused" || f[2] != "1" || f[len(f)-1] != "1/1" {
		t.Errorf("pinned row %q, want paused with 1 pending and its worker", lines[2])
	}

	if out := mustRun(t, env, "queues", "resume", "pinned_10.0.0.5"); !strings.HasPrefix(out, "Queue pinned_10.0.0.5 resumed") {
		t.Errorf("queues resume = %q", out)
	}
	if task := waitFor(t, srv, id); task.Status != "completed" {
		t.Errorf("task after resume: %s", task.Status)
	}
}

func TestDevicesSuspendResume(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{Name: "w1", Concurrency: 1})
	env := testEnv(t, srv)
	if out := mustRun(t, env, "devices", "suspend", "w1"); out != "Device w1 is suspended.\n" {
		t.Errorf("devices suspend = %q", out)
	}
	if out := mustRun(t, env, "devices", "resume", "w1"); out != "Device w1 is idle.\n" {
		t.Errorf("devices resume = %q", out)
	}
	if r := drover(t, env, "devices", "suspend", "nobody"); r.code == 0 || !strings.Contains(r.stderr, "DEVICE_NOT_FOUND") {
		t.Errorf("devices suspend nobody: code %d, stderr %q; want DEVICE_NOT_FOUND", r.code, r.stderr)
	}
}
