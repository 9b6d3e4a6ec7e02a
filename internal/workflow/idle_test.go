package workflow_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleCPU is the share of one core this process uses over d.
func idleCPU(d time.Duration) float64 {
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(d)
	return float64(cpuTime()-c0) / float64(time.Since(t0))
}

// TestCronIdleCPU measures what 10,000 cron schedules cost a server that has
// nothing else to do. It takes a minute, so it runs only with
// DROVER_MEASURE=1: DROVER_MEASURE=1 go test ./internal/workflow -run IdleCPU -v
func TestCronIdleCPU(t *testing.T) {
	if os.Getenv("DROVER_MEASURE") == "" {
		t.Skip("a measurement: set DROVER_MEASURE=1")
	}
	srv := drovertest.NewServer(t, drovertest.Options{})
	const window = 20 * time.Second
	time.Sleep(2 * time.Second) // leadership, first passes
	before := idleCPU(window)

	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range 10000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Daily schedules spread over the day (about seven ticks a minute).
			_, err := srv.Client.Workflows.Create(context.Background(), api.CreateWorkflowRequest{Name: fmt.Sprintf("daily-%d", i),
				Schedule: fmt.Sprintf("%d %d * * *", i%60, (i/60)%24), Timezone: "Europe/Berlin",
				Steps: []api.WorkflowStep{{Name: "s", TaskType: "echo"}}})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	time.Sleep(2 * time.Second)
	after := idleCPU(window)
	t.Logf("idle CPU of the server process: %.2f%% of a core without schedules, %.2f%% with 10,000 (difference %.2f points)",
		100*before, 100*after, 100*(after-before))
	if after-before > 0.05 {
		t.Errorf("10,000 schedules add %.1f%% CPU when idle; the target is under 5%%", 100*(after-before))
	}
}
