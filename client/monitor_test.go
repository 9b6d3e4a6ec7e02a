package client_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// events collects a stream's events in the background until the test ends.
type events struct {
	mu   sync.Mutex
	list []api.StreamEvent
}

func stream(t *testing.T, c *client.Client, opts client.StreamOptions) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &events{}
	done := make(chan error, 1)
	go func() {
		done <- c.Monitor.StreamWith(ctx, opts, func(ev api.StreamEvent) error {
			e.mu.Lock()
			e.list = append(e.list, ev)
			e.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("StreamWith = %v, want nil when its ctx ends", err)
		}
	})
	return e
}

func (e *events) seen() []api.StreamEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]api.StreamEvent(nil), e.list...)
}

// has reports whether the stream has seen an event of type typ ("" any)
// for task id.
func (e *events) has(typ, id string) bool {
	for _, ev := range e.seen() {
		if ev.TaskID == id && (typ == "" || ev.Type == typ) {
			return true
		}
	}
	return false
}

// await waits until the stream has seen an event of type typ for task id.
func (e *events) await(t *testing.T, typ, id string) {
	t.Helper()
	drovertest.Eventually(t, 10*time.Second, func() bool { return e.has(typ, id) }, typ+" of "+id)
}

// opened submits tasks until the stream sees one: a stream starts with
// the events that happen after it connects, so only then is it sure that
// the next event will be seen.
func (b *bundle) opened(t *testing.T, e *events) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		probe := b.submit(t, later("probe"))
		for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if e.has("", probe) {
				return
			}
		}
		if time.Now().After(deadline) {
			for _, r := range b.rec.requests() {
				if r.Path == "/api/v1/monitor/stream" {
					t.Logf("stream request %v", r.Header)
				}
			}
			t.Logf("events %+v", e.seen())
			t.Fatal("the stream saw none of the tasks submitted for 30s")
		}
	}
}

// increasing fails t unless the events' ids increase.
func increasing(t *testing.T, evs []api.StreamEvent) {
	t.Helper()
	var last int64
	for _, ev := range evs {
		if ev.ID <= last {
			t.Errorf("event %d (%s) after event %d: ids must increase, without repeats", ev.ID, ev.Type, last)
		}
		last = ev.ID
	}
}

func TestMonitorStream(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1"})
	e := stream(t, b.c, client.StreamOptions{Types: []string{"tasks"}})
	b.opened(t, e)

	id := b.submit(t, echo("streamed", 1))
	e.await(t, "task_completed", id)

	var types []string
	for _, ev := range e.seen() {
		if ev.TaskID != id {
			continue
		}
		types = append(types, ev.Type)
		if ev.Fields["task_type"] != "echo" || ev.Timestamp.IsZero() {
			t.Errorf("event %s: timestamp %v, fields %v; want task_type echo among the fields", ev.Type, ev.Timestamp, ev.Fields)
		}
	}
	if len(types) < 2 || types[0] != "task_submitted" || types[len(types)-1] != "task_completed" {
		t.Errorf("events of the task: %q, want task_submitted … task_completed", types)
	}
	increasing(t, e.seen())
	var req sentRequest
	for _, r := range b.rec.requests() {
		if r.Path == "/api/v1/monitor/stream" {
			req = r
		}
	}
	if req.Path != "/api/v1/monitor/stream" || req.Query != "types=tasks" || req.Header.Get("Accept") != "text/event-stream" {
		t.Errorf("stream request %s?%s %v", req.Path, req.Query, req.Header)
	}
}

// Stream returns the callback's error, and a filter the server refuses at
// once instead of retrying it.
func TestMonitorStreamReturns(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	errEnough := errors.New("enough")
	done := make(chan error, 1)
	go func() {
		done <- b.c.Monitor.Stream(t.Context(), nil, func(api.StreamEvent) error { return errEnough })
	}()
	for waiting := true; waiting; {
		b.submit(t, later("probe"))
		select {
		case err := <-done:
			if !errors.Is(err, errEnough) {
				t.Errorf("Stream = %v, want the callback's error", err)
			}
			waiting = false
		case <-time.After(100 * time.Millisecond):
		}
	}

	err := b.c.Monitor.Stream(t.Context(), []string{"nope"}, func(api.StreamEvent) error { return nil })
	if status(err) != http.StatusBadRequest || !isCode(err, "VALIDATION_ERROR") {
		t.Errorf("Stream(nope) = %v, want 400 VALIDATION_ERROR", err)
	}
}

// A stream resumes after the Last-Event-ID it is given, and after a broken
// connection (here a server restart) from the last event it received:
// nothing missed, nothing twice.
func TestMonitorStreamResumes(t *testing.T) {
	t.Parallel()
	b := setup(t, drovertest.Options{})
	b.srv.StartWorker(t, worker.Config{Name: "w1"})
	first := stream(t, b.c, client.StreamOptions{Types: []string{"tasks"}, Reconnect: 20 * time.Millisecond})
	b.opened(t, first)
	one, two := b.submit(t, echo("one", 1)), b.submit(t, echo("two", 1))
	first.await(t, "task_completed", one)
	first.await(t, "task_completed", two)
	before := first.seen()

	// From an event id: the events after it, as the first stream saw them.
	from := before[len(before)/2]
	if err := b.srv.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	resumed := stream(t, b.c, client.StreamOptions{Types: []string{"tasks"}, LastEventID: from.ID})
	lastID := before[len(before)-1].ID
	drovertest.Eventually(t, 10*time.Second, func() bool {
		got := resumed.seen()
		return len(got) > 0 && got[len(got)-1].ID >= lastID
	}, "the resumed stream to catch up")
	var want, got []int64
	for _, ev := range before {
		if ev.ID > from.ID {
			want = append(want, ev.ID)
		}
	}
	for _, ev := range resumed.seen() {
		if ev.ID <= lastID {
			got = append(got, ev.ID)
		}
	}
	if !equalIDs(want, got) {
		t.Errorf("resumed after %d: ids %v, want %v", from.ID, got, want)
	}
	if h := b.rec.last(t).Header.Get("Last-Event-ID"); h != strconv.FormatInt(from.ID, 10) {
		t.Errorf("Last-Event-ID %q, want %d", h, from.ID)
	}

	// Across a restart: the first stream reconnects after its last event.
	b.srv.Restart(t)
	three := b.submit(t, echo("three", 1))
	first.await(t, "task_completed", three)
	increasing(t, first.seen())
	var reconnect *sentRequest
	for _, r := range b.rec.requests() {
		if r.Path == "/api/v1/monitor/stream" && r.Header.Get("Last-Event-ID") == strconv.FormatInt(before[len(before)-1].ID, 10) {
			reconnect = &r
		}
	}
	if reconnect == nil {
		t.Errorf("no reconnection after event %d", before[len(before)-1].ID)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
