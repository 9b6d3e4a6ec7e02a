package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/procs"
)

// simulate runs cfg.SimWorkers lightweight workers in this process over the
// real worker protocol (register, heartbeat at the interval the server
// gives, long-poll lease, report results; no control channel, no log
// lines) while tasks are submitted at cfg.Rate per second for
// cfg.Duration. A simulated task completes the moment it is leased.
//
// It measures what a crowd of workers costs the server: its CPU and RSS,
// heartbeat round trips, submit-to-start (the server's created_at to the
// moment the task reaches a worker, one clock), and how many lease calls
// a task costs (a stampede shows as many empty answers per task).
func simulate(ctx context.Context, c *client.Client, cfg Config, server int, rep *Report) error {
	queue := "bench-sim-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// One transport for every simulated worker: a long-poll holds a
	// connection, heartbeats share the idle ones.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: cfg.SimWorkers + 256,
		MaxIdleConnsPerHost: cfg.SimWorkers + 256, IdleConnTimeout: time.Minute}}
	defer hc.CloseIdleConnections()
	var st simStats
	st.start.Store(false)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sims := make([]*simWorker, cfg.SimWorkers)
	var reg sync.WaitGroup
	regErr := make(chan error, 1)
	gate := make(chan struct{}, 32) // registrations in flight
	for i := range sims {
		sims[i] = &simWorker{hc: hc, base: cfg.AgentURL, st: &st, slots: cfg.SimSlots}
		reg.Go(func() {
			gate <- struct{}{}
			defer func() { <-gate }()
			if err := sims[i].register(ctx, fmt.Sprintf("sim-%d", i+1), queue); err != nil {
				select {
				case regErr <- err:
				default:
				}
			}
		})
	}
	reg.Wait()
	select {
	case err := <-regErr:
		return fmt.Errorf("registering simulated workers: %w", err)
	default:
	}
	var run sync.WaitGroup
	for _, s := range sims {
		run.Go(func() { s.heartbeats(ctx) })
		run.Go(func() { s.leases(ctx) })
	}
	defer run.Wait()
	defer cancel()
	fmt.Fprintf(cfg.Out, "%d simulated workers × %d slots registered on queue %s; settling one heartbeat interval\n",
		cfg.SimWorkers, cfg.SimSlots, queue)
	// Let every worker heartbeat once and start its long-poll, so the
	// window measures the steady state, not the registration burst.
	select {
	case <-time.After(sims[0].interval + time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}

	cpu0, at0 := procs.CPUSeconds(server), time.Now()
	st.reset()
	st.start.Store(true)
	total, err := submitAtRate(ctx, c, queue, cfg.Rate, cfg.Duration)
	if err != nil {
		return err
	}
	submitted := time.Since(at0)
	behind := total - int(st.started.Load())
	err = procs.WaitEvery(ctx, 5*time.Minute, 50*time.Millisecond, func() bool { return st.completed.Load() >= int64(total) })
	drain := time.Since(at0) - submitted
	cpu1, at1 := procs.CPUSeconds(server), time.Now()
	st.start.Store(false)
	if err != nil {
		return fmt.Errorf("%d of %d tasks completed: %w", st.completed.Load(), total, err)
	}

	rep.SimWorkers, rep.Concurrency, rep.Tasks = cfg.SimWorkers, cfg.SimSlots, total
	rep.Seconds = at1.Sub(at0).Seconds()
	rep.TasksPerSecond = float64(total) / rep.Seconds
	rep.ServerCPUPercent = 100 * (cpu1 - cpu0) / at1.Sub(at0).Seconds()
	rep.ServerRSSMB = procs.RSSMB(server, "VmRSS")
	rep.ServerPeakRSSMB = procs.RSSMB(server, "VmHWM")
	rep.LatencyP50MS, rep.LatencyP99MS = st.startMS.percentiles()
	rep.HeartbeatP50MS, rep.HeartbeatP99MS = st.heartbeatMS.percentiles()
	rep.Heartbeats = st.heartbeatMS.count()
	rep.LeaseCalls, rep.EmptyLeases = st.leaseCalls.Load(), st.emptyLeases.Load()
	rep.BacklogAtEnd, rep.DrainSeconds = behind, drain.Seconds()
	fmt.Fprintf(cfg.Out, "simulated   %d workers × %d slots, %d tasks at %d/s over %s: drained %.2f s after the last submit (%d not yet started then)\n",
		cfg.SimWorkers, cfg.SimSlots, total, cfg.Rate, cfg.Duration, rep.DrainSeconds, behind)
	fmt.Fprintf(cfg.Out, "server      CPU %.0f %% of a core, RSS %.1f MB (peak %.1f MB)\n", rep.ServerCPUPercent, rep.ServerRSSMB, rep.ServerPeakRSSMB)
	fmt.Fprintf(cfg.Out, "heartbeat   %d round trips: p50 %.2f ms, p99 %.2f ms\n", rep.Heartbeats, rep.HeartbeatP50MS, rep.HeartbeatP99MS)
	fmt.Fprintf(cfg.Out, "latency     submit-to-start p50 %.2f ms, p99 %.2f ms (under load)\n", rep.LatencyP50MS, rep.LatencyP99MS)
	fmt.Fprintf(cfg.Out, "lease calls %d answered (%.2f per task), %d of them empty\n",
		rep.LeaseCalls, float64(rep.LeaseCalls)/float64(max(total, 1)), rep.EmptyLeases)
	return nil
}

// submitAtRate submits no-op tasks at rate per second for d, in a batch
// every 10 ms, and returns how many it submitted.
func submitAtRate(ctx context.Context, c *client.Client, queue string, rate int, d time.Duration) (int, error) {
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	total := 0
	for time.Since(start) < d {
		// As many as the rate owes by now: a slow submit catches up.
		owed := min(int(float64(rate)*time.Since(start).Seconds())+1-total, 1000)
		if owed > 0 {
			reqs := make([]api.SubmitTaskRequest, owed)
			for i := range reqs {
				reqs[i] = noop(queue)
			}
			if _, err := c.Tasks.SubmitBatch(ctx, reqs); err != nil {
				return total, err
			}
			total += owed
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return total, ctx.Err()
		}
	}
	return total, nil
}

type simStats struct {
	start                   atomic.Bool // inside the measured window
	started, completed      atomic.Int64
	leaseCalls, emptyLeases atomic.Int64
	startMS, heartbeatMS    samples
}

func (s *simStats) reset() {
	s.started.Store(0)
	s.completed.Store(0)
	s.leaseCalls.Store(0)
	s.emptyLeases.Store(0)
	s.startMS.reset()
	s.heartbeatMS.reset()
}

// samples collects durations in milliseconds.
type samples struct {
	mu sync.Mutex
	ms []float64
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.ms = append(s.ms, float64(d.Microseconds())/1000)
	s.mu.Unlock()
}

func (s *samples) reset() { s.mu.Lock(); s.ms = s.ms[:0]; s.mu.Unlock() }

func (s *samples) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.ms) }

func (s *samples) percentiles() (p50, p99 float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.Sort(s.ms)
	return percentile(s.ms, 50), percentile(s.ms, 99)
}

type simWorker struct {
	hc       *http.Client
	base     string
	st       *simStats
	slots    int
	cred     string
	interval time.Duration
}

func (w *simWorker) register(ctx context.Context, name, queue string) error {
	req := api.RegisterRequest{Name: name, Hostname: name, Role: "worker", Queues: []string{queue},
		TaskTypes: []string{"sleep"}, Concurrency: w.slots, PID: os.Getpid(),
		Platform:  api.Platform{OS: "linux", Arch: "amd64"},
		Resources: api.Resources{CPUCores: 1, MemoryTotalGB: 1}}
	var resp api.RegisterResponse
	if err := w.call(ctx, api.AgentRegisterPath, &req, &resp); err != nil {
		return err
	}
	w.cred, w.interval = resp.Credential, resp.HeartbeatInterval.Duration()
	return nil
}

// heartbeats reports every interval, starting at a random point of the
// first one so the crowd does not beat in step.
func (w *simWorker) heartbeats(ctx context.Context) {
	first := time.Duration(time.Now().UnixNano() % int64(w.interval))
	t := time.NewTimer(first)
	defer t.Stop()
	req := api.HeartbeatRequest{Running: []api.Lease{}}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		began := time.Now()
		var resp api.HeartbeatResponse
		if err := w.call(ctx, api.AgentHeartbeatPath, &req, &resp); err == nil && w.st.start.Load() {
			w.st.heartbeatMS.add(time.Since(began))
		}
		t.Reset(w.interval)
	}
}

// leases long-polls for tasks and reports each done at once.
func (w *simWorker) leases(ctx context.Context) {
	req := api.LeaseRequest{Max: w.slots, Wait: api.MillisOf(25 * time.Second)}
	for ctx.Err() == nil {
		var resp api.LeaseResponse
		if err := w.call(ctx, api.AgentLeasePath, &req, &resp); err != nil {
			if ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		got := time.Now()
		measuring := w.st.start.Load()
		if measuring {
			w.st.leaseCalls.Add(1)
			if len(resp.Tasks) == 0 {
				w.st.emptyLeases.Add(1)
			}
		}
		if len(resp.Tasks) == 0 {
			continue
		}
		results := api.ResultBatch{Results: make([]api.AgentResult, len(resp.Tasks))}
		for i, t := range resp.Tasks {
			if measuring {
				w.st.startMS.add(got.Sub(t.CreatedAt))
			}
			results.Results[i] = api.AgentResult{TaskID: t.TaskID, Epoch: t.Epoch, Status: "completed"}
		}
		w.st.started.Add(int64(len(resp.Tasks)))
		if err := w.call(ctx, api.AgentResultsPath, &results, nil); err == nil {
			w.st.completed.Add(int64(len(resp.Tasks)))
		}
	}
}

func (w *simWorker) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.cred != "" {
		req.Header.Set("Authorization", "Bearer "+w.cred)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if json.Unmarshal(b, &env) == nil && env.Status == "success" && len(env.Data) > 0 {
		b = env.Data
	}
	return json.Unmarshal(b, out)
}
