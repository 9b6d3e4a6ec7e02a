package event_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/store/sqlite"
)

func newBus(t *testing.T, opts event.Options) *event.Bus {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts.Store = st
	return event.New(opts)
}

func publish(b *event.Bus, n int) {
	for i := range n {
		b.Publish(domain.Event{Type: domain.EventTaskStarted, Level: domain.LevelInfo, DeviceID: "d", Message: fmt.Sprint(i)})
	}
}

// Flushed events reach the ring in id order, encoded once, and a reader
// pulls them from any cursor; the change channel wakes it for the next.
func TestBusDeliversInOrder(t *testing.T) {
	t.Parallel()
	b := newBus(t, event.Options{})
	ctx := context.Background()
	publish(b, 10)
	_, changed, _ := b.Read(0, 100)
	b.Flush(ctx)
	select {
	case <-changed:
	default:
		t.Fatal("a delivery did not wake readers")
	}
	frames, _, ok := b.Read(0, 100)
	if !ok || len(frames) != 10 {
		t.Fatalf("Read(0) = %d frames, ok=%v; want 10", len(frames), ok)
	}
	for i, f := range frames {
		var got map[string]any
		if err := json.Unmarshal(f.JSON, &got); err != nil {
			t.Fatal(err)
		}
		if f.ID != int64(i+1) || got["message"] != fmt.Sprint(i) || got["type"] != "task_started" || got["id"] != float64(f.ID) {
			t.Errorf("frame %d = %d %s", i, f.ID, f.JSON)
		}
	}
	if later, _, _ := b.Read(frames[4].ID, 2); len(later) != 2 || later[0].ID != frames[5].ID {
		t.Errorf("Read(after 5, max 2) = %v", later)
	}
	if b.Last() != 10 || b.Written() != 10 {
		t.Errorf("Last() = %d, Written() = %d; want 10, 10", b.Last(), b.Written())
	}
}

// A cursor older than the ring reads the store instead; nothing is lost.
func TestBusRingOverflowFallsBackToStore(t *testing.T) {
	t.Parallel()
	b := newBus(t, event.Options{RingSize: 4})
	ctx := context.Background()
	publish(b, 10)
	b.Flush(ctx)
	if _, _, ok := b.Read(2, 100); ok {
		t.Fatal("Read(2) with a ring of 4 after 10 events: ok, want a miss")
	}
	if frames, _, ok := b.Read(b.Base(), 100); !ok || len(frames) != 4 {
		t.Fatalf("Read(base) = %d frames, ok=%v; want the ring's 4", len(frames), ok)
	}
	back, err := b.Backfill(ctx, 2, 100)
	if err != nil || len(back) != 8 || back[0].ID != 3 {
		t.Fatalf("Backfill(2) = %d frames (first %v), %v; want 8 from id 3", len(back), back, err)
	}
}

// Past MaxPending unwritten events, Publish drops and counts instead of
// blocking or growing.
func TestBusDropsBeyondMaxPending(t *testing.T) {
	t.Parallel()
	b := newBus(t, event.Options{MaxPending: 5})
	publish(b, 8)
	if b.Dropped() != 3 {
		t.Errorf("Dropped() = %d, want 3", b.Dropped())
	}
	b.Flush(context.Background())
	if b.Written() != 5 {
		t.Errorf("Written() = %d, want 5", b.Written())
	}
}

// The slog tee stores records at or above its level as log_entry events,
// taking component, worker_id and task_id from the attributes.
func TestTee(t *testing.T) {
	t.Parallel()
	b := newBus(t, event.Options{})
	log := slog.New(b.Tee(slog.DiscardHandler, slog.LevelInfo))
	log.Debug("not stored")
	log.With("component", "reaper").Warn("lease expired", "task_id", "task-1", "worker_id", "w-1", "attempt", 2)
	b.Flush(context.Background())
	frames, _, _ := b.Read(0, 10)
	if len(frames) != 1 {
		t.Fatalf("%d events, want 1", len(frames))
	}
	var got map[string]any
	json.Unmarshal(frames[0].JSON, &got)
	want := map[string]any{"type": "log_entry", "level": "warning", "component": "reaper", "task_id": "task-1", "device_id": "w-1",
		"message": "lease expired"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (event %s)", k, got[k], v, frames[0].JSON)
		}
	}
	if d, _ := got["details"].(map[string]any); d["attempt"] != float64(2) {
		t.Errorf("details = %v, want attempt 2", got["details"])
	}
}

// PublishLatest keeps only a task's last coalesced event until it is
// released, and another event of the task releases it first, so it is
// recorded before that event.
func TestBusCoalesces(t *testing.T) {
	t.Parallel()
	b := newBus(t, event.Options{})
	ctx := context.Background()
	progress := func(task, msg string) {
		b.PublishLatest(domain.Event{Type: "task_progress", Level: domain.LevelInfo, TaskID: task, Message: msg})
	}
	for i := range 5 {
		progress("a", fmt.Sprint("a", i))
		progress("b", fmt.Sprint("b", i))
	}
	b.Publish(domain.Event{Type: domain.EventTaskCompleted, Level: domain.LevelInfo, TaskID: "a", Message: "a done"})
	b.Flush(ctx)
	frames, _, _ := b.Read(0, 100)
	var got []string
	for _, f := range frames {
		var e map[string]any
		if err := json.Unmarshal(f.JSON, &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e["message"].(string))
	}
	want := []string{"a4", "a done", "b4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
}
