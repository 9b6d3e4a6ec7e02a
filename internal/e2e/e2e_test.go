// Package e2e tests Drover as it runs for real: the drover binary, built
// once, as separate server and worker processes talking HTTP, killed with
// SIGKILL where the test says so.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

var droverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drover-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	droverBin = filepath.Join(dir, "drover")
	build := exec.Command("go", "build", "-o", droverBin, "github.com/drover-run/drover/cmd/drover")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building drover:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a drover process started by a test.
type proc struct {
	cmd *exec.Cmd
	log string
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startEnv(t, name, nil, args...)
}

// startEnv is start with env added to the test's environment.
func startEnv(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(droverBin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("--- %s log (tail):\n%s", name, b)
		}
		f.Close()
	})
	return p
}

// kill sends SIGKILL to the process and everything it started.
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Wait()
}

// cluster is a server process and its address.
type cluster struct {
	api, agent string
	db         string
	c          *client.Client
	server     *proc
	serverArgs []string // extra flags, overriding the test timing
}

// Test timing: heartbeat 200 ms, lease 1.2 s, the reaper sweeps every second.
const (
	heartbeat = 200 * time.Millisecond
	leaseTTL  = 1200 * time.Millisecond
	sweep     = time.Second
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newCluster(t *testing.T, serverArgs ...string) *cluster {
	t.Helper()
	cl := &cluster{db: filepath.Join(t.TempDir(), "drover.db"), serverArgs: serverArgs}
	cl.startServer(t, freePort(t), freePort(t))
	return cl
}

func (cl *cluster) startServer(t *testing.T, apiPort, agentPort int) {
	t.Helper()
	cl.api = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	cl.agent = fmt.Sprintf("http://127.0.0.1:%d", agentPort)
	args := append([]string{}, "server", "--store", "sqlite://"+cl.db,
		"--port", strconv.Itoa(apiPort), "--agent-port", strconv.Itoa(agentPort),
		"--heartbeat-interval", heartbeat.String(), "--lease-ttl", leaseTTL.String(),
		"--offline-threshold", (5 * heartbeat).String(), "--log-level", "warn",
		"--keeper-port", "0", "--netpulse-port", "0") // parallel servers: dialect ports only where a test asks
	args = append(args, cl.serverArgs...)
	cl.server = start(t, "server", args...)
	c, err := client.New(cl.api)
	if err != nil {
		t.Fatal(err)
	}
	cl.c = c
	eventually(t, 20*time.Second, "server to answer", func() bool {
		_, err := c.Health(context.Background())
		return err == nil
	})
}

func (cl *cluster) startWorker(t *testing.T, name string, concurrency int, extra ...string) *proc {
	t.Helper()
	return cl.startWorkerEnv(t, nil, name, concurrency, extra...)
}

// startWorkerEnv is startWorker with env added to the worker's environment.
func (cl *cluster) startWorkerEnv(t *testing.T, env []string, name string, concurrency int, extra ...string) *proc {
	t.Helper()
	p := startEnv(t, name, env, append([]string{"worker", "--server", cl.agent, "--name", name,
		"--concurrency", strconv.Itoa(concurrency), "--log-level", "warn"}, extra...)...)
	eventually(t, 20*time.Second, name+" to register", func() bool {
		d, err := cl.c.Devices.Get(context.Background(), name)
		return err == nil && d.Status == "online"
	})
	return p
}

// eventually polls cond every 20 ms: end-to-end tests have no event to wait on.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sleepTask(seconds float64) api.SubmitTaskRequest {
	return api.SubmitTaskRequest{TaskType: "sleep", Payload: json.RawMessage(fmt.Sprintf(`{"seconds":%g}`, seconds))}
}

func allTasks(t *testing.T, c *client.Client) []api.Task {
	t.Helper()
	var out []api.Task
	for off := 0; ; off += 1000 {
		l, err := c.Tasks.List(context.Background(), client.TaskListOptions{Limit: 1000, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Tasks...)
		if len(l.Tasks) < 1000 {
			return out
		}
	}
}
