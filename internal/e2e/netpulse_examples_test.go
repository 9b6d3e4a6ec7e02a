package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// TestNetPulseDocumentExamples runs document 003's Python examples and its
// bash monitoring script, as written, against `drover dev`. Only the host
// and port (localhost:9000 → the dev cluster's NetPulse port, since tests
// run side by side), the placeholder job ids and the bash script's log file
// (/var/log is not the test's to write) are replaced.
func TestNetPulseDocumentExamples(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"python3", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	if err := exec.Command("python3", "-c", "import requests").Run(); err != nil {
		t.Skip("python3 has no requests module")
	}
	apiPort, npPort := freePort(t), freePort(t)
	start(t, "dev", "dev", "--data", t.TempDir(), "--port", strconv.Itoa(apiPort), "--agent-port", strconv.Itoa(freePort(t)),
		"--keeper-port", "0", "--netpulse-port", strconv.Itoa(npPort))
	npBase := fmt.Sprintf("http://127.0.0.1:%d", npPort)
	c, err := client.New(fmt.Sprintf("http://127.0.0.1:%d", apiPort))
	if err != nil {
		t.Fatal(err)
	}
	// drover dev's two local workers (and its pool's, when it has one).
	eventually(t, 30*time.Second, "drover dev's workers", func() bool {
		resp, err := http.Get(npBase + "/worker")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var env struct{ Data []npWorker }
		return json.NewDecoder(resp.Body).Decode(&env) == nil && len(env.Data) >= 2
	})
	ctx := context.Background()
	submit := func(typ, payload string) string {
		r, err := c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: typ, Payload: json.RawMessage(payload)})
		if err != nil {
			t.Fatal(err)
		}
		return r.TaskID
	}
	ok := submit("echo", `{"message":"Cisco IOS Software, Version 15.2"}`)
	failed := submit("shell", `{"command":"echo boom >&2; exit 3"}`)
	other := submit("echo", `{"message":"third"}`)
	for _, id := range []string{ok, failed, other} {
		eventually(t, 20*time.Second, id+" to end", func() bool {
			st := npJobByID(t, npBase, id).Status
			return st == "finished" || st == "failed"
		})
	}

	script, err := os.ReadFile(filepath.Join("testdata", "netpulse_examples.py"))
	if err != nil {
		t.Fatal(err)
	}
	py := strings.NewReplacer("localhost:9000", fmt.Sprintf("127.0.0.1:%d", npPort),
		"job_123456", ok, "job_123457", failed, "job_123458", other).Replace(string(script))
	cmd := exec.Command("python3", "-")
	cmd.Stdin = strings.NewReader(py)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("the document's Python examples failed: %v\n%s", err, text)
	}
	for _, want := range []string{
		"任务完成: Cisco IOS Software, Version 15.2", // status polling
		"任务ID: " + ok,              // batch query of finished jobs
		"状态: idle",                 // worker monitoring
		"任务结果: Cisco IOS Software", // wait_for_job_completion
		"任务 " + failed + " 失败: ",   // monitor_batch_jobs sees the failure
		"忙碌Worker: 0",              // monitor_workers (it runs after terminate_worker: one or two idle)
		`"status": "ok"`,           // check_system_health
		"TERMINATED",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Python examples' output lacks %q:\n%s", want, text)
		}
	}
	t.Logf("Python examples:\n%s", text)

	// terminate_worker stopped the first worker: it drains and is dead.
	eventually(t, 20*time.Second, "the terminated worker to be dead", func() bool {
		dead := 0
		for _, w := range npWorkers(t, npBase, "") {
			if w.Status == "dead" {
				dead++
			}
		}
		return dead >= 1
	})

	sh, err := os.ReadFile(filepath.Join("testdata", "netpulse_monitor.sh"))
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "netpulse-workers.log")
	bash := strings.NewReplacer("localhost:9000", fmt.Sprintf("127.0.0.1:%d", npPort),
		"/var/log/netpulse-workers.log", logFile).Replace(string(sh))
	if out, err := exec.Command("bash", "-c", bash).CombinedOutput(); err != nil {
		t.Fatalf("the document's monitoring script failed: %v\n%s", err, out)
	}
	logged, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	// The counts are the cluster's (drover dev's pool may add a worker): the
	// line must hold them, and the alerts must follow from them.
	m := regexp.MustCompile(`总Worker: (\d+), 忙碌: (\d+), 已停止: (\d+)`).FindStringSubmatch(string(logged))
	if m == nil {
		t.Fatalf("the monitoring script's log lacks its summary line:\n%s", logged)
	}
	total, _ := strconv.Atoi(m[1])
	busy, _ := strconv.Atoi(m[2])
	dead, _ := strconv.Atoi(m[3])
	if total < 2 || busy != 0 || dead < 1 {
		t.Errorf("the monitoring script counted %d workers, %d busy, %d dead; want at least 2, none busy, the terminated one dead", total, busy, dead)
	}
	for _, want := range []string{fmt.Sprintf("警告: 发现已停止Worker (%d)", dead), "警告: 忙碌Worker过少 (0)"} {
		if !strings.Contains(string(logged), want) {
			t.Errorf("the monitoring script's log lacks %q:\n%s", want, logged)
		}
	}
}
