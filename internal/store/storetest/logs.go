package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var logTests = []test{
	{"AppendList", testLogAppendList},
	{"AfterSeqAndLimit", testLogAfterSeqAndLimit},
	{"Tail", testLogTail},
	{"UnknownTask", testLogUnknownTask},
	{"FenceZombie", testLogFenceZombie},
	{"FenceOwnerAndState", testLogFenceOwnerAndState},
}

func line(taskID, msg string, at time.Time) domain.LogLine {
	return domain.LogLine{TaskID: taskID, Time: at, Stream: "stdout", Level: "info", Message: msg}
}

func (b *bundle) logList(t *testing.T, p store.LogListParams) []domain.LogLine {
	t.Helper()
	got, err := b.s.LogList(b.ctx, &p)
	if err != nil {
		t.Fatalf("LogList(%+v) error = %v", p, err)
	}
	return got
}

// logAppend appends lines from worker as written under epoch each (one
// epoch for all when only one is given), returning how many were kept.
func (b *bundle) logAppend(t *testing.T, worker string, lines []domain.LogLine, epochs ...int64) int {
	t.Helper()
	if len(epochs) == 1 {
		for len(epochs) < len(lines) {
			epochs = append(epochs, epochs[0])
		}
	}
	kept, err := b.s.LogAppend(b.ctx, &store.LogAppendParams{WorkerID: worker, Lines: lines, Epochs: epochs})
	if err != nil {
		t.Fatalf("LogAppend(%s) error = %v", worker, err)
	}
	return kept
}

// running inserts n tasks and leases them all to a new worker w1.
func (b *bundle) running(t *testing.T, n int) []*domain.Task {
	t.Helper()
	b.insertN(t, n)
	w := b.register(t, "w1")
	got := b.lease(t, w, n)
	if len(got) != n {
		t.Fatalf("TaskLease(max %d) leased %d", n, len(got))
	}
	slices.SortFunc(got, func(x, y *domain.Task) int { return strings.Compare(x.ID, y.ID) })
	return got
}

func messages(lines []domain.LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Message)
	}
	return out
}

func testLogAppendList(t *testing.T, b *bundle) {
	tasks := b.running(t, 2)
	a, c := tasks[0].ID, tasks[1].ID
	// Two calls, interleaving tasks: each task's lines count on from its own last.
	if kept := b.logAppend(t, "w1", []domain.LogLine{line(a, "a1", b.now), line(c, "c1", b.now), line(a, "a2", b.now)}, 1); kept != 3 {
		t.Errorf("LogAppend() kept %d lines, want 3", kept)
	}
	b.step(time.Second)
	errLine := domain.LogLine{TaskID: a, Time: b.now, Stream: "stderr", Level: "error", Message: "a3"}
	b.logAppend(t, "w1", []domain.LogLine{errLine, line(c, "c2", b.now)}, 1)
	withSeq := func(l domain.LogLine, seq int64) domain.LogLine { l.Seq = seq; return l }
	wantA := []domain.LogLine{withSeq(line(a, "a1", start), 1), withSeq(line(a, "a2", start), 2), withSeq(errLine, 3)}
	if diff := cmp.Diff(wantA, b.logList(t, store.LogListParams{TaskID: a})); diff != "" {
		t.Errorf("LogList(a) mismatch (-want +got):\n%s", diff)
	}
	wantC := []domain.LogLine{withSeq(line(c, "c1", start), 1), withSeq(line(c, "c2", b.now), 2)}
	if diff := cmp.Diff(wantC, b.logList(t, store.LogListParams{TaskID: c})); diff != "" {
		t.Errorf("LogList(c) mismatch (-want +got):\n%s", diff)
	}
}

// fiveLines is a running task of w1 with the lines "1" to "5".
func (b *bundle) fiveLines(t *testing.T) string {
	t.Helper()
	id := b.running(t, 1)[0].ID
	var lines []domain.LogLine
	for _, m := range []string{"1", "2", "3", "4", "5"} {
		lines = append(lines, line(id, m, b.now))
	}
	b.logAppend(t, "w1", lines, 1)
	return id
}

func testLogAfterSeqAndLimit(t *testing.T, b *bundle) {
	id := b.fiveLines(t)
	tests := []struct {
		after int64
		limit int
		want  []string
	}{
		{0, 0, []string{"1", "2", "3", "4", "5"}},
		{2, 0, []string{"3", "4", "5"}},
		{2, 2, []string{"3", "4"}},
		{0, 1, []string{"1"}},
		{5, 0, nil},
	}
	for _, tt := range tests {
		got := messages(b.logList(t, store.LogListParams{TaskID: id, AfterSeq: tt.after, Limit: tt.limit}))
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("LogList(after %d, limit %d) mismatch (-want +got):\n%s", tt.after, tt.limit, diff)
		}
	}
}

func testLogTail(t *testing.T, b *bundle) {
	id := b.fiveLines(t)
	tests := []struct {
		after int64
		tail  int
		limit int
		want  []string
	}{
		{0, 2, 0, []string{"4", "5"}},
		{0, 5, 0, []string{"1", "2", "3", "4", "5"}},
		{0, 9, 0, []string{"1", "2", "3", "4", "5"}},
		{3, 9, 0, []string{"4", "5"}},
		{0, 1, 3, []string{"5"}}, // Tail wins over Limit
		{5, 2, 0, nil},
	}
	for _, tt := range tests {
		got := b.logList(t, store.LogListParams{TaskID: id, AfterSeq: tt.after, Tail: tt.tail, Limit: tt.limit})
		if diff := cmp.Diff(tt.want, messages(got), cmpEmpty); diff != "" {
			t.Errorf("LogList(after %d, tail %d, limit %d) mismatch (-want +got):\n%s", tt.after, tt.tail, tt.limit, diff)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq != got[i-1].Seq+1 {
				t.Errorf("LogList(tail %d) seqs %d, %d: want consecutive, oldest first", tt.tail, got[i-1].Seq, got[i].Seq)
			}
		}
	}
	_, err := b.s.LogList(b.ctx, &store.LogListParams{TaskID: "task-unknown", Tail: 3})
	wantErr(t, "LogList(unknown task, tail)", err, domain.ErrNotFound)
}

func testLogUnknownTask(t *testing.T, b *bundle) {
	// A line for an unknown task is dropped by the fence, not an error.
	if kept := b.logAppend(t, "w1", []domain.LogLine{line("task-unknown", "x", b.now)}, 1); kept != 0 {
		t.Errorf("LogAppend(unknown task) kept %d lines, want 0", kept)
	}
	_, err := b.s.LogList(b.ctx, &store.LogListParams{TaskID: "task-unknown"})
	wantErr(t, "LogList(unknown task)", err, domain.ErrNotFound)
	// A known task without lines is an empty list, not an error.
	id := b.insert(t, b.newTask())[0].ID
	if got := b.logList(t, store.LogListParams{TaskID: id}); len(got) != 0 {
		t.Errorf("LogList(quiet task) = %v, want none", got)
	}
}

// testLogFenceZombie: a worker whose lease expired and was re-leased (a
// zombie) writes nothing into its successor's log, even in a batch that
// also holds valid lines.
func testLogFenceZombie(t *testing.T, b *bundle) {
	b.insert(t, b.newTask(retries(1)))
	zombie, next := b.register(t, "w1"), b.register(t, "w2")
	first := b.leaseOne(t, zombie)
	b.logAppend(t, zombie.ID, []domain.LogLine{line(first.ID, "first attempt", b.now)}, first.LeaseEpoch)
	b.now = first.LeaseExpiresAt.Add(time.Second)
	b.rescue(t, 0)
	b.now = b.get(t, first.ID).AvailableAt
	second := b.leaseOne(t, next)
	if second.ID != first.ID || second.LeaseEpoch != first.LeaseEpoch+1 {
		t.Fatalf("TaskLease(w2) = %s epoch %d, want %s epoch %d", second.ID, second.LeaseEpoch, first.ID, first.LeaseEpoch+1)
	}
	// The zombie's lines (old epoch), then a batch from the successor.
	if kept := b.logAppend(t, zombie.ID, []domain.LogLine{line(first.ID, "zombie", b.now)}, first.LeaseEpoch); kept != 0 {
		t.Errorf("LogAppend(zombie, old epoch) kept %d lines, want 0", kept)
	}
	lines := []domain.LogLine{line(first.ID, "second attempt", b.now), line(first.ID, "more", b.now)}
	if kept := b.logAppend(t, next.ID, lines, second.LeaseEpoch); kept != 2 {
		t.Errorf("LogAppend(valid lease) kept %d lines, want 2", kept)
	}
	if lines[0].Seq != 2 || lines[1].Seq != 3 {
		t.Errorf("LogAppend(valid lease) numbered the lines %d, %d; want 2, 3", lines[0].Seq, lines[1].Seq)
	}
	// One batch holding a stale line of the zombie's epoch and a valid one.
	mixed := []domain.LogLine{line(first.ID, "stale", b.now), line(first.ID, "last", b.now)}
	if kept := b.logAppend(t, next.ID, mixed, first.LeaseEpoch, second.LeaseEpoch); kept != 1 {
		t.Errorf("LogAppend(mixed epochs) kept %d lines, want 1", kept)
	}
	want := []string{"first attempt", "second attempt", "more", "last"}
	got := b.logList(t, store.LogListParams{TaskID: first.ID})
	if diff := cmp.Diff(want, messages(got)); diff != "" {
		t.Errorf("LogList() mismatch (-want +got):\n%s", diff)
	}
	for i, l := range got {
		if l.Seq != int64(i+1) {
			t.Errorf("LogList()[%d].Seq = %d, want %d", i, l.Seq, i+1)
		}
	}
}

// testLogFenceOwnerAndState: the right epoch from the wrong worker, and any
// line for a task that is not running, are dropped.
func testLogFenceOwnerAndState(t *testing.T, b *bundle) {
	tasks := b.running(t, 2)
	b.register(t, "w2")
	w1 := b.workerGet(t, "w1")
	pending := b.insert(t, b.newTask())[0]
	if kept := b.logAppend(t, "w2", []domain.LogLine{line(tasks[0].ID, "not mine", b.now)}, tasks[0].LeaseEpoch); kept != 0 {
		t.Errorf("LogAppend(another worker's lease) kept %d lines, want 0", kept)
	}
	if kept := b.logAppend(t, "w1", []domain.LogLine{line(pending.ID, "pending", b.now)}, 0); kept != 0 {
		t.Errorf("LogAppend(pending task) kept %d lines, want 0", kept)
	}
	b.finish(t, w1, refOf(tasks[1]), true)
	batch := []domain.LogLine{line(tasks[1].ID, "after the end", b.now), line(tasks[0].ID, "still running", b.now)}
	if kept := b.logAppend(t, "w1", batch, tasks[1].LeaseEpoch, tasks[0].LeaseEpoch); kept != 1 {
		t.Errorf("LogAppend(finished + running) kept %d lines, want 1", kept)
	}
	for _, tc := range []struct {
		id   string
		want []string
	}{{tasks[0].ID, []string{"still running"}}, {tasks[1].ID, nil}, {pending.ID, nil}} {
		if diff := cmp.Diff(tc.want, messages(b.logList(t, store.LogListParams{TaskID: tc.id})), cmpEmpty); diff != "" {
			t.Errorf("LogList(%s) mismatch (-want +got):\n%s", tc.id, diff)
		}
	}
}

var kvTests = []test{
	{"GetPut", testKVGetPut},
	{"Ping", testPing},
}

func testKVGetPut(t *testing.T, b *bundle) {
	_, err := b.s.KVGet(b.ctx, "cluster")
	wantErr(t, "KVGet(unset)", err, domain.ErrNotFound)
	for _, v := range []string{`{"name":"one"}`, `{"name":"two","size":2}`} {
		if err := b.s.KVPut(b.ctx, "cluster", json.RawMessage(v)); err != nil {
			t.Fatalf("KVPut(%s) error = %v", v, err)
		}
		got, err := b.s.KVGet(b.ctx, "cluster")
		if err != nil {
			t.Fatalf("KVGet() error = %v", err)
		}
		if !jsonEqual(t, got, json.RawMessage(v)) {
			t.Errorf("KVGet() = %s, want %s", got, v)
		}
	}
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("json.Unmarshal(%s) error = %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("json.Unmarshal(%s) error = %v", b, err)
	}
	return cmp.Equal(x, y)
}

func testPing(t *testing.T, b *bundle) {
	if err := b.s.Ping(b.ctx); err != nil {
		t.Errorf("Ping() error = %v", err)
	}
}
