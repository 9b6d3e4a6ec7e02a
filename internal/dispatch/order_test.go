package dispatch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// leaseAfterInsert leases every task a worker polling the store could
// take the moment a submit commits, before the submit's call returns: the
// window in which a worker's poll once got its task_started published
// ahead of the task's task_submitted.
type leaseAfterInsert struct {
	*memStore
	eng *dispatch.Service
	w   *domain.Worker
}

func (s *leaseAfterInsert) TaskInsertMany(ctx context.Context, p *store.TaskInsertManyParams) ([]store.TaskInsertOutcome, error) {
	out, err := s.memStore.TaskInsertMany(ctx, p)
	if err != nil {
		return nil, err
	}
	if _, err := s.eng.Lease(ctx, s.w, len(p.Tasks), 0); err != nil {
		return nil, err
	}
	return out, nil
}

// A hook sees its call's effects after those of every call that committed
// before it began, whatever order the calls return in.
func TestHooksFollowTheirCauses(t *testing.T) {
	w := worker("w1", "default", "shell")
	st := &leaseAfterInsert{memStore: newMemStore(w), w: w}
	var (
		mu  sync.Mutex
		got []string
	)
	record := func(what string) func(*domain.Task) {
		return func(t *domain.Task) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, what+" "+t.ID)
		}
	}
	eng, err := dispatch.New(st, dispatch.Options{Hooks: dispatch.Hooks{
		TaskSubmitted: record("submitted"), TaskStarted: record("started"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	st.eng = eng
	out, err := eng.Submit(context.Background(), []*domain.Task{task("default", "shell")})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].Task.ID
	mu.Lock()
	defer mu.Unlock()
	want := []string{"submitted " + id, "started " + id}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("hooks ran as %q, want %q", got, want)
	}
}

// Turns that end out of order run their hooks in the order they began, on
// whichever goroutine ends the oldest; a hook gets a copy of what its call
// returns, which the caller may go on to change.
func TestHooksRunInTurnOrder(t *testing.T) {
	w := worker("w1", "default", "shell", "second")
	st := &blockingInsert{memStore: newMemStore(w), release: make(chan struct{}), entered: make(chan struct{})}
	var (
		mu  sync.Mutex
		got []string
	)
	eng, err := dispatch.New(st, dispatch.Options{Hooks: dispatch.Hooks{
		TaskSubmitted: func(t *domain.Task) { mu.Lock(); got = append(got, "submitted "+t.Type); mu.Unlock() },
		TaskStarted:   func(t *domain.Task) { mu.Lock(); got = append(got, "started "+t.Type); mu.Unlock() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Submit(context.Background(), []*domain.Task{task("default", "shell")}); err != nil {
		t.Fatal(err)
	}
	// A second submit blocks in its store call; a lease begun after it
	// returns at once, but its hook must wait for the submit's.
	submitted := make(chan error, 1)
	go func() {
		_, err := eng.Submit(context.Background(), []*domain.Task{task("default", "second")})
		submitted <- err
	}()
	<-st.entered
	leased, err := eng.Lease(context.Background(), w, 1, 0)
	if err != nil || len(leased) != 1 {
		t.Fatalf("lease: %v, %d tasks", err, len(leased))
	}
	leased[0].Type = "changed by the caller"
	mu.Lock()
	early := append([]string(nil), got...)
	mu.Unlock()
	if len(early) != 1 {
		t.Fatalf("a hook ran before the turn ahead of it ended: %q", early)
	}
	close(st.release)
	if err := <-submitted; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"submitted shell", "submitted second", "started shell"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("hooks ran as %q, want %q", got, want)
	}
}

// blockingInsert holds every insert after the first until release closes.
type blockingInsert struct {
	*memStore
	inserts int
	entered chan struct{}
	release chan struct{}
}

func (s *blockingInsert) TaskInsertMany(ctx context.Context, p *store.TaskInsertManyParams) ([]store.TaskInsertOutcome, error) {
	s.mu.Lock()
	s.inserts++
	n := s.inserts
	s.mu.Unlock()
	if n > 1 {
		close(s.entered)
		<-s.release
	}
	return s.memStore.TaskInsertMany(ctx, p)
}
