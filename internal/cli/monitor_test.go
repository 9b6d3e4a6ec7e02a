package cli

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
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
