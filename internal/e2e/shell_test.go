package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// TestShellGating is S5 (docs/guarantees.md) with real processes: a shell
// task needs the exec:shell scope (403 without), is refused at submit when
// no worker that may run it serves its queue or pin (nothing stored,
// nothing spawned), runs on an --allow-shell worker with no worker token or
// credential in its environment, as an unprivileged user when the worker is
// root (--shell-user), with its output capped and its whole process group
// killed at its timeout; and each accepted shell submission leaves exactly
// one audit record.
func TestShellGating(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const admin = "shell-gating-admin-key-0123456789abcdef"
	cl := newCluster(t, "--auth", "--api-key", admin)
	c, err := client.New(cl.api, client.WithAPIKey(admin))
	if err != nil {
		t.Fatal(err)
	}
	cl.c = c
	key := func(scopes ...string) *client.Client {
		k, err := c.Keys.Create(ctx, api.CreateKeyRequest{Name: strings.Join(scopes, "+"), Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		kc, err := client.New(cl.api, client.WithAPIKey(k.Token))
		if err != nil {
			t.Fatal(err)
		}
		return kc
	}
	writer, sheller := key("write"), key("write", "exec:shell")
	agent, err := c.Keys.Create(ctx, api.CreateKeyRequest{Name: "workers", Scopes: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}

	// The token goes in the environment, where a task must not find it.
	env := []string{"DROVER_TOKEN=" + agent.Token}
	state := filepath.Join(t.TempDir(), "worker.json")
	shellArgs := []string{"--allow-shell", "--queues", "shellq", "--state-file", state}
	wantUID := ""
	if os.Geteuid() == 0 {
		// A root worker drops to nobody by default; --shell-user names
		// another unprivileged user.
		runAs := "nobody"
		if u, err := user.Lookup("daemon"); err == nil {
			runAs = "daemon"
			shellArgs = append(shellArgs, "--shell-user", "daemon")
			wantUID = u.Uid
		} else if u, err := user.Lookup("nobody"); err == nil {
			wantUID = u.Uid
		}
		t.Logf("worker is root: shell tasks should run as %s (uid %s)", runAs, wantUID)
	}
	cl.startWorkerEnv(t, env, "sh-yes", 4, shellArgs...)
	cl.startWorkerEnv(t, env, "sh-no", 4, "--queues", "plainq")

	marker := fmt.Sprintf("sleep %d", 60000+rand.IntN(20000))
	t.Cleanup(func() { exec.Command("pkill", "-f", "^"+marker+"$").Run() })
	shell := func(queue, device, command string, timeout int) api.SubmitTaskRequest {
		payload, _ := json.Marshal(map[string]string{"command": command})
		r := api.SubmitTaskRequest{TaskType: "shell", Queue: queue, DeviceID: device, Payload: payload}
		if timeout > 0 {
			r.Timeout = &timeout
		}
		return r
	}
	refused := func(who *client.Client, req api.SubmitTaskRequest, status int, code string) {
		t.Helper()
		_, err := who.Tasks.Submit(ctx, req)
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != status || e.API.Code != code {
			t.Errorf("submit shell to %q%s: %v, want %d %s", req.Queue, req.DeviceID, err, status, code)
		}
	}

	// Refusals: no scope; no worker allowed to run shell on the queue or pin.
	refused(writer, shell("shellq", "", marker, 0), 403, "PERMISSION_DENIED")
	refused(sheller, shell("plainq", "", marker, 0), 400, "INSUFFICIENT_RESOURCES")
	refused(sheller, shell("", "sh-no", marker, 0), 400, "INSUFFICIENT_RESOURCES")

	// Accepted: the environment, a huge output, a timeout.
	run := func(req api.SubmitTaskRequest, idem string) string {
		t.Helper()
		req.IdempotencyKey = idem
		r, err := sheller.Tasks.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r.TaskID
	}
	envTask := run(shell("shellq", "", "id -u; env", 0), "env-task")
	if again := run(shell("shellq", "", "id -u; env", 0), "env-task"); again != envTask {
		t.Fatalf("an idempotent replay made task %s, want %s", again, envTask)
	}
	bigTask := run(shell("shellq", "", "head -c 3000000 /dev/zero | tr '\\0' x", 0), "")
	slowTask := run(shell("shellq", "", marker+" & echo $!; wait", 1), "")

	done := func(id string) *api.Task {
		var task *api.Task
		eventually(t, 30*time.Second, "task "+id+" to end", func() bool {
			task, err = c.Tasks.Get(ctx, id)
			return err == nil && (task.Status == "completed" || task.Status == "failed")
		})
		return task
	}

	got := done(envTask)
	if got.Status != "completed" || got.Result == nil {
		t.Fatalf("env task: %s %+v", got.Status, got.Result)
	}
	b, _ := os.ReadFile(state)
	var saved struct {
		Credential string `json:"credential"`
	}
	if json.Unmarshal(b, &saved) != nil || saved.Credential == "" {
		t.Fatalf("worker state file %s holds no credential: %s", state, b)
	}
	uid, environ, _ := strings.Cut(got.Result.Output, "\n")
	for name, secret := range map[string]string{"agent token": agent.Token, "worker credential": saved.Credential} {
		if strings.Contains(environ, secret) {
			t.Errorf("the shell task's environment holds the %s", name)
		}
	}
	// The worker's own DROVER_* settings are removed; the task's own
	// identity is added.
	ours := []string{"DROVER_TASK_ID", "DROVER_TASK_TYPE", "DROVER_TASK_ATTEMPT", "DROVER_IDEMPOTENCY_KEY"}
	for _, line := range strings.Split(environ, "\n") {
		if name, _, _ := strings.Cut(line, "="); strings.HasPrefix(name, "DROVER_") && !slices.Contains(ours, name) {
			t.Errorf("the shell task's environment holds %s", name)
		}
	}
	if wantUID != "" && uid != wantUID {
		t.Errorf("shell task of a root worker ran as uid %s, want %s", uid, wantUID)
	}

	got = done(bigTask)
	// The worker keeps the last 1 MiB; a result that does not fit the
	// server's body cap is cut to its last 64 KiB. Either way, the tail.
	if out := got.Result.Output; len(out) > 1<<20+256 || len(out) < 64<<10 || !strings.HasSuffix(out, "xxxx") || !strings.Contains(out, "truncated") {
		t.Errorf("3 MB of output came back as %d bytes (%.80q…), want at most 1 MiB, its tail, with a truncation note", len(out), out)
	}

	got = done(slowTask)
	if got.Status != "failed" {
		t.Errorf("a task over its 1 s timeout is %s, want failed", got.Status)
	}
	eventually(t, 15*time.Second, "the timed-out task's process group to die", func() bool {
		return len(processes(marker)) == 0
	})

	// One audit record per accepted shell submission: three tasks (the
	// replay made none); the refused ones made none either.
	eventually(t, 10*time.Second, "the audit records", func() bool {
		l, err := c.Cluster.Logs(ctx, client.LogOptions{Component: "audit", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, e := range l.Logs {
			if strings.Contains(e.Message, "shell task submitted") {
				per[e.TaskID]++
			}
		}
		if len(per) > 3 {
			t.Fatalf("audit records for %d shell tasks, want 3: %v", len(per), per)
		}
		for _, id := range []string{envTask, bigTask, slowTask} {
			if per[id] > 1 {
				t.Fatalf("task %s has %d audit records, want 1", id, per[id])
			}
			if per[id] != 1 {
				return false
			}
		}
		return true
	})
	// Nothing refused was stored.
	for _, task := range allTasks(t, c) {
		if task.TaskID != envTask && task.TaskID != bigTask && task.TaskID != slowTask {
			t.Errorf("task %s (%s on %q) was stored", task.TaskID, task.TaskType, task.Queue)
		}
	}
}
