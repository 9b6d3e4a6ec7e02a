package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/procs"
)

// checker samples R12's invariants every second through the API:
//
//   - no task is running whose lease expired more than one reaper sweep
//     plus 1 s ago. A lease runs to the holder's last heartbeat (or its
//     start, if later) plus the lease TTL, since a heartbeat renews every
//     lease of its worker (RELIABILITY.md rule 2). Only the leader sweeps,
//     and it waits one TTL after it took the lead (failover grace), which
//     on PostgreSQL can be a leader TTL after the server came back: the
//     grace counts from the later of the two, as the server's
//     drover_leader_since_timestamp_seconds reports it, and while no server
//     leads no lease is late;
//   - no task waits more than 2 s in the queue while a worker that could
//     take it is idle — online, heard from within two heartbeats, running
//     nothing — in this sample and the one before. A worker that was cut
//     off (or the server down) within the worker's longest retry backoff
//     plus 2 s is not counted idle: it may still be waiting to ask again.
type checker struct {
	cfg *Config
	cl  *cluster

	mu         sync.Mutex
	samples    int
	unanswered int
	leaderless int         // answered samples while the server did not lead
	terms      []time.Time // the starts of the leaderships seen, in order
	violations []string
	stuck      map[string]bool      // tasks seen breaking an invariant
	idleBefore map[string]bool      // workers idle in the previous sample
	lastStale  map[string]time.Time // when a worker was last seen silent
}

// sampleTimeout bounds one sample's reads. A slow answer cannot invent a
// violation (each read can only be fresher than now), so this is generous:
// on a loaded machine a shorter one left most samples unanswered.
const sampleTimeout = 10 * time.Second

// settle is how long after a worker or the server comes back the queue
// invariant waits: the worker's longest retry backoff (5 s) plus 2 s.
const settle = 7 * time.Second

func newChecker(cfg *Config, cl *cluster) *checker {
	return &checker{cfg: cfg, cl: cl, stuck: map[string]bool{}, idleBefore: map[string]bool{}, lastStale: map[string]time.Time{}}
}

func (k *checker) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.sample(ctx)
		}
	}
}

func (k *checker) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	now := time.Now()
	// Tasks first, then workers: a worker's last heartbeat read after its
	// tasks can only be later, which can hide a violation, not invent one.
	// Leadership first: a term that began after the tasks were read could
	// only shorten the grace, never lengthen it past the truth.
	m, err0 := readMetrics(ctx, k.cl.http, k.cl.api, leaderSince)
	running, err1 := k.cl.c.Tasks.List(ctx, client.TaskListOptions{Queue: queue, Status: "running", Limit: 1000})
	pending, err2 := k.cl.c.Tasks.List(ctx, client.TaskListOptions{Queue: queue, Status: "pending", Limit: 1000})
	devices, err3 := k.cl.c.Devices.List(ctx, client.DeviceListOptions{Status: "all", Limit: 10000})
	k.mu.Lock()
	defer k.mu.Unlock()
	if err0 != nil || err1 != nil || err2 != nil || err3 != nil {
		k.unanswered++
		k.idleBefore = map[string]bool{}
		return
	}
	k.samples++
	byID := map[string]api.Device{}
	for _, d := range devices.Devices {
		byID[d.ID] = d
	}
	grace := now // no leader: nothing sweeps, no lease is late yet
	if since := m[leaderSince]; since > 0 {
		led := time.Unix(0, int64(since*1e9))
		if n := len(k.terms); n == 0 || !k.terms[n-1].Equal(led) {
			k.terms = append(k.terms, led)
		}
		grace = later(k.cl.lastRecovered(), led).Add(k.cfg.LeaseTTL)
	} else {
		k.leaderless++
	}
	slack := sweep + time.Second
	for _, t := range running.Tasks {
		if t.DeviceID == nil || t.StartedAt == nil {
			continue
		}
		d, ok := byID[*t.DeviceID]
		if !ok {
			continue
		}
		expiry := later(d.LastSeen, *t.StartedAt).Add(k.cfg.LeaseTTL)
		if now.After(later(expiry, grace).Add(slack)) {
			k.violate(t.TaskID, fmt.Sprintf("task %s running on %s, whose lease expired %s ago (last heartbeat %s)",
				t.TaskID, d.ID, now.Sub(expiry).Round(time.Millisecond), d.LastSeen.Format(time.RFC3339Nano)))
		}
	}
	idle := map[string]bool{}
	var takers []api.Device
	for _, d := range devices.Devices {
		fresh := now.Sub(d.LastSeen) < 2*k.cfg.Heartbeat
		if !fresh || d.Status != "online" {
			k.lastStale[d.ID] = now
		}
		if now.Sub(k.lastStale[d.ID]) < settle {
			continue
		}
		if d.Status == "online" && fresh && d.Tasks.Active == 0 && slices.Contains(d.Queues, queue) {
			idle[d.ID] = true
			if k.idleBefore[d.ID] {
				takers = append(takers, d)
			}
		}
	}
	k.idleBefore = idle
	for _, t := range pending.Tasks {
		ready := t.CreatedAt
		if t.AvailableAt != nil {
			ready = later(ready, *t.AvailableAt)
		}
		if now.Sub(ready) <= 2*time.Second || now.Sub(k.cl.lastRecovered()) < settle {
			continue
		}
		for _, d := range takers {
			if slices.Contains(d.TaskTypes, t.TaskType) {
				k.violate(t.TaskID, fmt.Sprintf("task %s queued for %s while %s was idle",
					t.TaskID, now.Sub(ready).Round(time.Millisecond), d.ID))
				break
			}
		}
	}
}

// ledSince is when the leadership in force at t began, as far as the
// samples saw: zero if none had begun.
func (k *checker) ledSince(t time.Time) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	var since time.Time
	for _, s := range k.terms {
		if s.After(t) {
			break
		}
		since = s
	}
	return since
}

func (k *checker) violate(taskID, what string) {
	k.stuck[taskID] = true
	if len(k.violations) < 100 {
		k.violations = append(k.violations, time.Now().UTC().Format("15:04:05.000")+" "+what)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sweep is the reaper's interval (dispatch.DefaultReaperInterval).
const sweep = time.Second

// completions follows the event stream and records, per task, every
// accepted completion and every start, with the server's timestamps. It
// resumes with Last-Event-ID after the server comes back, so it sees every
// event the server stored; an event the server never stored (it died
// before its batch was written) is missing, which can hide a duplicate
// but never invent one.
type completions struct {
	mu       sync.Mutex
	events   int
	complete map[string][]int64 // task id -> ids of its task_completed events
	starts   map[string][]start
	requeued map[string][]time.Time // task_retrying: a failed attempt, or a lease rescued
}

type start struct {
	at     time.Time
	device string
}

func newCompletions() *completions {
	return &completions{complete: map[string][]int64{}, starts: map[string][]start{}, requeued: map[string][]time.Time{}}
}

func (e *completions) follow(ctx context.Context, c *client.Client) {
	c.Monitor.StreamWith(ctx, client.StreamOptions{Types: []string{"task_completed", "task_started", "task_retrying"}, Reconnect: 200 * time.Millisecond},
		func(ev api.StreamEvent) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events++
			switch ev.Type {
			case "task_completed":
				if !slices.Contains(e.complete[ev.TaskID], ev.ID) {
					e.complete[ev.TaskID] = append(e.complete[ev.TaskID], ev.ID)
				}
			case "task_started":
				e.starts[ev.TaskID] = append(e.starts[ev.TaskID], start{at: ev.Timestamp, device: ev.DeviceID})
			case "task_retrying":
				e.requeued[ev.TaskID] = append(e.requeued[ev.TaskID], ev.Timestamp)
			}
			return nil
		})
}

// restartedAfter is when task id started again after at on another device
// than from, if it did.
func (e *completions) restartedAfter(id string, at time.Time, from string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.starts[id] {
		if s.at.After(at) && s.device != from {
			return s.at, true
		}
	}
	return time.Time{}, false
}

// requeuedAfter is when task id went back to its queue after at, if it did.
func (e *completions) requeuedAfter(id string, at time.Time) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.requeued[id] {
		if t.After(at) {
			return t, true
		}
	}
	return time.Time{}, false
}

// firstStartAfter is the first start of any task after at.
func (e *completions) firstStartAfter(at time.Time) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var first time.Time
	for _, ss := range e.starts {
		for _, s := range ss {
			if s.at.After(at) && (first.IsZero() || s.at.Before(first)) {
				first = s.at
			}
		}
	}
	return first, !first.IsZero()
}

// Sample is the server's resource use at one moment.
type Sample struct {
	Seconds    float64 `json:"t"`
	RSSMB      float64 `json:"rss_mb"`
	HeapMB     float64 `json:"heap_mb"` // go_memstats_heap_inuse_bytes
	FDs        int     `json:"fds"`     // open file descriptors
	Goroutines int     `json:"goroutines"`
	ServerPID  int     `json:"server_pid"`
}

// sampleResources records the server's RSS and open files (from /proc), Go
// heap in use and goroutines (from /metrics) every interval.
func sampleResources(ctx context.Context, cl *cluster, began time.Time, every time.Duration, out *[]Sample, mu *sync.Mutex) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p := cl.serverProc()
		if p.Exited() {
			continue
		}
		m, err := readMetrics(ctx, cl.http, cl.api, "go_goroutines", "go_memstats_heap_inuse_bytes")
		if err != nil {
			continue
		}
		rss := p.RSSMB("VmRSS")
		if rss == 0 { // it died between the two reads
			continue
		}
		s := Sample{Seconds: time.Since(began).Seconds(), RSSMB: rss, HeapMB: m["go_memstats_heap_inuse_bytes"] / (1 << 20),
			Goroutines: int(m["go_goroutines"]), FDs: procs.OpenFDs(p.Pid()), ServerPID: p.Pid()}
		mu.Lock()
		*out = append(*out, s)
		mu.Unlock()
	}
}

// leaderSince is the server's metric of when its leadership began.
const leaderSince = "drover_leader_since_timestamp_seconds"

// readMetrics reads the named unlabelled series from the server's /metrics;
// each must be there.
func readMetrics(ctx context.Context, hc *http.Client, api string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics: %s: %w", name, err)
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("/metrics has no %s", n)
		}
	}
	return out, nil
}
