package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/procs"
)

// cluster is the server and worker processes of a run, restarted and
// replaced as faults take them down.
type cluster struct {
	cfg   *Config
	dir   string
	group procs.Group
	c     *client.Client
	http  *http.Client

	apiPort, agentPort int
	api, agent         string

	mu        sync.Mutex
	server    *procs.Proc
	recovered time.Time // the last time the server, or its database, came back
	workers   []*workerProc
	named     int // workers started so far, for names
	proxy     *proxy
}

type workerProc struct {
	name     string
	proc     *procs.Proc
	proxied  bool // talks to the server through the proxy
	replaced bool
}

func newCluster(cfg *Config, dir string) (*cluster, error) {
	ports, err := procs.FreePorts(2)
	if err != nil {
		return nil, err
	}
	cl := &cluster{cfg: cfg, dir: dir, apiPort: ports[0], agentPort: ports[1],
		http: &http.Client{Timeout: 5 * time.Second}}
	cl.api = fmt.Sprintf("http://127.0.0.1:%d", cl.apiPort)
	cl.agent = fmt.Sprintf("http://127.0.0.1:%d", cl.agentPort)
	cl.c, err = client.New(cl.api, client.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return nil, err
	}
	cl.proxy, err = newProxy(fmt.Sprintf("127.0.0.1:%d", cl.agentPort))
	if err != nil {
		return nil, err
	}
	return cl, nil
}

func (cl *cluster) stop() {
	cl.group.Stop()
	cl.proxy.close()
}

// startServer starts the server and waits until it answers.
func (cl *cluster) startServer(ctx context.Context) error {
	cfg := cl.cfg
	args := []string{"server", "--store", cfg.Store,
		"--port", strconv.Itoa(cl.apiPort), "--agent-port", strconv.Itoa(cl.agentPort),
		"--heartbeat-interval", cfg.Heartbeat.String(), "--lease-ttl", cfg.LeaseTTL.String(),
		"--log-level", "warn", "--keeper-port", "0", "--netpulse-port", "0"}
	p, err := cl.group.Start(cfg.Binary, filepath.Join(cl.dir, "server.log"), append(args, cfg.ServerArgs...)...)
	if err != nil {
		return err
	}
	cl.mu.Lock()
	cl.server = p
	cl.mu.Unlock()
	err = procs.WaitFor(ctx, 60*time.Second, func() bool {
		if p.Exited() {
			return true
		}
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := cl.c.Health(hctx)
		return err == nil
	})
	if err == nil && p.Exited() {
		err = fmt.Errorf("it exited")
	}
	if err != nil {
		return fmt.Errorf("server did not come up: %w (log: %s)", err, procs.Tail(p.Log))
	}
	cl.markRecovered()
	return nil
}

func (cl *cluster) markRecovered() {
	cl.mu.Lock()
	cl.recovered = time.Now()
	cl.mu.Unlock()
}

func (cl *cluster) lastRecovered() time.Time {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.recovered
}

func (cl *cluster) serverProc() *procs.Proc {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.server
}

// killServer kills the server with SIGKILL.
func (cl *cluster) killServer() { cl.serverProc().Kill() }

// startWorker starts a worker; the first one talks through the proxy.
func (cl *cluster) startWorker(proxied bool) (*workerProc, error) {
	cl.mu.Lock()
	cl.named++
	name := fmt.Sprintf("chaos-w%d", cl.named)
	cl.mu.Unlock()
	server := cl.agent
	if proxied {
		server = "http://" + cl.proxy.addr()
	}
	p, err := cl.group.Start(cl.cfg.Binary, filepath.Join(cl.dir, name+".log"), "worker",
		"--server", server, "--name", name, "--queues", queue,
		"--concurrency", strconv.Itoa(cl.cfg.Concurrency), "--allow-shell", "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	w := &workerProc{name: name, proc: p, proxied: proxied}
	cl.mu.Lock()
	cl.workers = append(cl.workers, w)
	cl.mu.Unlock()
	return w, nil
}

// live lists the workers not replaced.
func (cl *cluster) live() []*workerProc {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []*workerProc
	for _, w := range cl.workers {
		if !w.replaced {
			out = append(out, w)
		}
	}
	return out
}

// replace kills w with SIGKILL and starts a worker in its place.
func (cl *cluster) replace(w *workerProc) (*workerProc, error) {
	w.proc.Kill()
	cl.mu.Lock()
	w.replaced = true
	cl.mu.Unlock()
	return cl.startWorker(w.proxied)
}

// waitOnline waits until n workers of the run are online.
func (cl *cluster) waitOnline(ctx context.Context, n int) error {
	return procs.WaitEvery(ctx, 60*time.Second, 100*time.Millisecond, func() bool {
		l, err := cl.c.Devices.List(ctx, client.DeviceListOptions{Status: "online"})
		return err == nil && l.Online >= n
	})
}

// runCommand runs an operator-given shell command (the PostgreSQL restart),
// its output appended to logPath. A file, not a pipe: a daemon the command
// starts keeps its output open, and waiting for a pipe's end would wait for
// the daemon.
func runCommand(ctx context.Context, command, logPath string) error {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w (output in %s)", err, logPath)
	}
	return nil
}
