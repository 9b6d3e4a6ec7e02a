package dispatch_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// gateStore is memStore with the lease gate of suspended and draining
// workers (store.WorkerLeaseGate), as the real stores apply it.
type gateStore struct {
	*memStore
	gmu   sync.Mutex
	gated map[string]bool
}

func (g *gateStore) gate(id string, on bool) {
	g.gmu.Lock()
	defer g.gmu.Unlock()
	g.gated[id] = on
}

func (g *gateStore) WorkerLeaseGate(_ context.Context, id string) (bool, error) {
	g.gmu.Lock()
	defer g.gmu.Unlock()
	return g.gated[id], nil
}

func (g *gateStore) TaskLease(ctx context.Context, p *store.TaskLeaseParams) ([]*domain.Task, error) {
	if on, _ := g.WorkerLeaseGate(ctx, p.Worker.ID); on {
		return nil, nil
	}
	return g.memStore.TaskLease(ctx, p)
}

// A suspended worker's poll does not wait as a waiter: a submit goes to a
// worker that can lease it at once, even when the suspended one has waited
// longest; and a resume reaches the suspended worker within a second.
func TestGatedWorkerSitsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wa, wb := worker("wa", "FifoQ", "echo"), worker("wb", "FifoQ", "echo")
		st := &gateStore{memStore: newMemStore(wa, wb), gated: map[string]bool{"wa": true}}
		eng := newEngine(t, st)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		pa := startPoll(ctx, eng, wa)
		synctest.Wait()
		pb := startPoll(ctx, eng, wb)
		synctest.Wait()
		if _, err := eng.Submit(ctx, []*domain.Task{task("FifoQ", "echo")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !pb.finished() || len(pb.tasks) != 1 || time.Since(start) != 0 {
			t.Fatalf("the able worker: finished %v with %d tasks after %v; want the task at once", pb.finished(), len(pb.tasks), time.Since(start))
		}
		if pa.finished() {
			t.Fatalf("the suspended worker's poll ended early with %d tasks", len(pa.tasks))
		}
		resumed := time.Now()
		st.gate("wa", false)
		<-pa.done
		if waited := time.Since(resumed); waited > time.Second || pa.err != nil || len(pa.tasks) != 0 {
			t.Errorf("the resumed worker's poll ended after %v (%v, %d tasks); want within a second, to poll again", waited, pa.err, len(pa.tasks))
		}
	})
}
