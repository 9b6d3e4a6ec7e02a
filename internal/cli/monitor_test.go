package cli

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// lockedBuffer is an io.Writer a test may read while a command writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMonitorPrintsEventsAsTheyHappen: drover monitor streams, line by
// line, from a real server; it neither waits for the stream to end nor is
// cut off by the per-call timeout.
func TestMonitorPrintsEventsAsTheyHappen(t *testing.T) {
	t.Parallel()
	srv := drovertest.NewServer(t, drovertest.Options{})
	var out, errOut lockedBuffer
	m := newMeta(&out, &errOut, func(k string) string {
		return map[string]string{envConfigDir: t.TempDir(), envAPIURL: srv.APIURL()}[k]
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- m.run(ctx, []string{"monitor", "--types", "tasks"}) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "task_submitted") {
		if time.Now().After(deadline) {
			t.Fatalf("drover monitor printed %q (stderr %q), want a task_submitted line", out.String(), errOut.String())
		}
		if _, err := srv.Client.Tasks.Submit(context.Background(), api.SubmitTaskRequest{TaskType: "echo"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// monitor replays the stream from an event id: the events that had
// happened before it ran, so the test needs no timing.
func TestMonitor(t *testing.T) {
	t.Parallel()
	srv := newServer(t, drovertest.Options{})
	srv.StartWorker(t, worker.Config{Name: "w1"})
	ctx := t.Context()
	// The first event of the stream, to resume after.
	first := make(chan int64, 1)
	streamCtx, stop := context.WithCancel(ctx)
	go srv.Client.Monitor.StreamWith(streamCtx, client.StreamOptions{Types: []string{"tasks"}}, func(ev api.StreamEvent) error {
		select {
		case first <- ev.ID:
		default:
		}
		stop()
		return nil
	})
	var since int64
	for since == 0 {
		submit(t, srv, delayed(echoReq("probe", 1)))
		select {
		case since = <-first:
		case <-time.After(100 * time.Millisecond):
		}
	}
	id := submit(t, srv, echoReq("watched", 1))
	waitFor(t, srv, id)
	if err := srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, srv)
	args := []string{"monitor", "--types", "tasks", "--since-id", strconv.FormatInt(since, 10)}

	for _, format := range []string{"table", "json"} {
		runCtx, cancel := context.WithTimeout(ctx, time.Second)
		r := droverCtx(t, runCtx, env, append(args, "-o", format)...)
		cancel()
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("monitor -o %s: exit %d, stderr %q", format, r.code, r.stderr)
		}
		if q := r.last(t).Query; q != "types=tasks" || r.last(t).Header.Get("Last-Event-ID") != strconv.FormatInt(since, 10) {
			t.Errorf("monitor -o %s asked ?%s with Last-Event-ID %q", format, q, r.last(t).Header.Get("Last-Event-ID"))
		}
		var types []string
		for line := range strings.Lines(r.stdout) {
			if format == "json" {
				var ev map[string]any
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("monitor -o json line %q: %v", line, err)
				}
				if ev["task_id"] == id {
					types = append(types, ev["type"].(string))
				}
				continue
			}
			// 15:04:05.000  task_completed  info  task-…  message
			f := strings.Fields(line)
			if len(f) >= 4 && f[3] == id {
				types = append(types, f[1])
			}
		}
		if len(types) < 2 || types[0] != "task_submitted" || types[len(types)-1] != "task_completed" {
			t.Errorf("monitor -o %s: events of the task %q, want task_submitted … task_completed; output:\n%s", format, types, r.stdout)
		}
	}
}
