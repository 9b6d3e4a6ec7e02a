package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var observeTests = []test{
	{"EventAppendOrder", testEventAppendOrder},
	{"EventFilters", testEventFilters},
	{"EventPruneKeepsIDs", testEventPruneKeepsIDs},
	{"EventManyAppends", testEventManyAppends},
	{"MetricMerge", testMetricMerge},
	{"TaskStatGroups", testTaskStatGroups},
	{"QueueStats", testQueueStats},
}

func (b *bundle) events(t *testing.T, es ...domain.Event) []domain.Event {
	t.Helper()
	if err := b.s.EventAppend(b.ctx, es); err != nil {
		t.Fatalf("EventAppend() error = %v", err)
	}
	return es
}

func (b *bundle) eventIDs(t *testing.T, p store.EventListParams) []int64 {
	t.Helper()
	es, err := b.s.EventList(b.ctx, &p)
	if err != nil {
		t.Fatalf("EventList(%+v) error = %v", p, err)
	}
	ids := []int64{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func ev(typ string, level domain.Level, device string, at time.Time) domain.Event {
	return domain.Event{Type: typ, Level: level, Component: "scheduler", DeviceID: device, Time: at,
		Message: typ + " on " + device, Data: json.RawMessage(`{"k":1}`)}
}

// Ids grow across calls and within one, in input order; what is read back
// is what was written.
func testEventAppendOrder(t *testing.T, b *bundle) {
	if id, err := b.s.EventLastID(b.ctx); err != nil || id != 0 {
		t.Fatalf("EventLastID() on an empty log = %d, %v; want 0", id, err)
	}
	first := b.events(t, ev("task_submitted", domain.LevelInfo, "a", b.now), ev("task_started", domain.LevelInfo, "a", b.now))
	second := b.events(t, ev("task_completed", domain.LevelInfo, "a", b.now))
	if !(first[0].ID > 0 && first[1].ID > first[0].ID && second[0].ID > first[1].ID) {
		t.Fatalf("ids = %d, %d, %d; want increasing", first[0].ID, first[1].ID, second[0].ID)
	}
	got, err := b.s.EventList(b.ctx, &store.EventListParams{})
	if err != nil {
		t.Fatal(err)
	}
	want := append(first, second...)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b json.RawMessage) bool {
		var x, y any
		return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
	})); diff != "" {
		t.Errorf("EventList() mismatch (-want +got):\n%s", diff)
	}
	if id, _ := b.s.EventLastID(b.ctx); id != second[0].ID {
		t.Errorf("EventLastID() = %d, want %d", id, second[0].ID)
	}
}

func testEventFilters(t *testing.T, b *bundle) {
	es := b.events(t,
		ev("device_update", domain.LevelDebug, "a", b.now),
		ev("task_failed", domain.LevelError, "b", b.now.Add(time.Minute)),
		ev("log_entry", domain.LevelWarning, "", b.now.Add(2*time.Minute)),
		ev("task_completed", domain.LevelInfo, "a", b.now.Add(3*time.Minute)),
	)
	es[2].Component = "server"
	id := func(i ...int) []int64 {
		out := []int64{}
		for _, k := range i {
			out = append(out, es[k].ID)
		}
		return out
	}
	tests := []struct {
		name string
		p    store.EventListParams
		want []int64
	}{
		{"all", store.EventListParams{}, id(0, 1, 2, 3)},
		{"descending", store.EventListParams{Descending: true}, id(3, 2, 1, 0)},
		{"min level", store.EventListParams{MinLevel: domain.LevelWarning}, id(1, 2)},
		{"types", store.EventListParams{Types: []string{"task_failed", "task_completed"}}, id(1, 3)},
		{"device", store.EventListParams{DeviceID: "a"}, id(0, 3)},
		{"since", store.EventListParams{Since: b.now.Add(2 * time.Minute)}, id(2, 3)},
		{"after and limit", store.EventListParams{AfterID: es[0].ID, Limit: 2}, id(1, 2)},
		{"before, descending", store.EventListParams{BeforeID: es[3].ID, Descending: true, Limit: 2}, id(2, 1)},
	}
	for _, tc := range tests {
		if got := b.eventIDs(t, tc.p); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: EventList(%+v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
	if n, err := b.s.EventCount(b.ctx, &store.EventListParams{DeviceID: "a", AfterID: es[3].ID}); err != nil || n != 2 {
		t.Errorf("EventCount(device a) = %d, %v; want 2 (ids are ignored)", n, err)
	}
}

// Pruning removes old events but never lowers the last id: a new event
// gets a larger id than any before it.
func testEventPruneKeepsIDs(t *testing.T, b *bundle) {
	var es []domain.Event
	for i := range 5 {
		es = append(es, ev("task_started", domain.LevelInfo, "a", b.now.Add(time.Duration(i)*time.Hour)))
	}
	b.events(t, es...)
	n, err := b.s.EventPrune(b.ctx, &store.EventPruneParams{Before: b.now.Add(2 * time.Hour)})
	if err != nil || n != 2 {
		t.Fatalf("EventPrune(before) = %d, %v; want 2", n, err)
	}
	n, err = b.s.EventPrune(b.ctx, &store.EventPruneParams{MaxEvents: 2})
	if err != nil || n != 1 {
		t.Fatalf("EventPrune(max 2) = %d, %v; want 1", n, err)
	}
	if got := b.eventIDs(t, store.EventListParams{}); !cmp.Equal(got, []int64{es[3].ID, es[4].ID}) {
		t.Errorf("after pruning: %v, want %v", got, []int64{es[3].ID, es[4].ID})
	}
	b.s.EventPrune(b.ctx, &store.EventPruneParams{MaxEvents: 0, Before: b.now.Add(24 * time.Hour)})
	if id, _ := b.s.EventLastID(b.ctx); id != es[4].ID {
		t.Errorf("EventLastID() after pruning all = %d, want %d", id, es[4].ID)
	}
	next := b.events(t, ev("task_completed", domain.LevelInfo, "a", b.now))
	if next[0].ID <= es[4].ID {
		t.Errorf("id after pruning = %d, want > %d", next[0].ID, es[4].ID)
	}
}

// Many appends of several events each read back as one log: in order both
// ways, across any page boundary the store reads in, with every filter,
// and pruning by count cuts between the events of one append.
func testEventManyAppends(t *testing.T, b *bundle) {
	var all []int64
	for i := range 50 {
		device := []string{"a", "b"}[i%2]
		es := b.events(t, ev("task_submitted", domain.LevelInfo, device, b.now),
			ev("task_started", domain.LevelInfo, device, b.now), ev("task_completed", domain.LevelInfo, device, b.now))
		for _, e := range es {
			all = append(all, e.ID)
		}
	}
	if got := b.eventIDs(t, store.EventListParams{}); !cmp.Equal(got, all) {
		t.Fatalf("EventList() = %v, want %v", got, all)
	}
	desc := slices.Clone(all)
	slices.Reverse(desc)
	if got := b.eventIDs(t, store.EventListParams{Descending: true, BeforeID: all[100], Limit: 70}); !cmp.Equal(got, desc[50:120]) {
		t.Errorf("EventList(descending, before %d, 70) = %v, want %v", all[100], got, desc[50:120])
	}
	if got := b.eventIDs(t, store.EventListParams{AfterID: all[4], Limit: 3}); !cmp.Equal(got, all[5:8]) {
		t.Errorf("EventList(after %d, 3) = %v, want %v", all[4], got, all[5:8])
	}
	var bStarted []int64
	for i := 1; i < 50; i += 2 {
		bStarted = append(bStarted, all[3*i+1])
	}
	p := store.EventListParams{DeviceID: "b", Types: []string{"task_started"}}
	if got := b.eventIDs(t, p); !cmp.Equal(got, bStarted) {
		t.Errorf("EventList(device b, started) = %v, want %v", got, bStarted)
	}
	if n, err := b.s.EventCount(b.ctx, &p); err != nil || n != 25 {
		t.Errorf("EventCount(device b, started) = %d, %v; want 25", n, err)
	}
	n, err := b.s.EventPrune(b.ctx, &store.EventPruneParams{MaxEvents: 100})
	if err != nil || n != 50 {
		t.Fatalf("EventPrune(max 100) = %d, %v; want 50", n, err)
	}
	if got := b.eventIDs(t, store.EventListParams{}); !cmp.Equal(got, all[50:]) {
		t.Errorf("after pruning to 100: %v, want %v", got, all[50:])
	}
}

// Recording into an existing bucket merges: sums add, maxima keep the larger.
func testMetricMerge(t *testing.T, b *bundle) {
	hour := b.now.Truncate(time.Hour)
	s := func(worker string, bucket time.Time, cpu float64) store.MetricSample {
		return store.MetricSample{WorkerID: worker, Bucket: bucket, Width: store.MetricHour, N: 1, CPUSum: cpu, CPUMax: cpu,
			MemSum: 10, MemMax: 10, DiskSum: 1, DiskMax: 1, ActiveSum: 2, UpSeconds: 5, CPUCores: 4, MemoryTotalGB: 8}
	}
	for _, batch := range [][]store.MetricSample{
		{s("a", hour, 20), s("b", hour, 50)},
		{s("a", hour, 60), s("a", hour.Add(time.Hour), 30)},
		{s("a", hour.Add(-48*time.Hour), 99)},
	} {
		if err := b.s.MetricRecord(b.ctx, batch); err != nil {
			t.Fatalf("MetricRecord() error = %v", err)
		}
	}
	got, err := b.s.MetricList(b.ctx, &store.MetricListParams{WorkerID: "a", Width: store.MetricHour, Since: hour})
	if err != nil {
		t.Fatal(err)
	}
	merged := s("a", hour, 0)
	merged.N, merged.CPUSum, merged.CPUMax, merged.MemSum, merged.DiskSum, merged.ActiveSum, merged.UpSeconds = 2, 80, 60, 20, 2, 4, 10
	want := []store.MetricSample{merged, s("a", hour.Add(time.Hour), 30)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MetricList() mismatch (-want +got):\n%s", diff)
	}
	sum, err := b.s.MetricSummary(b.ctx, &store.MetricSummaryParams{Width: store.MetricHour, Since: hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 2 || sum[0].WorkerID != "a" || sum[0].N != 3 || sum[0].CPUSum != 110 || sum[0].CPUMax != 60 || sum[1].WorkerID != "b" || sum[1].N != 1 {
		t.Errorf("MetricSummary() = %+v", sum)
	}
	if err := b.s.MetricPrune(b.ctx, &store.MetricPruneParams{Width: store.MetricHour, Before: hour}); err != nil {
		t.Fatal(err)
	}
	old, _ := b.s.MetricList(b.ctx, &store.MetricListParams{WorkerID: "a", Width: store.MetricHour, Since: hour.Add(-72 * time.Hour)})
	if len(old) != 2 {
		t.Errorf("after MetricPrune, %d buckets of a, want 2 (the old one gone)", len(old))
	}
}

func testTaskStatGroups(t *testing.T, b *bundle) {
	hour := b.now.Truncate(time.Hour)
	st := func(bucket time.Time, device, typ string, ok, failed, cancelled int64) store.TaskStat {
		return store.TaskStat{Bucket: bucket, Width: store.MetricHour, DeviceID: device, TaskType: typ,
			Completed: ok, Failed: failed, Cancelled: cancelled, DurationSum: float64(ok + failed), DurationN: ok + failed}
	}
	for _, batch := range [][]store.TaskStat{
		{st(hour, "a", "echo", 2, 1, 0), st(hour, "b", "echo", 1, 0, 0)},
		{st(hour, "a", "echo", 1, 0, 0), st(hour.Add(time.Hour), "a", "sleep", 0, 0, 3), st(hour, "", "echo", 0, 0, 1)},
	} {
		if err := b.s.TaskStatRecord(b.ctx, batch); err != nil {
			t.Fatalf("TaskStatRecord() error = %v", err)
		}
	}
	sum := func(p store.TaskStatSummaryParams) string {
		t.Helper()
		p.Width, p.Since = store.MetricHour, hour
		got, err := b.s.TaskStatSummary(b.ctx, &p)
		if err != nil {
			t.Fatalf("TaskStatSummary(%+v) error = %v", p, err)
		}
		out := ""
		for _, s := range got {
			key := s.DeviceID + s.TaskType
			if p.GroupBy == store.GroupHour {
				key = fmt.Sprint(s.Bucket.Sub(hour))
			}
			out += fmt.Sprintf("[%s %d/%d/%d %g]", key, s.Completed, s.Failed, s.Cancelled, s.DurationSum)
		}
		return out
	}
	for _, tc := range []struct {
		p    store.TaskStatSummaryParams
		want string
	}{
		{store.TaskStatSummaryParams{}, "[ 4/1/4 5]"},
		{store.TaskStatSummaryParams{GroupBy: store.GroupDevice}, "[ 0/0/1 0][a 3/1/3 4][b 1/0/0 1]"},
		{store.TaskStatSummaryParams{GroupBy: store.GroupTaskType}, "[echo 4/1/1 5][sleep 0/0/3 0]"},
		{store.TaskStatSummaryParams{GroupBy: store.GroupHour}, "[0s 4/1/1 5][1h0m0s 0/0/3 0]"},
		{store.TaskStatSummaryParams{GroupBy: store.GroupHour, DeviceID: "a"}, "[0s 3/1/0 4][1h0m0s 0/0/3 0]"},
	} {
		if got := sum(tc.p); got != tc.want {
			t.Errorf("TaskStatSummary(%+v) = %s, want %s", tc.p, got, tc.want)
		}
	}
}

func testQueueStats(t *testing.T, b *bundle) {
	tasks := b.insert(t, b.newTask(), b.newTask(), b.newTask(func(t *domain.Task) { t.Queue = "other" }))
	got, err := b.s.TaskQueueStats(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.QueueStat{
		{Queue: domain.DefaultQueue, State: domain.TaskPending, Count: 2, OldestPending: tasks[0].AvailableAt},
		{Queue: "other", State: domain.TaskPending, Count: 1, OldestPending: tasks[2].AvailableAt},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TaskQueueStats() mismatch (-want +got):\n%s", diff)
	}
}
