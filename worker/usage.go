package worker

import (
	"os"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
)

// sampleEvery is how often running commands' process groups are measured.
const sampleEvery = 500 * time.Millisecond

// groupSampler measures the process groups of running commands: one
// goroutine for all of them, running only while there are some, and one
// scan of the process table per tick however many there are.
type groupSampler struct {
	mu      sync.Mutex
	groups  map[int]*groupUsage // by process group id
	running bool
}

// groupUsage accumulates what one process group used.
type groupUsage struct {
	cpu     map[int]float64 // pid -> CPU seconds at its last sample
	total   float64         // CPU seconds of all members ever seen
	peakCPU float64         // percent of one core
	peakMB  float64         // resident set, summed over the group
	lastAt  time.Time
	lastSum float64
}

// procSample is one process as the platform's scanner reports it.
type procSample struct {
	pid, pgid int
	cpu       float64 // user+system seconds
	rss       uint64  // bytes
}

func (s *groupSampler) track(pgid int) *groupUsage {
	g := &groupUsage{cpu: map[int]float64{}, lastAt: time.Now()}
	if !canScanProcs {
		return g
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[int]*groupUsage{}
	}
	s.groups[pgid] = g
	if !s.running {
		s.running = true
		go s.loop()
	}
	return g
}

// finish stops measuring pgid and returns its usage, completed with the CPU
// time the kernel reported when the leader was reaped: that covers children
// too short-lived for any tick. The rusage's ru_maxrss is not used: a child
// forked with CLONE_VM (as os/exec does) shares the worker's memory until
// exec, and its high-water mark counts the worker's pages, not the task's.
// Peak memory comes from sampling alone.
func (s *groupSampler) finish(pgid int, g *groupUsage, ps *os.ProcessState, wall time.Duration) *api.ResourceUsage {
	s.mu.Lock()
	delete(s.groups, pgid)
	u := api.ResourceUsage{PeakCPUPercent: g.peakCPU, PeakMemoryMB: g.peakMB, TotalCPUTimeSeconds: g.total}
	s.mu.Unlock()
	if ps != nil {
		cpu := (ps.UserTime() + ps.SystemTime()).Seconds()
		u.TotalCPUTimeSeconds = max(u.TotalCPUTimeSeconds, cpu)
		if u.PeakCPUPercent == 0 && wall > 0 {
			// Never sampled: the average is the best estimate of the peak.
			u.PeakCPUPercent = 100 * cpu / wall.Seconds()
		}
	}
	u.PeakCPUPercent = round2(u.PeakCPUPercent)
	u.PeakMemoryMB = round2(u.PeakMemoryMB)
	u.TotalCPUTimeSeconds = round2(u.TotalCPUTimeSeconds)
	return &u
}

func (s *groupSampler) loop() {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	var procs []procSample
	for range t.C {
		s.mu.Lock()
		if len(s.groups) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		procs = scanProcs(procs[:0])
		now := time.Now()

		s.mu.Lock()
		rss := map[int]uint64{}
		for _, p := range procs {
			g := s.groups[p.pgid]
			if g == nil {
				continue
			}
			if prev, ok := g.cpu[p.pid]; ok {
				g.total += p.cpu - prev
			} else {
				g.total += p.cpu
			}
			g.cpu[p.pid] = p.cpu
			rss[p.pgid] += p.rss
		}
		for pgid, g := range s.groups {
			if dt := now.Sub(g.lastAt).Seconds(); dt > 0 {
				g.peakCPU = max(g.peakCPU, 100*(g.total-g.lastSum)/dt)
			}
			g.lastAt, g.lastSum = now, g.total
			g.peakMB = max(g.peakMB, float64(rss[pgid])/(1<<20))
		}
		s.mu.Unlock()
	}
}
