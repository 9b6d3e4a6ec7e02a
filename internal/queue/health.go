package queue

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// Health is the state of what a queue system needs to work: its store, its
// workers and its queues (document 003's /health component checks).
type Health struct {
	Store   StoreHealth
	Workers WorkerHealth
	Queues  QueueHealth
	Uptime  time.Duration
}

// StoreHealth says whether the store answers, and how fast.
type StoreHealth struct {
	OK      bool
	Latency time.Duration
	Error   string
}

// WorkerHealth counts workers by NetPulse status.
type WorkerHealth struct {
	Total, Busy, Idle, Suspended, Dead int
	// LastHeartbeat is the latest heartbeat of any live worker (zero: none).
	LastHeartbeat time.Time
	// Stale counts live workers whose last heartbeat is older than three
	// heartbeat intervals: alive on paper, silent in fact.
	Stale int
}

// QueueHealth sums the queues.
type QueueHealth struct {
	Queues, Paused   int
	Pending, Running int64
	OldestPending    time.Time // zero: nothing waits
	Unserved         []string  // queues with pending tasks and no live worker
}

// Health checks the store, then reads workers and queues; with the store
// down only Store is filled.
func (s *Service) Health(ctx context.Context) Health {
	h := Health{Uptime: time.Since(s.engine.StartedAt())}
	start := time.Now()
	err := s.store.Ping(ctx)
	h.Store = StoreHealth{OK: err == nil, Latency: time.Since(start)}
	if err != nil {
		h.Store.Error = "the store does not answer"
		return h
	}
	now := time.Now()
	staleAfter := 3 * s.engine.Config().HeartbeatInterval
	if vs, err := s.Workers(ctx, WorkerQuery{}); err == nil {
		for _, v := range vs {
			h.Workers.Total++
			switch v.Status {
			case domain.WorkerBusy:
				h.Workers.Busy++
			case domain.WorkerIdle:
				h.Workers.Idle++
			case domain.WorkerSuspended:
				h.Workers.Suspended++
			case domain.WorkerDead:
				h.Workers.Dead++
			}
			if v.State.Live() {
				if v.LastSeen.After(h.Workers.LastHeartbeat) {
					h.Workers.LastHeartbeat = v.LastSeen
				}
				if now.Sub(v.LastSeen) > staleAfter {
					h.Workers.Stale++
				}
			}
		}
	}
	if qs, err := s.List(ctx); err == nil {
		for _, q := range qs {
			h.Queues.Queues++
			if q.Paused {
				h.Queues.Paused++
			}
			h.Queues.Pending += q.Counts[domain.TaskPending]
			h.Queues.Running += q.Counts[domain.TaskRunning]
			if !q.OldestPending.IsZero() && (h.Queues.OldestPending.IsZero() || q.OldestPending.Before(h.Queues.OldestPending)) {
				h.Queues.OldestPending = q.OldestPending
			}
			if q.Counts[domain.TaskPending] > 0 && q.LiveWorkers == 0 {
				h.Queues.Unserved = append(h.Queues.Unserved, q.Name)
			}
		}
	}
	return h
}
