package dispatch_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// R7's policy: 5 attempts, backoff base 1 s doubling to a 30 s cap, full jitter.
const (
	poisonRetries = 4
	retryBase     = time.Second
	retryCap      = 30 * time.Second
	healthyRun    = 100 * time.Millisecond
	slotsEach     = 4 // two workers of four slots
)

// raceEnabled is set by race_test.go: the race detector slows the SQLite
// store tenfold, so the load is scaled down under it.
var raceEnabled bool

// TestRetryPolicyAndPoisonTasks is R7 (docs/guarantees.md) at the engine
// with the real SQLite store, in fake time (testing/synctest): tasks that
// always fail, mixed with healthy 100 ms tasks on two workers. It checks
// that each failing task is attempted exactly 5 times; that no retry is
// leased before the time its backoff set, and that backoff never exceeds
// min(cap, base·2^(n-1)); that the jittered delays spread evenly over that
// range (no synchronized waves: no tenth of the range holds more than twice
// its share); and that the healthy tasks' p99 queue wait is within 20 % of
// a run without the failing ones (no head-of-line blocking). 100 + 100
// tasks by default; DROVER_R7_TASKS=1000 is the full form (tier B).
func TestRetryPolicyAndPoisonTasks(t *testing.T) {
	t.Parallel()
	n := 100
	if raceEnabled {
		n = 30
	}
	if v, err := strconv.Atoi(os.Getenv("DROVER_R7_TASKS")); err == nil && v > 0 {
		n = v
	}
	dir := t.TempDir()
	var baseline, mixed retryRun
	synctest.Test(t, func(t *testing.T) { baseline = runRetryLoad(t, filepath.Join(dir, "baseline.db"), 0, n) })
	synctest.Test(t, func(t *testing.T) { mixed = runRetryLoad(t, filepath.Join(dir, "mixed.db"), n, n) })

	attempts := 0
	for id, leases := range mixed.leases {
		if !mixed.poison[id] {
			if len(leases) != 1 {
				t.Errorf("healthy task %s leased %d times, want 1", id, len(leases))
			}
			continue
		}
		attempts += len(leases)
		if len(leases) != poisonRetries+1 {
			t.Errorf("failing task %s attempted %d times, want %d", id, len(leases), poisonRetries+1)
		}
	}
	if attempts != n*(poisonRetries+1) {
		t.Errorf("failing tasks' attempts = %d, want %d exactly", attempts, n*(poisonRetries+1))
	}
	if mixed.early > 0 || mixed.overBound > 0 {
		t.Errorf("%d retries leased before their backoff ended, %d backoffs over min(cap, base·2^(n-1))", mixed.early, mixed.overBound)
	}

	// Full jitter: each delay over its bound is uniform in (0, 1]. At
	// least 40 delays a bucket keep twice the mean over 6 standard
	// deviations away for a uniform draw.
	buckets := make([]int, min(10, max(1, len(mixed.jitter)/40)))
	for _, f := range mixed.jitter {
		buckets[min(int(f*float64(len(buckets))), len(buckets)-1)]++
	}
	share := len(mixed.jitter) / len(buckets)
	if slices.Max(buckets) > 2*share {
		t.Errorf("retry delays by bucket of their range = %v, want none over %d (twice the mean): synchronized retries", buckets, 2*share)
	}

	base, with := p99(baseline.waits), p99(mixed.waits)
	t.Logf("%d failing + %d healthy tasks, 2 workers × %d slots: %d attempts of failing tasks; delays by bucket of range %v; "+
		"healthy p99 queue wait %v alone, %v with the failing tasks; busiest 1 s of retries %d, mean %.1f",
		n, n, slotsEach, attempts, buckets, base, with, mixed.busiestSecond(), mixed.meanPerSecond())
	if with > base+base/5 {
		t.Errorf("healthy tasks' p99 queue wait %v with failing tasks, %v without: over +20%%, head-of-line blocking", with, base)
	}
}

// retryRun is what one load observed.
type retryRun struct {
	leases    map[string][]time.Time // task id -> lease times
	poison    map[string]bool
	waits     []time.Duration // healthy tasks: submit to lease
	jitter    []float64       // failing tasks' retry delays over their bound
	early     int             // retries leased before their AvailableAt
	overBound int             // backoffs beyond their bound
	retries   []time.Time     // lease times of retries
}

func (r *retryRun) busiestSecond() int {
	most := 0
	for i, at := range r.retries {
		j := i
		for j < len(r.retries) && r.retries[j].Sub(at) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

func (r *retryRun) meanPerSecond() float64 {
	if len(r.retries) < 2 {
		return 0
	}
	span := r.retries[len(r.retries)-1].Sub(r.retries[0]).Seconds()
	return float64(len(r.retries)) / max(span, 1)
}

// runRetryLoad submits poison failing and healthy succeeding tasks, runs
// two simulated workers until every task has ended, and reports.
func runRetryLoad(t *testing.T, path string, poison, healthy int) retryRun {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := dispatch.New(st, dispatch.Options{Clock: time.Now,
		Config: dispatch.Config{RetryBackoff: retryBase, RetryBackoffCap: retryCap}})
	if err != nil {
		t.Fatal(err)
	}
	var workers []*domain.Worker
	for _, name := range []string{"w1", "w2"} {
		w := worker(name, "r7", "echo")
		w.Hostname, w.Concurrency = name, slotsEach
		if w, err = eng.Register(ctx, w, "", ""); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}

	run := retryRun{leases: map[string][]time.Time{}, poison: map[string]bool{}}
	var specs []*domain.Task
	for i := range max(poison, healthy) {
		if i < poison {
			specs = append(specs, &domain.Task{Type: "echo", Queue: "r7", Payload: json.RawMessage(`{"fail":true}`), MaxRetries: poisonRetries})
		}
		if i < healthy {
			specs = append(specs, &domain.Task{Type: "echo", Queue: "r7", Payload: json.RawMessage(`{}`), MaxRetries: 0})
		}
	}
	submitted := time.Now()
	subs, err := eng.Submit(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		run.poison[s.Task.ID] = string(s.Task.Payload) != `{}`
	}

	var (
		mu        sync.Mutex
		ended     int
		allEnded  = make(chan struct{})
		available = map[string]time.Time{}
		slots     sync.WaitGroup
	)
	for _, w := range workers {
		for range slotsEach {
			slots.Go(func() {
				for ctx.Err() == nil {
					got, err := eng.Lease(ctx, w, 1, 30*time.Second)
					if err != nil || len(got) == 0 {
						continue
					}
					task := got[0]
					now := time.Now()
					mu.Lock()
					run.leases[task.ID] = append(run.leases[task.ID], now)
					bad := run.poison[task.ID]
					if task.Attempt == 1 && !bad {
						run.waits = append(run.waits, now.Sub(submitted))
					}
					if task.Attempt > 1 {
						run.retries = append(run.retries, now)
						if now.Before(available[task.ID]) {
							run.early++
						}
					}
					mu.Unlock()
					if !bad {
						time.Sleep(healthyRun) // fake time: the bubble's clock
					}
					outs, err := eng.Finish(ctx, w.ID, []domain.AttemptResult{{Ref: domain.TaskRef{TaskID: task.ID, Epoch: task.LeaseEpoch},
						Succeeded: !bad, Result: &domain.Result{ExitCode: map[bool]int{true: 1}[bad]}}})
					if err != nil || len(outs) != 1 || outs[0].StaleLease {
						t.Errorf("Finish(%s) = %v, %v", task.ID, outs, err)
						continue
					}
					mu.Lock()
					if o := outs[0]; o.State == domain.TaskPending {
						at := time.Now()
						delay := o.Task.AvailableAt.Sub(at)
						bound := min(retryCap, retryBase<<(task.Attempt-1))
						// The store keeps microseconds: AvailableAt may be up to 1 µs early.
						if delay <= -time.Microsecond || delay > bound {
							run.overBound++
						}
						run.jitter = append(run.jitter, float64(max(delay, 0))/float64(bound))
						available[task.ID] = o.Task.AvailableAt
					} else if ended++; ended == len(subs) {
						close(allEnded)
					}
					mu.Unlock()
				}
			})
		}
	}
	<-allEnded
	cancel()
	slots.Wait()
	slices.SortFunc(run.retries, func(a, b time.Time) int { return a.Compare(b) })
	return run
}

// p99 is the 99th percentile of ds (nearest rank).
func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*99+99)/100-1)]
}
