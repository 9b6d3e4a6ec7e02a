package scale_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/scale"
	"github.com/drover-run/drover/internal/store"
)

func autoPool(points int, scaledAt time.Time) *domain.Pool {
	return &domain.Pool{Points: points, MinPoints: 1, MaxPoints: 5, ScaledAt: scaledAt,
		Worker:    domain.WorkerTemplate{Concurrency: 2},
		Autoscale: domain.Autoscale{Enabled: true, TasksPerWorker: 4, MaxPendingAge: 30 * time.Second, Cooldown: time.Minute}}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	long := now.Add(-time.Hour) // scaled long ago: no cooldown
	for _, tc := range []struct {
		name string
		pool *domain.Pool
		q    store.PoolQueueStats
		want int
	}{
		{"off", func() *domain.Pool { p := autoPool(2, long); p.Autoscale.Enabled = false; return p }(), store.PoolQueueStats{Pending: 100}, 2},
		{"backlog sized", autoPool(1, long), store.PoolQueueStats{Pending: 9, Running: 3}, 3},
		{"held at max", autoPool(1, long), store.PoolQueueStats{Pending: 1000}, 5},
		{"idle shrinks to min", autoPool(4, long), store.PoolQueueStats{}, 1},
		{"at size", autoPool(2, long), store.PoolQueueStats{Pending: 5, Running: 3}, 2},
		{"old task adds one", autoPool(2, long), store.PoolQueueStats{Pending: 1, OldestPending: now.Add(-31 * time.Second)}, 3},
		{"young task adds none", autoPool(2, long), store.PoolQueueStats{Pending: 1, OldestPending: now.Add(-29 * time.Second)}, 1},
		{"old task at max", autoPool(5, long), store.PoolQueueStats{Pending: 1, OldestPending: now.Add(-time.Hour)}, 5},
		{"cooldown holds", autoPool(1, now.Add(-59*time.Second)), store.PoolQueueStats{Pending: 100}, 1},
		{"cooldown over", autoPool(1, now.Add(-60*time.Second)), store.PoolQueueStats{Pending: 100}, 5},
		{"per worker from concurrency", func() *domain.Pool { p := autoPool(1, long); p.Autoscale.TasksPerWorker = 0; return p }(), store.PoolQueueStats{Pending: 7}, 4},
	} {
		if got, _ := scale.Decide(tc.pool, tc.q, now); got != tc.want {
			t.Errorf("%s: Decide(points %d, %+v) = %d, want %d", tc.name, tc.pool.Points, tc.q, got, tc.want)
		}
	}
}

// TestDecideUnderChangingLoad runs the decision every 5 s of fake time for
// ten minutes while the load rises and falls: the pool stays within its
// bounds, never changes twice within the cooldown, follows the load up,
// and is back at its minimum when the load is gone.
func TestDecideUnderChangingLoad(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := autoPool(1, start)
		load := func(elapsed time.Duration) int { // tasks waiting or running
			switch {
			case elapsed < 2*time.Minute:
				return 2
			case elapsed < 5*time.Minute:
				return 40 // asks for 10: held at 5
			case elapsed < 6*time.Minute:
				return 12
			}
			return 0
		}
		var changes []time.Time
		peak := 0
		for time.Since(start) < 10*time.Minute {
			time.Sleep(5 * time.Second)
			now := time.Now()
			want, reason := scale.Decide(p, store.PoolQueueStats{Pending: load(now.Sub(start))}, now)
			if want != p.Points {
				if want < p.MinPoints || want > p.MaxPoints {
					t.Fatalf("at %s Decide gave %d, outside %d..%d", now.Sub(start), want, p.MinPoints, p.MaxPoints)
				}
				if n := len(changes); n > 0 && now.Sub(changes[n-1]) < p.Autoscale.Cooldown {
					t.Fatalf("at %s a change %s after the last one, within the cooldown", now.Sub(start), now.Sub(changes[n-1]))
				}
				if reason == "" {
					t.Errorf("a change without a reason")
				}
				changes = append(changes, now)
				p.Points, p.ScaledAt = want, now
				peak = max(peak, want)
			}
		}
		if peak != 5 {
			t.Errorf("peak size %d under a load asking for 10, want the maximum 5", peak)
		}
		if p.Points != 1 {
			t.Errorf("size %d once the load is gone, want the minimum 1", p.Points)
		}
	})
}
