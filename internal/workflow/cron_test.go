package workflow_test

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/maintenance"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/sqlite"
	"github.com/drover-run/drover/internal/workflow"
)

// cronBundle is an engine over a fresh SQLite store and its cron service,
// inside a synctest bubble: time only moves when every goroutine waits.
type cronBundle struct {
	t    *testing.T
	st   store.Store
	e    *workflow.Engine
	stop context.CancelFunc
	done chan struct{}
}

func newCronBundle(t *testing.T, catchUp ...time.Duration) *cronBundle {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cron.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := workflow.Options{Store: st}
	if len(catchUp) > 0 {
		opts.CatchUp = catchUp[0]
	}
	b := &cronBundle{t: t, st: st, e: workflow.New(opts)}
	t.Cleanup(func() {
		b.stopCron()
		st.Close()
	})
	return b
}

func (b *cronBundle) startCron() {
	ctx, cancel := context.WithCancel(context.Background())
	b.stop, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		(&maintenance.Cron{Engine: b.e}).Run(ctx)
	}()
}

func (b *cronBundle) stopCron() {
	if b.stop != nil {
		b.stop()
		<-b.done
		b.stop = nil
	}
}

// sleepUntil moves the fake clock to at.
func sleepUntil(at time.Time) {
	time.Sleep(time.Until(at))
	synctest.Wait()
}

func (b *cronBundle) workflow(schedule, tz, overlap string) *domain.Workflow {
	b.t.Helper()
	w, err := b.e.Create(context.Background(), domain.Actor{}, &domain.Workflow{Name: schedule + tz + overlap, Schedule: schedule, Timezone: tz, Overlap: overlap,
		Steps: []domain.Step{{Name: "s", TaskType: "echo"}}})
	if err != nil {
		b.t.Fatal(err)
	}
	return w
}

// ticks are the ticks of a workflow's runs, oldest first, in UTC. Runs
// made more than maxLag after their tick are errors.
func (b *cronBundle) ticks(w *domain.Workflow, maxLag time.Duration) []time.Time {
	b.t.Helper()
	runs, err := b.st.RunList(context.Background(), &store.RunListParams{WorkflowID: w.ID})
	if err != nil {
		b.t.Fatal(err)
	}
	var out []time.Time
	for i := len(runs) - 1; i >= 0; i-- {
		if lag := runs[i].CreatedAt.Sub(runs[i].Tick); lag < 0 || lag > maxLag {
			b.t.Errorf("run %d of tick %v made %v after it", runs[i].ID, runs[i].Tick, lag)
		}
		out = append(out, runs[i].Tick.UTC())
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func wantTicks(t *testing.T, name string, got []time.Time, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: fired %d times %v, want %v", name, len(got), got, want)
	}
	for i := range want {
		if !got[i].Equal(utc(want[i])) {
			t.Errorf("%s: tick %d at %v, want %s", name, i, got[i], want[i])
		}
	}
}

func TestCronExactTimesAndDST(t *testing.T) {
	tests := []struct {
		name, schedule, tz string
		from, to           string
		want               []string
	}{
		{"every five minutes", "*/5 * * * *", "", "2026-06-01T10:01:00Z", "2026-06-01T10:31:00Z",
			[]string{"2026-06-01T10:05:00Z", "2026-06-01T10:10:00Z", "2026-06-01T10:15:00Z", "2026-06-01T10:20:00Z", "2026-06-01T10:25:00Z", "2026-06-01T10:30:00Z"}},
		// 2026-03-08: New York springs from 02:00 EST to 03:00 EDT; 02:30 does not exist: it runs once, at 03:30 EDT.
		{"New York spring forward", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-10T12:00:00Z",
			[]string{"2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}},
		// 2026-11-01: New York falls back from 02:00 EDT to 01:00 EST; 01:30 happens twice and runs once.
		{"New York fall back", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		// 2026-03-29: Berlin springs from 02:00 CET to 03:00 CEST.
		{"Berlin spring forward", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"}},
		// 2026-10-25: Berlin falls back from 03:00 CEST to 02:00 CET; 02:30 happens twice and runs once.
		{"Berlin fall back", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sleepUntil(utc(tc.from))
				b := newCronBundle(t)
				w := b.workflow(tc.schedule, tc.tz, domain.OverlapAllow)
				b.startCron()
				sleepUntil(utc(tc.to))
				b.stopCron()
				wantTicks(t, tc.name, b.ticks(w, 0), tc.want...)
			})
		})
	}
}

func TestCronOverlapSkip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(utc("2026-06-01T10:00:30Z"))
		b := newCronBundle(t)
		w := b.workflow("* * * * *", "", "") // skip by default; nothing advances its run
		b.startCron()
		sleepUntil(utc("2026-06-01T10:05:30Z"))
		b.stopCron()
		wantTicks(t, "overlap skip", b.ticks(w, 0), "2026-06-01T10:01:00Z")
		got, _ := b.st.WorkflowGet(context.Background(), w.ID)
		if !got.NextFireAt.Equal(utc("2026-06-01T10:06:00Z")) {
			t.Errorf("next tick %v: skipped ticks must still move the schedule on", got.NextFireAt)
		}
	})
}

func TestCronCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(utc("2026-06-01T10:00:30Z"))
		b := newCronBundle(t)
		w := b.workflow("*/5 * * * *", "", domain.OverlapAllow)
		b.startCron()
		sleepUntil(utc("2026-06-01T10:06:00Z"))
		b.stopCron() // down across 10:10 … 10:30: within the 1 h window
		sleepUntil(utc("2026-06-01T10:33:00Z"))
		b.startCron()
		sleepUntil(utc("2026-06-01T10:34:00Z"))
		b.stopCron() // down for 3 h: only the latest missed tick (3 min late) fires
		sleepUntil(utc("2026-06-01T13:33:00Z"))
		b.startCron()
		sleepUntil(utc("2026-06-01T13:36:00Z"))
		b.stopCron()
		wantTicks(t, "catch-up", b.ticks(w, 3*time.Minute),
			"2026-06-01T10:05:00Z", "2026-06-01T10:30:00Z", "2026-06-01T13:30:00Z", "2026-06-01T13:35:00Z")
	})
}

func TestCronMissedBeyondWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sleepUntil(utc("2026-06-01T10:00:30Z"))
		b := newCronBundle(t, 2*time.Minute)
		w := b.workflow("*/5 * * * *", "", domain.OverlapAllow)
		b.startCron()
		sleepUntil(utc("2026-06-01T10:06:00Z"))
		b.stopCron() // down until 3 min after the 10:30 tick: later than the 2 min window
		sleepUntil(utc("2026-06-01T10:33:00Z"))
		b.startCron()
		sleepUntil(utc("2026-06-01T10:36:00Z"))
		b.stopCron()
		wantTicks(t, "beyond the window", b.ticks(w, 0), "2026-06-01T10:05:00Z", "2026-06-01T10:35:00Z")
	})
}
