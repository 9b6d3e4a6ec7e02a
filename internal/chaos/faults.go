package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/procs"
)

// The faults, from RELIABILITY.md R1-R4, and a PostgreSQL restart.
const (
	FaultWorkerKill     = "worker-kill"     // R1: kill -9 a worker, start a replacement
	FaultWorkerStop     = "worker-stop"     // R2: SIGSTOP a worker for lease TTL + 3 s, then SIGCONT
	FaultBlackHole      = "black-hole"      // R2: the proxied worker's connection forwards nothing for lease TTL + 3 s
	FaultServerKill     = "server-kill"     // R3: kill -9 the server under submit load, restart at once
	FaultServerDownHalf = "server-down-0.5" // R4: the server down for half a lease TTL
	FaultServerDownLong = "server-down-1.5" // R4: the server down for one and a half lease TTLs
	FaultPGRestart      = "pg-restart"      // PostgreSQL mode: the operator's restart command
)

// AllFaults lists the faults a run injects by default, in the order a
// cycle is shuffled from.
var AllFaults = []string{FaultWorkerKill, FaultWorkerStop, FaultBlackHole, FaultServerKill, FaultServerDownHalf, FaultServerDownLong, FaultPGRestart}

// FaultReport is one injected fault and what it did.
type FaultReport struct {
	At     float64 `json:"at_s"` // seconds into the run
	Kind   string  `json:"kind"`
	Target string  `json:"target,omitempty"`
	// Orphans are the tasks running on the target (the server: all) when
	// the fault struck. Requeued of them went back to their queue (the
	// reaper rescued the lease) after p50/max seconds; Released of them
	// started again elsewhere after p50/max seconds (the re-lease latency,
	// which includes waiting behind the queue).
	Orphans     int     `json:"orphans"`
	Requeued    int     `json:"requeued"`
	RequeueP50S float64 `json:"requeue_p50_s,omitempty"`
	RequeueMaxS float64 `json:"requeue_max_s,omitempty"`
	Released    int     `json:"released"`
	ReleaseP50S float64 `json:"release_p50_s,omitempty"`
	ReleaseMaxS float64 `json:"release_max_s,omitempty"`
	// Worker faults, R1's two-sided bound on each requeue: Early ones came
	// before the lease expired (its holder's last heartbeat, or the task's
	// start if later, plus the lease TTL); Late ones after the expiry —
	// or the leader's failover grace, when a server took the lead in
	// between — plus one reaper sweep and 1 s.
	Early int `json:"requeued_early"`
	Late  int `json:"requeued_late"`
	// OrphanProcesses are the killed worker's task processes (below its
	// supervising shells) still alive 1 s after the kill (worker-kill only).
	OrphanProcesses int `json:"orphan_processes"`
	// Server faults: seconds from the fault to the next task start.
	ResumeS float64 `json:"resume_s,omitempty"`
	Error   string  `json:"error,omitempty"`

	start      time.Time
	from       string // the device orphans were on; "" for server faults
	orphans    []string
	started    map[string]time.Time // orphan -> when its attempt started
	lastSeen   time.Time            // the target's last heartbeat, read after it was silent past its lease
	orphanCmds []string             // the orphan processes, pid and command line
}

// schedule is the deterministic order of faults: each cycle through the
// kinds is a permutation drawn from the seed.
type schedule struct {
	rng   *rand.Rand
	kinds []string
	queue []string
}

func newSchedule(seed uint64, kinds []string) *schedule {
	return &schedule{rng: rand.New(rand.NewPCG(seed, 0x6661756c74)), kinds: kinds} // #nosec G404 -- a seeded, reproducible fault order, not a secret
}

func (s *schedule) next() string {
	if len(s.queue) == 0 {
		s.queue = slices.Clone(s.kinds)
		s.rng.Shuffle(len(s.queue), func(i, j int) { s.queue[i], s.queue[j] = s.queue[j], s.queue[i] })
	}
	k := s.queue[0]
	s.queue = s.queue[1:]
	return k
}

func (s *schedule) pick(n int) int { return s.rng.IntN(n) }

// inject runs one fault to its end (the target back or replaced).
func (r *runner) inject(ctx context.Context, kind string, sch *schedule) *FaultReport {
	cl, cfg := r.cl, r.cfg
	f := &FaultReport{Kind: kind, start: time.Now(), At: time.Since(r.began).Seconds()}
	fail := func(err error) *FaultReport {
		f.Error = err.Error()
		return f
	}
	switch kind {
	case FaultWorkerKill, FaultWorkerStop, FaultBlackHole:
		live := cl.live()
		var w *workerProc
		if kind == FaultBlackHole {
			for _, c := range live {
				if c.proxied {
					w = c
				}
			}
		} else {
			w = live[sch.pick(len(live))]
		}
		f.Target, f.from = w.name, w.name
		f.orphans, f.started = r.running(ctx, w.name)
		silent := cfg.LeaseTTL + 3*time.Second
		f.start = time.Now()
		switch kind {
		case FaultWorkerKill:
			// Below the worker's children: those are its supervising
			// shells, which on its death pass SIGTERM to their task's
			// group, then SIGKILL what is left once the command has ended
			// (or after the grace): they are the worker's, not the task's.
			var pids []int
			for _, c := range procs.Children(w.proc.Pid()) {
				pids = append(pids, procs.Descendants(c)...)
			}
			if _, err := cl.replace(w); err != nil {
				return fail(err)
			}
			sleep(ctx, time.Second)
			for _, pid := range pids {
				if procs.Alive(pid) {
					f.OrphanProcesses++
					f.orphanCmds = append(f.orphanCmds, fmt.Sprintf("%d %s", pid, procs.Cmdline(pid)))
				}
			}
			// The last heartbeat is read once the victim has been silent
			// past its lease, so one still in flight at the fault has landed.
			sleep(ctx, time.Until(f.start.Add(silent)))
			f.lastSeen = r.lastSeen(ctx, w.name)
		case FaultWorkerStop:
			if err := w.proc.Pause(); err != nil {
				return fail(err)
			}
			sleep(ctx, time.Until(f.start.Add(silent)))
			f.lastSeen = r.lastSeen(ctx, w.name)
			if err := w.proc.Resume(); err != nil {
				return fail(err)
			}
		case FaultBlackHole:
			cl.proxy.blackHole(silent)
			// Read a second before the proxy forwards again: a heartbeat it
			// held lands the moment it opens, and would read as the last.
			sleep(ctx, time.Until(f.start.Add(silent-time.Second)))
			f.lastSeen = r.lastSeen(ctx, w.name)
			sleep(ctx, time.Until(f.start.Add(silent)))
		}
	case FaultServerKill, FaultServerDownHalf, FaultServerDownLong:
		f.Target = "server"
		f.orphans, _ = r.running(ctx, "")
		f.start = time.Now()
		cl.killServer()
		switch kind {
		case FaultServerDownHalf:
			sleep(ctx, cfg.LeaseTTL/2)
		case FaultServerDownLong:
			sleep(ctx, cfg.LeaseTTL*3/2)
		}
		if err := cl.startServer(ctx); err != nil {
			return fail(err)
		}
	case FaultPGRestart:
		f.Target = "postgresql"
		f.orphans, _ = r.running(ctx, "")
		f.start = time.Now()
		if err := runCommand(ctx, cfg.PGRestart, filepath.Join(cl.dir, "pg-restart.log")); err != nil {
			return fail(fmt.Errorf("--pg-restart: %w", err))
		}
		// The server's leadership may lapse while its database is away; a
		// new term starts the reaper's failover grace again.
		cl.markRecovered()
	}
	return f
}

// running lists the run's tasks running on device (any device: ""), and
// when each started, leaving out the kinds that fail on purpose: their
// next start is a retry, not a re-lease.
func (r *runner) running(ctx context.Context, device string) ([]string, map[string]time.Time) {
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	l, err := r.cl.c.Tasks.List(ctx, client.TaskListOptions{Queue: queue, Status: "running", DeviceID: device, Limit: 1000})
	if err != nil {
		return nil, nil // reported as 0 in flight
	}
	var ids []string
	started := map[string]time.Time{}
	for _, t := range l.Tasks {
		if k := t.Labels["chaos_kind"]; k != kindFailing && k != kindRetried {
			ids = append(ids, t.TaskID)
			if t.StartedAt != nil {
				started[t.TaskID] = *t.StartedAt
			}
		}
	}
	return ids, started
}

// lastSeen is a device's last heartbeat as the server recorded it; zero if
// it cannot be read.
func (r *runner) lastSeen(ctx context.Context, device string) time.Time {
	ctx, cancel := context.WithTimeout(ctx, sampleTimeout)
	defer cancel()
	d, err := r.cl.c.Devices.Get(ctx, device)
	if err != nil {
		return time.Time{}
	}
	return d.LastSeen
}

// measure fills in what the event stream tells of a fault's orphans, up to
// the next fault (until), which may have moved them again. ttl is the
// lease TTL; ledSince(t) is when the term leading at t began.
func (f *FaultReport) measure(ev *completions, until time.Time, ttl time.Duration, ledSince func(time.Time) time.Time) {
	f.Orphans = len(f.orphans)
	var lat, req []float64
	for _, id := range f.orphans {
		if at, ok := ev.restartedAfter(id, f.start, f.from); ok && (until.IsZero() || at.Before(until)) {
			lat = append(lat, at.Sub(f.start).Seconds())
		}
		at, ok := ev.requeuedAfter(id, f.start)
		if !ok || (!until.IsZero() && !at.Before(until)) {
			continue
		}
		req = append(req, at.Sub(f.start).Seconds())
		if f.from == "" || f.lastSeen.IsZero() {
			continue
		}
		if term := ledSince(f.start); f.started[id].Before(term) {
			// Leased by an earlier server, which may have died before its
			// answer reached the worker: such a lease is renewed by no
			// heartbeat that does not list it (G6), so its expiry is not
			// the victim's last heartbeat plus the TTL. Not judged.
			continue
		}
		expiry := later(f.lastSeen, f.started[id]).Add(ttl)
		switch {
		case at.Before(expiry):
			f.Early++
		case at.After(later(expiry, ledSince(at).Add(ttl)).Add(sweep + time.Second)):
			f.Late++
		}
	}
	f.Released, f.ReleaseP50S, f.ReleaseMaxS = spread(lat)
	f.Requeued, f.RequeueP50S, f.RequeueMaxS = spread(req)
	if f.from == "" {
		if at, ok := ev.firstStartAfter(f.start); ok {
			f.ResumeS = round3(at.Sub(f.start).Seconds())
		}
	}
}

// spread is how many, the median and the maximum of xs.
func spread(xs []float64) (int, float64, float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	sort.Float64s(xs)
	return len(xs), round3(xs[len(xs)/2]), round3(xs[len(xs)-1])
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
