package telemetry

import (
	"fmt"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

func TestBoundQueuesFoldsPinnedAndCapsNames(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	qs := []store.QueueStat{{Queue: "FifoQ", State: domain.TaskPending, Count: 3, OldestPending: t0}}
	for i := range 1000 { // a thousand target hosts
		qs = append(qs, store.QueueStat{Queue: fmt.Sprintf("pinned_10.0.%d.%d", i/256, i%256), State: domain.TaskPending,
			Count: 1, OldestPending: t0.Add(time.Duration(1000-i) * time.Second)})
	}
	for i := range 100 {
		qs = append(qs, store.QueueStat{Queue: fmt.Sprintf("q%03d", i), State: domain.TaskCompleted, Count: 2})
	}
	got := boundQueues(qs)
	labels := map[string]store.QueueStat{}
	for _, q := range got {
		labels[q.Queue] = q
	}
	if len(labels) != maxQueueLabels+2 { // FifoQ and 49 others, pinned_*, other
		t.Errorf("boundQueues gave %d labels, want %d", len(labels), maxQueueLabels+2)
	}
	p := labels["pinned_*"]
	if p.Count != 1000 || !p.OldestPending.Equal(t0.Add(time.Second)) {
		t.Errorf("pinned_* = %+v, want 1000 tasks, oldest at %v", p, t0.Add(time.Second))
	}
	if o := labels["other"]; o.Count != 2*(100-(maxQueueLabels-1)) {
		t.Errorf("other = %+v, want the %d queues past the cap", o, 100-(maxQueueLabels-1))
	}
}
