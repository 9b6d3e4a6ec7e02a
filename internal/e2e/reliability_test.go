package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// TestWorkerKilledMidTask kills -9 a worker with tasks in flight. Every task
// must still complete, on the other worker, exactly once; none of the
// orphans may start again before its lease could have expired.
func TestWorkerKilledMidTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	victim := cl.startWorker(t, "victim", 20)

	const n = 30
	reqs := make([]api.SubmitTaskRequest, n)
	for i := range reqs {
		reqs[i] = sleepTask(1.5)
		reqs[i].MaxRetries = ptr(0) // losing a worker must not spend retries
	}
	if _, err := cl.c.Tasks.SubmitBatch(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	var inFlight []api.Task
	eventually(t, 20*time.Second, "the victim to run tasks", func() bool {
		l, err := cl.c.Tasks.List(ctx, client.TaskListOptions{Status: "running", DeviceID: "victim", Limit: 1000})
		inFlight = l.Tasks
		return err == nil && len(l.Tasks) == 20
	})
	cl.startWorker(t, "survivor", 20)
	victim.kill()
	killedAt := time.Now()

	eventually(t, 60*time.Second, "every task to complete", func() bool {
		l, err := cl.c.Tasks.List(ctx, client.TaskListOptions{Limit: 1})
		return err == nil && l.Completed == n
	})
	tasks := allTasks(t, cl.c)
	if len(tasks) != n {
		t.Fatalf("%d tasks exist, want %d (lost or duplicated)", len(tasks), n)
	}
	orphan := map[string]bool{}
	for _, tk := range inFlight {
		orphan[tk.TaskID] = true
	}
	// The victim's last heartbeat was at most one interval before the kill,
	// so its leases ran out no earlier than kill + TTL - heartbeat.
	earliest := killedAt.Add(leaseTTL - heartbeat - 50*time.Millisecond)
	for _, tk := range tasks {
		if tk.Status != "completed" {
			t.Errorf("task %s is %s, want completed", tk.TaskID, tk.Status)
			continue
		}
		if !orphan[tk.TaskID] {
			if tk.Attempt != 1 {
				t.Errorf("task %s not on the victim ran %d times", tk.TaskID, tk.Attempt)
			}
			continue
		}
		if tk.DeviceID == nil || *tk.DeviceID != "survivor" || tk.Attempt != 2 {
			t.Errorf("orphan %s: device %v attempt %d, want survivor attempt 2", tk.TaskID, deref(tk.DeviceID), tk.Attempt)
		}
		if tk.StartedAt.Before(earliest) {
			t.Errorf("orphan %s restarted %s after the kill, before its lease could expire (%s)",
				tk.TaskID, tk.StartedAt.Sub(killedAt), leaseTTL-heartbeat)
		}
		if late := tk.StartedAt.Sub(killedAt); late > leaseTTL+sweep+2*time.Second {
			t.Errorf("orphan %s restarted only %s after the kill", tk.TaskID, late)
		}
	}
	d, err := cl.c.Devices.Get(ctx, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	if d.Tasks.Completed != int64(n-0) && d.Tasks.Completed < int64(len(inFlight)) {
		t.Errorf("survivor completed %d, want at least the %d orphans", d.Tasks.Completed, len(inFlight))
	}
}

// TestServerKilledAfterAcks kills -9 the server while clients submit: every
// submit that was acknowledged must be there after a restart.
func TestServerKilledAfterAcks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	var (
		mu    sync.Mutex
		acked []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var ids []string
				if g%2 == 0 {
					r, err := cl.c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: []byte(`{"message":"x"}`), Queue: "nobody"})
					if err != nil {
						continue // unknown outcome: the server may be gone
					}
					ids = []string{r.TaskID}
				} else {
					batch := make([]api.SubmitTaskRequest, 50)
					for j := range batch {
						batch[j] = api.SubmitTaskRequest{TaskType: "echo", Payload: []byte(`{"message":"y"}`), Queue: "nobody"}
					}
					r, err := cl.c.Tasks.SubmitBatch(ctx, batch)
					if err != nil {
						continue
					}
					for _, s := range r.Tasks {
						ids = append(ids, s.TaskID)
					}
				}
				mu.Lock()
				acked = append(acked, ids...)
				mu.Unlock()
			}
		}()
	}
	eventually(t, 30*time.Second, "a burst of acknowledged submits", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 2000
	})
	cl.server.kill() // while the submitters are still going
	close(stop)
	wg.Wait()

	apiPort, agentPort := portOf(t, cl.api), portOf(t, cl.agent)
	cl.startServer(t, apiPort, agentPort)
	have := map[string]bool{}
	for _, tk := range allTasks(t, cl.c) {
		have[tk.TaskID] = true
	}
	lost := 0
	for _, id := range acked {
		if !have[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged tasks are gone after kill -9", lost, len(acked))
	}
	t.Logf("%d acknowledged tasks all survived kill -9 (%d stored, the rest unacknowledged)", len(acked), len(have))
}

func portOf(t *testing.T, url string) int {
	t.Helper()
	var port int
	for i := len(url) - 1; i >= 0; i-- {
		if url[i] == ':' {
			for _, c := range url[i+1:] {
				port = port*10 + int(c-'0')
			}
			return port
		}
	}
	t.Fatalf("no port in %s", url)
	return 0
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}
