package maintenance_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/maintenance"
	"github.com/drover-run/drover/internal/store"
)

// sweepStore records when the reaper sweeps. It implements only the calls
// a sweep makes; any other call panics on the nil embedded Store.
type sweepStore struct {
	store.Store
	mu     sync.Mutex
	sweeps []time.Duration // since the bubble's start
	start  time.Time
}

func (s *sweepStore) TaskRescueExpired(context.Context, *store.TaskRescueExpiredParams) ([]*domain.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweeps = append(s.sweeps, time.Since(s.start))
	return nil, nil
}

func (s *sweepStore) WorkerMarkOffline(context.Context, *store.WorkerMarkOfflineParams) ([]*domain.Worker, error) {
	return nil, nil
}

// taken returns and forgets the sweeps so far.
func (s *sweepStore) taken() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sweeps
	s.sweeps = nil
	return out
}

type switchLeader struct{ on atomic.Bool }

func (l *switchLeader) IsLeader() bool { return l.on.Load() }

const (
	reaperTTL  = 4 * time.Second
	reaperTick = time.Second
)

// runReaper runs the reaper under a manager that looks at the leadership
// every tick, in the bubble over a recording store; it stops when the test
// ends.
func runReaper(t *testing.T, leader maintenance.Leader, poll time.Duration) *sweepStore {
	t.Helper()
	st := &sweepStore{start: time.Now()}
	eng, err := dispatch.New(st, dispatch.Options{Config: dispatch.Config{HeartbeatInterval: time.Second, LeaseTTL: reaperTTL, ReaperInterval: reaperTick}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m := maintenance.NewManager(nil, &maintenance.Reaper{Engine: eng, Log: slog.New(slog.DiscardHandler)})
		m.Poll = poll
		m.Run(ctx, leader)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return st
}

func wantSweeps(t *testing.T, when string, got []time.Duration, want ...time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: sweeps at %v, want at %v", when, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: sweeps at %v, want at %v", when, got, want)
		}
	}
}

// TestReaperWaitsOneTTLAfterStart: a lone server (no elector) sweeps
// only once it has run for one lease TTL, then every tick.
func TestReaperWaitsOneTTLAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := runReaper(t, nil, reaperTick)
		time.Sleep(reaperTTL + 2*reaperTick + time.Millisecond)
		synctest.Wait()
		wantSweeps(t, "from start", st.taken(), reaperTTL, reaperTTL+reaperTick, reaperTTL+2*reaperTick)
	})
}

// TestReaperFailoverGrace: a follower never sweeps; one that becomes
// leader waits one lease TTL before its first sweep (docs/guarantees.md,
// "failover grace"), stops once the manager sees it lost leadership, and
// waits again when it wins it back. The manager looks at the leadership
// every half tick (0.5 s, 1 s, …).
func TestReaperFailoverGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &switchLeader{}
		st := runReaper(t, l, reaperTick/2)
		until := func(d time.Duration) {
			time.Sleep(d - time.Since(st.start))
			synctest.Wait()
		}
		until(10 * time.Second)
		wantSweeps(t, "as a follower", st.taken())

		l.on.Store(true) // just after the look at 10s: seen at 10.5s
		until(15*time.Second + time.Millisecond)
		wantSweeps(t, "elected, seen at 10.5s", st.taken(), 14500*time.Millisecond)
		until(17*time.Second + 750*time.Millisecond)
		wantSweeps(t, "leading", st.taken(), 15500*time.Millisecond, 16500*time.Millisecond, 17500*time.Millisecond)

		l.on.Store(false) // seen at 18s, before the sweep due at 18.5s
		until(27*time.Second + 750*time.Millisecond)
		wantSweeps(t, "deposed at 17.75s", st.taken())

		l.on.Store(true) // seen at 28s
		until(32*time.Second + time.Millisecond)
		wantSweeps(t, "re-elected, seen at 28s", st.taken(), 32*time.Second)
	})
}
