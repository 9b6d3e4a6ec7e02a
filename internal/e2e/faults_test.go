package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// TestCancelKillsRunningProcesses (docs/guarantees.md, G8): cancelling a running
// shell task kills its whole process group, grandchildren included, and
// the task stays cancelled.
func TestCancelKillsRunningProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	cl.startWorker(t, "sheller", 4, "--allow-shell")

	// A sleep of a length no other test uses marks this test's processes.
	marker := fmt.Sprintf("sleep %d", 40000+rand.IntN(20000))
	t.Cleanup(func() { exec.Command("pkill", "-f", "^"+marker+"$").Run() })
	var ids []string
	for range 3 {
		r, err := cl.c.Tasks.Submit(ctx, api.SubmitTaskRequest{
			TaskType: "shell", Payload: json.RawMessage(`{"command":"` + marker + ` & ` + marker + ` & wait"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.TaskID)
	}
	eventually(t, 20*time.Second, "the shell tasks to run their processes", func() bool {
		return len(processes(marker)) == 6
	})
	cancelled := time.Now()
	for _, id := range ids {
		r, err := cl.c.Tasks.Cancel(ctx, id)
		if err != nil || !r.WasRunning {
			t.Fatalf("cancel %s = %+v, %v; want was_running", id, r, err)
		}
	}
	// One heartbeat plus the kill grace is the bound; the control channel
	// usually does it at once.
	eventually(t, heartbeat+6*time.Second, "the cancelled tasks' processes to die", func() bool {
		return len(processes(marker)) == 0
	})
	t.Logf("processes gone %s after the cancel", time.Since(cancelled).Round(time.Millisecond))
	for _, id := range ids {
		task, err := cl.c.Tasks.Get(ctx, id)
		if err != nil || task.Status != "cancelled" {
			t.Errorf("task %s is %v (%v), want cancelled", id, task.Status, err)
		}
	}
}

// processes lists the pids of processes whose command line is exactly
// command (not the shells that started them).
func processes(command string) []string {
	out, _ := exec.Command("pgrep", "-f", "^"+command+"$").Output()
	return strings.Fields(string(out))
}

// TestServerRestartKeepsLeases (docs/guarantees.md, G7): a server killed and
// restarted within the lease TTL re-dispatches nothing: workers keep
// running their tasks and renew their leases with the new process.
func TestServerRestartKeepsLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t, "--lease-ttl", "6s")
	cl.startWorker(t, "steady", 10)

	const n = 10
	reqs := make([]api.SubmitTaskRequest, n)
	for i := range reqs {
		reqs[i] = sleepTask(3)
	}
	if _, err := cl.c.Tasks.SubmitBatch(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "every task to run", func() bool {
		l, err := cl.c.Tasks.List(ctx, client.TaskListOptions{Status: "running", Limit: 1})
		return err == nil && l.Running == n
	})
	cl.server.kill()
	down := time.Now()
	cl.startServer(t, portOf(t, cl.api), portOf(t, cl.agent))
	t.Logf("server down for %s", time.Since(down).Round(time.Millisecond))

	eventually(t, 30*time.Second, "every task to complete", func() bool {
		l, err := cl.c.Tasks.List(ctx, client.TaskListOptions{Limit: 1})
		return err == nil && l.Completed == n
	})
	for _, tk := range allTasks(t, cl.c) {
		if tk.Attempt != 1 {
			t.Errorf("task %s ran %d times; the restart re-dispatched it", tk.TaskID, tk.Attempt)
		}
	}
}

// TestZombieWorkerIsFenced (docs/guarantees.md, G5): a worker frozen past its lease
// TTL loses its tasks to another worker; when it thaws, nothing it reports
// is accepted and every task completes exactly once, on the survivor.
func TestZombieWorkerIsFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	zombie := cl.startWorker(t, "zombie", 5)

	const n = 5
	reqs := make([]api.SubmitTaskRequest, n)
	for i := range reqs {
		reqs[i] = sleepTask(2)
		reqs[i].MaxRetries = ptr(0)
	}
	if _, err := cl.c.Tasks.SubmitBatch(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the zombie to run every task", func() bool {
		l, err := cl.c.Tasks.List(ctx, client.TaskListOptions{Status: "running", DeviceID: "zombie", Limit: 10})
		return err == nil && len(l.Tasks) == n
	})
	cl.startWorker(t, "survivor", 5)
	if err := syscall.Kill(zombie.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Fencing is the point here, not how fast the take-over is (wake_test
	// and the chaos harness time that): a generous bound keeps a machine
	// busy with the whole race-detector suite from failing it.
	eventually(t, 60*time.Second, "the survivor to take every task over", func() bool {
		l, err := cl.c.Tasks.List(ctx, client.TaskListOptions{DeviceID: "survivor", Limit: 10})
		return err == nil && len(l.Tasks) == n
	})
	// Thaw the zombie while the survivor still runs the tasks: its results
	// for the old leases arrive now, and must all be refused.
	if err := syscall.Kill(zombie.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "every task to complete", func() bool {
		l, err := cl.c.Tasks.List(ctx, client.TaskListOptions{Limit: 1})
		return err == nil && l.Completed == n
	})
	for _, tk := range allTasks(t, cl.c) {
		if tk.DeviceID == nil || *tk.DeviceID != "survivor" || tk.Attempt != 2 {
			t.Errorf("task %s completed on %s at attempt %d, want the survivor's attempt 2", tk.TaskID, deref(tk.DeviceID), tk.Attempt)
		}
	}
	z, err := cl.c.Devices.Get(ctx, "zombie")
	if err != nil {
		t.Fatal(err)
	}
	if z.Tasks.Completed != 0 {
		t.Errorf("the zombie had %d results accepted after losing its leases, want 0", z.Tasks.Completed)
	}
}

// TestKilledWorkerTakesItsProcessesAlong (docs/guarantees.md, G8): when a worker
// is killed with SIGKILL, its tasks' processes do not outlive it —
// grandchildren included — so a rerun elsewhere never races an orphan.
func TestKilledWorkerTakesItsProcessesAlong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	w := cl.startWorker(t, "doomed", 4, "--allow-shell")

	marker := fmt.Sprintf("sleep %d", 60000+rand.IntN(20000))
	t.Cleanup(func() { exec.Command("pkill", "-f", "^"+marker+"$").Run() })
	for range 2 {
		_, err := cl.c.Tasks.Submit(ctx, api.SubmitTaskRequest{
			TaskType: "shell", Payload: json.RawMessage(`{"command":"` + marker + ` & ` + marker + ` & wait"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "the shell tasks to run their processes", func() bool {
		return len(processes(marker)) == 4
	})
	w.kill()
	killed := time.Now()
	eventually(t, 3*time.Second, "the killed worker's task processes to die", func() bool {
		return len(processes(marker)) == 0
	})
	t.Logf("orphans gone %s after the kill", time.Since(killed).Round(time.Millisecond))
}
