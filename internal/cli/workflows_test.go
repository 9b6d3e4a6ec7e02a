package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// relaxed timing keeps a loaded CI machine (-race, shared cores) from
// expiring leases of tasks that are in fact running.
var relaxed = drovertest.Options{HeartbeatInterval: time.Second, LeaseTTL: 10 * time.Second}

// TestWorkflowsAndRuns drives a newcomer's path through the CLI against a
// real server and worker: create the example DAG from YAML, run it, see it
// fail at a step with its exit code and log, repair it from the CLI.
func TestWorkflowsAndRuns(t *testing.T) {
	t.Parallel()
	srv := drovertest.NewServer(t, relaxed)
	srv.StartWorker(t, worker.Config{Name: "cli-w", Concurrency: 4, AllowShell: true})
	dir := t.TempDir()
	cli := func(args ...string) (string, int) {
		t.Helper()
		var out, errOut bytes.Buffer
		m := newMeta(&out, &errOut, func(k string) string {
			return map[string]string{envConfigDir: dir, envAPIURL: srv.APIURL()}[k]
		})
		code := m.run(context.Background(), args)
		return out.String() + errOut.String(), code
	}
	ctx := context.Background()
	if _, err := srv.Client.Workflows.SetVariable(ctx, "FAIL", "yes"); err != nil {
		t.Fatal(err)
	}
	example, err := filepath.Abs("../../docs/examples/etl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, code := cli("workflows", "create", "-f", example)
	if code != 0 || !strings.Contains(out, "clean, enrich, count") {
		t.Fatalf("workflows create = %d:\n%s", code, out)
	}
	if out, code = cli("workflows", "list"); code != 0 || !strings.Contains(out, "etl") {
		t.Fatalf("workflows list = %d:\n%s", code, out)
	}
	out, code = cli("workflows", "run", "1", "--wait")
	if code == 0 || !strings.Contains(out, "Step report (action 5) failed with exit code 1") || !strings.Contains(out, "report ready") {
		t.Fatalf("workflows run --wait of a failing run = %d:\n%s", code, out)
	}
	if out, code = cli("runs", "logs", "1"); code != 0 || !strings.Contains(out, "[count] counted") {
		t.Fatalf("runs logs = %d:\n%s", code, out)
	}
	if _, err := srv.Client.Workflows.SetVariable(ctx, "FAIL", "no"); err != nil {
		t.Fatal(err)
	}
	if out, code = cli("runs", "restart", "1", "--mode", "failed"); code != 0 {
		t.Fatalf("runs restart = %d:\n%s", code, out)
	}
	if _, err := srv.Client.Runs.Wait(ctx, 1, 0); err != nil {
		t.Fatal(err)
	}
	if out, code = cli("runs", "get", "1"); code != 0 || !strings.Contains(out, "Status:    completed") {
		t.Fatalf("runs get after the repair = %d:\n%s", code, out)
	}
	if out, code = cli("runs", "logs", "1", "-f", "--level", "all"); code != 0 || strings.Count(out, "[count] counted") != 3 {
		t.Fatalf("runs logs -f of an ended run = %d:\n%s", code, out)
	}
	if out, code = cli("runs", "list", "--workflow", "1"); code != 0 || !strings.Contains(out, "completed") {
		t.Fatalf("runs list = %d:\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: bad\nsteps:\n  - {name: a, task_type: echo, depends_on: [b]}\n  - {name: b, task_type: echo, depends_on: [a]}\n"), 0o600)
	if out, code = cli("workflows", "create", "-f", bad); code == 0 || !strings.Contains(out, "cycle") {
		t.Fatalf("a cycle = %d:\n%s", code, out)
	}
	if out, code = cli("workflows", "delete", "1"); code != 0 || !strings.Contains(out, "Deleted workflow 1") {
		t.Fatalf("workflows delete = %d:\n%s", code, out)
	}
}
