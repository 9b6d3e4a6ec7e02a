package scale

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Decide is the autoscaler's decision for one pool: the size it should
// have given the backlog of its queues at now, and why. It is a pure
// function; the pool's size stays when autoscaling is off, when the pool
// changed size (by anyone) less than the cooldown ago, or when the backlog
// asks for the size it has.
//
//   - The backlog (pending and running tasks of the pool's queues) asks
//     for ceil(backlog / tasks_per_worker) workers; an idle pool shrinks to
//     its minimum.
//   - A pending task waiting longer than max_pending_age asks for one
//     worker more than the pool has, whatever the backlog says.
//   - The answer is held within min_points..max_points.
func Decide(p *domain.Pool, q store.PoolQueueStats, now time.Time) (points int, reason string) {
	a := p.Autoscale
	if !a.Enabled {
		return p.Points, ""
	}
	per := a.TasksPerWorker
	if per <= 0 {
		per = max(p.Worker.Concurrency, 1)
	}
	backlog := q.Pending + q.Running
	want := (backlog + per - 1) / per
	reason = fmt.Sprintf("backlog %d (%d pending, %d running) at %d per worker", backlog, q.Pending, q.Running, per)
	if a.MaxPendingAge > 0 && !q.OldestPending.IsZero() {
		if age := now.Sub(q.OldestPending); age > a.MaxPendingAge && want <= p.Points {
			want = p.Points + 1
			reason = fmt.Sprintf("oldest pending task waited %s (over %s)", age.Round(time.Second), a.MaxPendingAge)
		}
	}
	want = min(max(want, p.MinPoints), p.MaxPoints)
	if want == p.Points {
		return p.Points, ""
	}
	cooldown := a.Cooldown
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	if !p.ScaledAt.IsZero() && now.Sub(p.ScaledAt) < cooldown {
		return p.Points, ""
	}
	return want, reason
}

// Autoscale makes one pass over the pools with autoscaling on: it measures
// each one's queues and applies Decide, recording each change as an event
// by "autoscaler". It returns how many pools changed size.
func (s *Service) Autoscale(ctx context.Context) (int, error) {
	pools, err := s.store.PoolList(ctx, &store.PoolListParams{})
	if err != nil {
		return 0, err
	}
	changed := 0
	var errs []error
	for _, p := range pools {
		if !p.Autoscale.Enabled {
			continue
		}
		now := s.now()
		q, err := s.store.PoolQueueStats(ctx, &store.PoolQueueStatsParams{Queues: p.Worker.Queues, Now: s.storeNow()})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want, reason := Decide(p, *q, now)
		if want == p.Points {
			continue
		}
		if _, ok, err := s.scale(ctx, p, want, "autoscaler", reason); err != nil {
			errs = append(errs, err)
		} else if ok {
			changed++
		}
	}
	return changed, errors.Join(errs...)
}
