package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var logTests = []test{
	{"AppendList", testLogAppendList},
	{"AfterSeqAndLimit", testLogAfterSeqAndLimit},
	{"UnknownTask", testLogUnknownTask},
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

func testLogAppendList(t *testing.T, b *bundle) {
	tasks := b.insertN(t, 2)
	a, c := tasks[0].ID, tasks[1].ID
	// Two calls, interleaving tasks: each task's lines count on from its own last.
	if err := b.s.LogAppend(b.ctx, []domain.LogLine{line(a, "a1", b.now), line(c, "c1", b.now), line(a, "a2", b.now)}); err != nil {
		t.Fatalf("LogAppend() error = %v", err)
	}
	b.step(time.Second)
	errLine := domain.LogLine{TaskID: a, Time: b.now, Stream: "stderr", Level: "error", Message: "a3"}
	if err := b.s.LogAppend(b.ctx, []domain.LogLine{errLine, line(c, "c2", b.now)}); err != nil {
		t.Fatalf("LogAppend() error = %v", err)
	}
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

func testLogAfterSeqAndLimit(t *testing.T, b *bundle) {
	id := b.insert(t, b.newTask())[0].ID
	var lines []domain.LogLine
	for _, m := range []string{"1", "2", "3", "4", "5"} {
		lines = append(lines, line(id, m, b.now))
	}
	if err := b.s.LogAppend(b.ctx, lines); err != nil {
		t.Fatalf("LogAppend() error = %v", err)
	}
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
		var got []string
		for _, l := range b.logList(t, store.LogListParams{TaskID: id, AfterSeq: tt.after, Limit: tt.limit}) {
			got = append(got, l.Message)
		}
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("LogList(after %d, limit %d) mismatch (-want +got):\n%s", tt.after, tt.limit, diff)
		}
	}
}

func testLogUnknownTask(t *testing.T, b *bundle) {
	err := b.s.LogAppend(b.ctx, []domain.LogLine{line("task-unknown", "x", b.now)})
	wantErr(t, "LogAppend(unknown task)", err, domain.ErrNotFound)
	_, err = b.s.LogList(b.ctx, &store.LogListParams{TaskID: "task-unknown"})
	wantErr(t, "LogList(unknown task)", err, domain.ErrNotFound)
	// A known task without lines is an empty list, not an error.
	id := b.insert(t, b.newTask())[0].ID
	if got := b.logList(t, store.LogListParams{TaskID: id}); len(got) != 0 {
		t.Errorf("LogList(quiet task) = %v, want none", got)
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
