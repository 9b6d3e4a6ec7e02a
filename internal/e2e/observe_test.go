package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// TestEventsAcrossServers: with two servers on one PostgreSQL, a stream
// on each sees every task event, whichever server the task went through,
// in id order, once; and a ping reaches a worker through either server,
// relayed to the one its control channel is connected to.
func TestEventsAcrossServers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newPGCluster(t)
	a := cl.startServer(t, "obs-a")
	b := cl.startServer(t, "obs-b")
	cl.startWorker(t, b, "obs-worker", 4, "FifoQ")

	const n = 20
	type seen struct {
		mu   sync.Mutex
		ids  []int64
		done map[string]bool
	}
	streams := map[string]*seen{}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	ready := make(chan struct{}, 2)
	for _, s := range []*pgServer{a, b} {
		st := &seen{done: map[string]bool{}}
		streams[s.name] = st
		wg.Go(func() {
			first := true
			s.c.Monitor.StreamWith(sctx, client.StreamOptions{Types: []string{"tasks", "devices"}}, func(ev api.StreamEvent) error {
				if first {
					first = false
					ready <- struct{}{}
				}
				st.mu.Lock()
				defer st.mu.Unlock()
				st.ids = append(st.ids, ev.ID)
				if ev.Type == "task_completed" {
					st.done[ev.TaskID] = true
				}
				return nil
			})
		})
	}
	// device_update events (heartbeats, every 200 ms) show both streams are live.
	<-ready
	<-ready

	var ids []string
	for i := range n {
		s := []*pgServer{a, b}[i%2]
		sub, err := s.c.Tasks.Submit(ctx, api.SubmitTaskRequest{TaskType: "echo", Payload: []byte(`{"message":"x"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.TaskID)
	}
	eventually(t, 30*time.Second, "both streams to see every task complete", func() bool {
		for _, st := range streams {
			st.mu.Lock()
			k := 0
			for _, id := range ids {
				if st.done[id] {
					k++
				}
			}
			st.mu.Unlock()
			if k < n {
				return false
			}
		}
		return true
	})
	cancel()
	wg.Wait()
	for name, st := range streams {
		for i := 1; i < len(st.ids); i++ {
			if st.ids[i] <= st.ids[i-1] {
				t.Errorf("%s: event %d after %d: not in id order, or twice", name, st.ids[i], st.ids[i-1])
				break
			}
		}
	}

	// The worker's control channel is on obs-b: a ping through obs-b goes
	// straight down it, one through obs-a is relayed to obs-b and back.
	for _, s := range []*pgServer{b, a} {
		res, err := s.c.Devices.Ping(ctx, "obs-worker", 5, 2)
		if err != nil || !res.Reachable || res.PacketLoss != 0 {
			t.Errorf("ping through %s = %+v, %v; want reachable, no loss", s.name, res, err)
		}
	}
}
