// Package bench is `drover bench`, the built-in load generator. It measures
// Drover as users run it: a server process and worker processes talking
// HTTP, driven through the public client. It reports end-to-end throughput
// (first submit to last completion), submit-to-start latency on an idle
// cluster, and the processes' memory.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/procs"
)

// Config says what to measure. Zero fields take the defaults shown.
type Config struct {
	Binary      string   // the drover executable to start processes from; default: this one
	APIURL      string   // an existing server's API; empty starts one
	AgentURL    string   // that server's worker protocol, for the workers bench starts
	Store       string   // store of the server bench starts; default a temporary SQLite file
	Workers     int      // worker processes to start; default 2 (0 with APIURL set means use the server's own)
	Concurrency int      // per worker; default 64
	Tasks       int      // tasks in the throughput run; default 20000
	Batch       int      // tasks per submit call; default 500
	Submitters  int      // concurrent submit loops; default 2
	Samples     int      // sequential submits in the latency run; default 200
	Hold        int      // if > 0: instead, submit this many tasks no worker takes and report the server's RSS
	Queue       string   // queue of the tasks; default a fresh one when bench starts the workers, else FifoQ
	Prefill     bool     // measure burning down a full queue: submit every task first, then let the workers go
	ServerArgs  []string // extra flags for the server bench starts, e.g. --pprof-addr
	// SimWorkers, if > 0: instead, simulate this many workers in this
	// process (see simulate) and run Rate tasks/s on them for Duration.
	SimWorkers int
	SimSlots   int           // slots per simulated worker; default 1
	Rate       int           // tasks/s submitted in the simulation; default 1000
	Duration   time.Duration // of the submitting; default 30s
	Out        io.Writer
}

func (c *Config) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.SimWorkers > 0 {
		c.Workers = 0
		def(&c.SimSlots, 1)
		def(&c.Rate, 1000)
		if c.Duration <= 0 {
			c.Duration = 30 * time.Second
		}
	} else if c.APIURL == "" {
		def(&c.Workers, 2)
	}
	def(&c.Concurrency, 64)
	def(&c.Tasks, 20000)
	def(&c.Batch, 500)
	def(&c.Submitters, 2)
	def(&c.Samples, 200)
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// Report is what a run measured.
type Report struct {
	Store            string  `json:"store"`
	Workers          int     `json:"workers"`
	Concurrency      int     `json:"concurrency"`
	Tasks            int     `json:"tasks"`
	Seconds          float64 `json:"seconds"`
	TasksPerSecond   float64 `json:"tasks_per_second"`
	LatencyP50MS     float64 `json:"submit_to_start_p50_ms"`
	LatencyP99MS     float64 `json:"submit_to_start_p99_ms"`
	ServerPeakRSSMB  float64 `json:"server_peak_rss_mb,omitempty"`
	ServerRSSMB      float64 `json:"server_rss_mb,omitempty"`
	WorkerIdleRSSMB  float64 `json:"worker_idle_rss_mb,omitempty"`
	WorkerPeakRSSMB  float64 `json:"worker_peak_rss_mb,omitempty"`
	HeldPendingTasks int     `json:"held_pending_tasks,omitempty"`

	// With simulated workers:
	SimWorkers       int     `json:"sim_workers,omitempty"`
	ServerCPUPercent float64 `json:"server_cpu_percent,omitempty"` // of one core, over the measured window
	Heartbeats       int     `json:"heartbeats,omitempty"`
	HeartbeatP50MS   float64 `json:"heartbeat_p50_ms,omitempty"`
	HeartbeatP99MS   float64 `json:"heartbeat_p99_ms,omitempty"`
	LeaseCalls       int64   `json:"lease_calls,omitempty"`
	EmptyLeases      int64   `json:"empty_leases,omitempty"`
	BacklogAtEnd     int     `json:"backlog_at_end_of_submit,omitempty"`
	DrainSeconds     float64 `json:"drain_seconds,omitempty"`
}

// Run measures and prints a report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.Binary = exe
	}
	tmp, err := os.MkdirTemp("", "drover-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var group procs.Group
	defer group.Stop()
	rep := &Report{Store: "external", Workers: cfg.Workers, Concurrency: cfg.Concurrency}
	var server *procs.Proc
	if cfg.APIURL == "" {
		if cfg.Store == "" {
			cfg.Store = "sqlite://" + filepath.Join(tmp, "bench.db")
		}
		rep.Store = strings.SplitN(cfg.Store, "://", 2)[0]
		ports, err := procs.FreePorts(2)
		if err != nil {
			return nil, err
		}
		apiPort, agentPort := ports[0], ports[1]
		cfg.APIURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
		cfg.AgentURL = fmt.Sprintf("http://127.0.0.1:%d", agentPort)
		args := append([]string{"server", "--store", cfg.Store, "--port", strconv.Itoa(apiPort),
			"--agent-port", strconv.Itoa(agentPort), "--log-level", "warn"}, cfg.ServerArgs...)
		server, err = group.Start(cfg.Binary, filepath.Join(tmp, "server.log"), args...)
		if err != nil {
			return nil, err
		}
	}
	c, err := client.New(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	if err := procs.WaitFor(ctx, 30*time.Second, func() bool { _, err := c.Health(ctx); return err == nil }); err != nil {
		return nil, fmt.Errorf("server did not come up: %w (log: %s)", err, procs.Tail(filepath.Join(tmp, "server.log")))
	}

	if cfg.Hold > 0 {
		return rep, hold(ctx, c, cfg, server, rep)
	}
	if cfg.SimWorkers > 0 {
		if server == nil {
			return nil, errors.New("--sim-workers needs the server bench starts (it reads the server's CPU and memory)")
		}
		return rep, simulate(ctx, c, cfg, server.Pid(), rep)
	}

	var workers []*procs.Proc
	queue := cfg.Queue
	switch {
	case queue != "":
	case cfg.Workers > 0:
		queue = "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	default:
		queue = "FifoQ"
	}
	for i := range cfg.Workers {
		w, err := group.Start(cfg.Binary, filepath.Join(tmp, fmt.Sprintf("worker-%d.log", i)), "worker",
			"--server", cfg.AgentURL, "--name", fmt.Sprintf("bench-%d", i+1), "--queues", queue,
			"--concurrency", strconv.Itoa(cfg.Concurrency), "--log-level", "warn")
		if err != nil {
			return nil, err
		}
		workers = append(workers, w)
	}
	if err := procs.WaitFor(ctx, 30*time.Second, func() bool { return listening(ctx, c, queue) >= max(cfg.Workers, 1) }); err != nil {
		return nil, fmt.Errorf("workers did not register: %w", err)
	}
	fmt.Fprintf(cfg.Out, "server %s, %d workers × %d slots on queue %s\n", cfg.APIURL, cfg.Workers, cfg.Concurrency, queue)
	if len(workers) > 0 {
		rep.WorkerIdleRSSMB = workers[0].RSSMB("VmRSS")
	}

	if cfg.Prefill {
		if err := prefilled(ctx, c, queue, cfg, workers, rep); err != nil {
			return nil, err
		}
		if server != nil {
			rep.ServerPeakRSSMB = server.RSSMB("VmHWM")
		}
		print(cfg.Out, rep)
		return rep, nil
	}
	if err := latency(ctx, c, queue, cfg, rep); err != nil {
		return nil, err
	}
	if err := throughput(ctx, c, queue, cfg, rep); err != nil {
		return nil, err
	}
	if server != nil {
		rep.ServerPeakRSSMB = server.RSSMB("VmHWM")
	}
	for _, w := range workers {
		rep.WorkerPeakRSSMB = max(rep.WorkerPeakRSSMB, w.RSSMB("VmHWM"))
	}
	print(cfg.Out, rep)
	return rep, nil
}

// noop is the task the runs submit: a zero-second sleep, which every worker
// has built in and which does nothing but its protocol round trip.
func noop(queue string) api.SubmitTaskRequest {
	return api.SubmitTaskRequest{TaskType: "sleep", Payload: json.RawMessage(`{"seconds":0}`), Queue: queue}
}

// latency submits tasks one at a time on the idle cluster, each after the
// previous finished, and takes submit-to-start from the server's own
// timestamps (created_at to started_at), so client overhead does not count.
func latency(ctx context.Context, c *client.Client, queue string, cfg Config, rep *Report) error {
	var ms []float64
	for range cfg.Samples {
		sub, err := c.Tasks.Submit(ctx, noop(queue))
		if err != nil {
			return err
		}
		t, err := c.Tasks.Wait(ctx, sub.TaskID, 2*time.Millisecond)
		if err != nil {
			return err
		}
		if t.StartedAt == nil {
			return fmt.Errorf("task %s ended %s without starting", t.TaskID, t.Status)
		}
		ms = append(ms, float64(t.StartedAt.Sub(t.CreatedAt).Microseconds())/1000)
	}
	slices.Sort(ms)
	rep.LatencyP50MS = percentile(ms, 50)
	rep.LatencyP99MS = percentile(ms, 99)
	return nil
}

// throughput submits cfg.Tasks tasks in batches from several loops and
// waits until all are completed.
func throughput(ctx context.Context, c *client.Client, queue string, cfg Config, rep *Report) error {
	base, err := completed(ctx, c, queue)
	if err != nil {
		return err
	}
	watched, err := watch(ctx, c)
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Submitters)
	per := (cfg.Tasks + cfg.Submitters - 1) / cfg.Submitters
	for s := range cfg.Submitters {
		n := min(per, cfg.Tasks-s*per)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fill(ctx, c, queue, n, cfg.Batch, watched.expect); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	end, err := watched.wait(ctx, c, queue, cfg.Tasks, base)
	if err != nil {
		return err
	}
	if err := confirm(ctx, c, queue, base+cfg.Tasks); err != nil {
		return err
	}
	rep.Tasks = cfg.Tasks
	rep.Seconds = end.Sub(start).Seconds()
	rep.TasksPerSecond = float64(cfg.Tasks) / rep.Seconds
	return nil
}

// prefilled measures a burn-down: the registered workers are paused
// (SIGSTOP), the queue is filled, and the clock runs from their release to
// the last completion, as River measures working a pre-inserted backlog.
func prefilled(ctx context.Context, c *client.Client, queue string, cfg Config, workers []*procs.Proc, rep *Report) error {
	if len(workers) == 0 {
		return errors.New("--prefill needs workers that bench starts (--workers)")
	}
	for _, w := range workers {
		if err := w.Pause(); err != nil {
			return err
		}
	}
	base, err := completed(ctx, c, queue)
	if err != nil {
		return err
	}
	watched, err := watch(ctx, c)
	if err != nil {
		return err
	}
	if err := fill(ctx, c, queue, cfg.Tasks, 1000, watched.expect); err != nil {
		return err
	}
	start := time.Now()
	for _, w := range workers {
		if err := w.Resume(); err != nil {
			return err
		}
	}
	end, err := watched.wait(ctx, c, queue, cfg.Tasks, base)
	if err != nil {
		return err
	}
	if err := confirm(ctx, c, queue, base+cfg.Tasks); err != nil {
		return err
	}
	rep.Tasks = cfg.Tasks
	rep.Seconds = end.Sub(start).Seconds()
	rep.TasksPerSecond = float64(cfg.Tasks) / rep.Seconds
	return nil
}

// fill submits n no-op tasks to queue in batches of batch, passing each
// batch's task ids to submitted (if set).
func fill(ctx context.Context, c *client.Client, queue string, n, batch int, submitted func(ids []string)) error {
	for n > 0 {
		reqs := make([]api.SubmitTaskRequest, min(n, batch))
		for i := range reqs {
			reqs[i] = noop(queue)
		}
		out, err := c.Tasks.SubmitBatch(ctx, reqs)
		if err != nil {
			return err
		}
		if submitted != nil {
			ids := make([]string, len(out.Tasks))
			for i, t := range out.Tasks {
				ids[i] = t.TaskID
			}
			submitted(ids)
		}
		n -= len(reqs)
	}
	return nil
}

// confirm checks, once the stream has reported every task done, that the
// store agrees.
func confirm(ctx context.Context, c *client.Client, queue string, want int) error {
	got, err := completed(ctx, c, queue)
	if err != nil {
		return err
	}
	if got < want {
		return fmt.Errorf("the event stream reported every task completed, but the store has %d of %d", got, want)
	}
	return nil
}

// hold fills a queue no worker listens on and reports the server's memory.
func hold(ctx context.Context, c *client.Client, cfg Config, server *procs.Proc, rep *Report) error {
	queue := "bench-hold"
	start := time.Now()
	if err := fill(ctx, c, queue, cfg.Hold, 1000, nil); err != nil {
		return err
	}
	rep.HeldPendingTasks = cfg.Hold
	rep.Seconds = time.Since(start).Seconds()
	rep.TasksPerSecond = float64(cfg.Hold) / rep.Seconds
	if server != nil {
		rep.ServerRSSMB = server.RSSMB("VmRSS")
		rep.ServerPeakRSSMB = server.RSSMB("VmHWM")
	}
	fmt.Fprintf(cfg.Out, "held %d pending tasks (submitted at %.0f tasks/s); server RSS %.1f MB, peak %.1f MB\n",
		cfg.Hold, rep.TasksPerSecond, rep.ServerRSSMB, rep.ServerPeakRSSMB)
	return nil
}

func completed(ctx context.Context, c *client.Client, queue string) (int, error) {
	l, err := c.Tasks.List(ctx, client.TaskListOptions{Queue: queue, Limit: 1})
	if err != nil {
		return 0, err
	}
	if l.Failed > 0 {
		return 0, fmt.Errorf("%d bench tasks failed", l.Failed)
	}
	return l.Completed, nil
}

func listening(ctx context.Context, c *client.Client, queue string) int {
	l, err := c.Devices.List(ctx, client.DeviceListOptions{Status: "online"})
	if err != nil {
		return 0
	}
	n := 0
	for _, d := range l.Devices {
		if slices.Contains(d.Queues, queue) {
			n++
		}
	}
	return n
}

func print(out io.Writer, r *Report) {
	fmt.Fprintf(out, "throughput  %d tasks in %.2f s = %.0f tasks/s (store %s, %d workers × %d)\n",
		r.Tasks, r.Seconds, r.TasksPerSecond, r.Store, r.Workers, r.Concurrency)
	if r.LatencyP50MS > 0 {
		fmt.Fprintf(out, "latency     submit-to-start p50 %.2f ms, p99 %.2f ms (idle cluster)\n", r.LatencyP50MS, r.LatencyP99MS)
	}
	if r.ServerPeakRSSMB > 0 {
		fmt.Fprintf(out, "memory      server peak RSS %.1f MB; worker idle RSS %.1f MB, peak %.1f MB\n",
			r.ServerPeakRSSMB, r.WorkerIdleRSSMB, r.WorkerPeakRSSMB)
	}
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}
