package e2e

import (
	"bytes"
	"context"
	"testing"

	"github.com/drover-run/drover/internal/bench"
)

// TestBenchCountsEveryTask runs drover bench small, both ways it measures
// throughput. Each run counts its tasks done from the event stream and then
// checks the store's count agrees, so a stream that lost or invented a
// completion fails the run.
func TestBenchCountsEveryTask(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and a worker twice")
	}
	t.Parallel()
	for _, prefill := range []bool{false, true} {
		var out bytes.Buffer
		rep, err := bench.Run(context.Background(), bench.Config{
			Binary: droverBin, Workers: 1, Concurrency: 8, Tasks: 300, Batch: 50, Samples: 3, Prefill: prefill, Out: &out,
		})
		t.Logf("prefill %v:\n%s", prefill, out.String())
		if err != nil {
			t.Fatalf("prefill %v: %v", prefill, err)
		}
		if rep.Tasks != 300 || rep.Seconds <= 0 || rep.TasksPerSecond <= 0 {
			t.Errorf("prefill %v: report %+v, want 300 tasks in a positive time", prefill, rep)
		}
	}
}
