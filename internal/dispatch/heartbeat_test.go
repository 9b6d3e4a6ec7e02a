package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// Heartbeats arriving together share store calls, but each gets its own
// answer: its own worker, its own lost leases, and its own refusal when its
// worker was removed or its credential replaced.
func TestHeartbeatsTogetherGetTheirOwnAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hb.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var (
		mu   sync.Mutex
		seen = map[string]int{} // worker id -> heartbeats the hook saw
	)
	eng, err := dispatch.New(st, dispatch.Options{Hooks: dispatch.Hooks{WorkerHeartbeat: func(w *domain.Worker) {
		mu.Lock()
		seen[w.ID]++
		mu.Unlock()
	}}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	workers := make([]*domain.Worker, n)
	leases := make([]domain.TaskRef, n)
	for i := range workers {
		w, err := eng.Register(ctx, &domain.Worker{Name: fmt.Sprintf("w%d", i), Hostname: "h", Concurrency: 1, TaskTypes: []string{"echo"},
			Queues: []string{domain.DefaultQueue}, Resources: domain.Resources{CPUCores: 1, MemoryTotalGB: 1}, CredentialHash: fmt.Sprintf("hash-%d", i)}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.SubmitRequests(ctx, domain.Actor{}, []dispatch.TaskRequest{{Type: "echo", Payload: []byte(`{"message":"x"}`)}}); err != nil {
			t.Fatal(err)
		}
		leased, err := eng.Lease(ctx, w, 1, 0)
		if err != nil || len(leased) != 1 {
			t.Fatalf("Lease(%s) = %v, %v; want one task", w.ID, leased, err)
		}
		workers[i], leases[i] = w, domain.TaskRef{TaskID: leased[0].ID, Epoch: leased[0].LeaseEpoch}
	}
	removed, replaced := workers[n-1], *workers[n-2]
	if _, err := eng.RemoveWorker(ctx, removed.ID, true); err != nil {
		t.Fatal(err)
	}
	replaced.CredentialHash = "hash-of-an-earlier-session"

	type answer struct {
		res *dispatch.HeartbeatResult
		err error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i, w := range workers {
		if i == n-2 {
			w = &replaced
		}
		// Every third worker names its neighbour's lease too: that one is
		// lost to it, and only to it.
		held := []domain.TaskRef{leases[i]}
		if i%3 == 0 {
			held = append(held, leases[(i+1)%n])
		}
		wg.Go(func() {
			res, err := eng.Heartbeat(ctx, w, domain.Resources{CPUCores: i + 1, MemoryTotalGB: 1}, held)
			answers[i] = answer{res, err}
		})
	}
	wg.Wait()
	for i, a := range answers {
		id := workers[i].ID
		if i >= n-2 {
			if !errors.Is(a.err, domain.ErrNotFound) {
				t.Errorf("Heartbeat(%s, removed or replaced credential) error = %v, want ErrNotFound", id, a.err)
			}
			continue
		}
		if a.err != nil {
			t.Errorf("Heartbeat(%s) error = %v", id, a.err)
			continue
		}
		var want []dispatch.Stop
		if i%3 == 0 {
			want = []dispatch.Stop{{Ref: leases[(i+1)%n], Reason: "lease_lost"}}
		}
		if a.res.Worker.ID != id || a.res.Worker.Resources.CPUCores != i+1 || fmt.Sprint(a.res.Stop) != fmt.Sprint(want) {
			t.Errorf("Heartbeat(%s) = worker %s with %v cores, stop %v; want its own, %d cores, stop %v",
				id, a.res.Worker.ID, a.res.Worker.Resources.CPUCores, a.res.Stop, i+1, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, w := range workers {
		if want := map[bool]int{true: 0, false: 1}[i >= n-2]; seen[w.ID] != want {
			t.Errorf("WorkerHeartbeat hook saw %s %d times, want %d", w.ID, seen[w.ID], want)
		}
	}
}
