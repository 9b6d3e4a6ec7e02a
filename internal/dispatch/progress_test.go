package dispatch_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store/sqlite"
)

func TestCheckProgress(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", dispatch.MaxProgressMessage) // two bytes each
	tests := []struct {
		in      domain.Progress
		wantErr bool
		wantMsg string
	}{
		{domain.Progress{TaskID: "t", Epoch: 1, Fraction: 0.4, Message: " copying\nfiles\x07 "}, false, "copying files"},
		{domain.Progress{TaskID: "t", Epoch: 1, Fraction: 0}, false, ""},
		{domain.Progress{TaskID: "t", Epoch: 1, Fraction: 1, Message: long}, false, long[:dispatch.MaxProgressMessage]},
		{domain.Progress{TaskID: "t", Epoch: 1, Fraction: 1.01}, true, ""},
		{domain.Progress{TaskID: "t", Epoch: 1, Fraction: -0.1}, true, ""},
		{domain.Progress{TaskID: "t", Epoch: 1, Fraction: math.NaN()}, true, ""},
		{domain.Progress{TaskID: "", Epoch: 1, Fraction: 0.5}, true, ""},
		{domain.Progress{TaskID: "t", Epoch: 0, Fraction: 0.5}, true, ""},
	}
	for _, tc := range tests {
		p := tc.in
		err := dispatch.CheckProgress(&p)
		if (err != nil) != tc.wantErr {
			t.Errorf("CheckProgress(%+v) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil && domain.CodeOf(err) != domain.CodeValidation {
			t.Errorf("CheckProgress(%+v) code = %s, want %s", tc.in, domain.CodeOf(err), domain.CodeValidation)
		}
		if err == nil && p.Message != tc.wantMsg {
			t.Errorf("CheckProgress(%+v) message = %q, want %q", tc.in, p.Message, tc.wantMsg)
		}
	}
}

// TestReportProgress drives the engine over SQLite with a test clock: a
// report is stored under its lease, a second one sooner than the interval
// is throttled, a report of another lease is stale, the hook sees what was
// stored, and the task shows its current attempt's progress only.
func TestReportProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var (
		mu    sync.Mutex
		clock = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		seen  []dispatch.ProgressReport
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	step := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	eng, err := dispatch.New(st, dispatch.Options{Clock: now, Hooks: dispatch.Hooks{
		TaskProgress: func(r *dispatch.ProgressReport) { seen = append(seen, *r) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := eng.Register(ctx, &domain.Worker{Name: "w1", Hostname: "w1", Concurrency: 1, TaskTypes: []string{"echo"},
		Queues: []string{domain.DefaultQueue}, Resources: domain.Resources{CPUCores: 1, MemoryTotalGB: 1}}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := eng.SubmitRequests(ctx, domain.Actor{}, []dispatch.TaskRequest{{Type: "echo", Payload: []byte(`{"message":"x"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	leased, err := eng.Lease(ctx, w, 1, 0)
	if err != nil || len(leased) != 1 {
		t.Fatalf("Lease() = %v, %v; want one task", leased, err)
	}
	task := leased[0]
	report := func(epoch int64, f float64, msg string) dispatch.ProgressOutcome {
		t.Helper()
		out, err := eng.ReportProgress(ctx, w.ID, []domain.Progress{{TaskID: task.ID, Epoch: epoch, Fraction: f, Message: msg, Time: now()}})
		if err != nil {
			t.Fatalf("ReportProgress() error = %v", err)
		}
		return out[0]
	}
	if got := report(task.LeaseEpoch, 0.25, "a quarter"); got != dispatch.ProgressKept {
		t.Errorf("first report = %s, want %s", got, dispatch.ProgressKept)
	}
	// A burst of two, then one per interval.
	if got := report(task.LeaseEpoch, 0.3, "at once"); got != dispatch.ProgressKept {
		t.Errorf("second report at once = %s, want %s", got, dispatch.ProgressKept)
	}
	step(dispatch.ProgressInterval / 2)
	if got := report(task.LeaseEpoch, 0.35, "too soon"); got != dispatch.ProgressThrottled {
		t.Errorf("third report after half the interval = %s, want %s", got, dispatch.ProgressThrottled)
	}
	step(dispatch.ProgressInterval)
	if got := report(task.LeaseEpoch+1, 0.9, "not my lease"); got != dispatch.ProgressStale {
		t.Errorf("report under another epoch = %s, want %s", got, dispatch.ProgressStale)
	}
	step(dispatch.ProgressInterval)
	if got := report(task.LeaseEpoch, 0.5, "half"); got != dispatch.ProgressKept {
		t.Errorf("report after the interval = %s, want %s", got, dispatch.ProgressKept)
	}
	if len(seen) != 3 || seen[2].Message != "half" || seen[2].WorkerID != w.ID {
		t.Errorf("TaskProgress hook saw %+v, want the three kept reports", seen)
	}
	cur, err := eng.Task(ctx, sub[0].Task.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.TaskProgress(ctx, cur)
	if err != nil || p == nil || p.Fraction != 0.5 || p.Message != "half" {
		t.Errorf("TaskProgress() = %+v, %v; want 0.5 \"half\"", p, err)
	}
	if _, err := eng.ReportProgress(ctx, w.ID, []domain.Progress{{TaskID: task.ID, Epoch: task.LeaseEpoch, Fraction: 2}}); domain.CodeOf(err) != domain.CodeValidation {
		t.Errorf("ReportProgress(fraction 2) error = %v, want %s", err, domain.CodeValidation)
	}
}
