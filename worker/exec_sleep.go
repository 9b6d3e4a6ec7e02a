package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/drover-run/drover/api"
)

type sleepPayload struct {
	Seconds *float64 `json:"seconds"`
}

// execSleep waits the given seconds, or until its task is stopped.
func execSleep(ctx context.Context, t *Task) (*api.TaskResult, error) {
	var p sleepPayload
	if err := decodePayload(t, &p); err != nil {
		return nil, err
	}
	if p.Seconds == nil {
		return nil, errors.New(`invalid sleep payload: "seconds" is required`)
	}
	s := *p.Seconds
	if s < 0 || math.IsNaN(s) || s > math.MaxInt64/float64(time.Second) {
		return nil, fmt.Errorf(`invalid sleep payload: "seconds" must be between 0 and %d`, math.MaxInt64/int64(time.Second))
	}
	d := time.Duration(s * float64(time.Second))
	if !sleepReporting(ctx, t, d) {
		return nil, context.Cause(ctx)
	}
	return &api.TaskResult{Output: fmt.Sprintf("slept %s", d)}, nil
}

// sleepReporting sleeps d, reporting progress every second of a sleep of
// two seconds or more; it returns false if ctx ended first.
func sleepReporting(ctx context.Context, t *Task, d time.Duration) bool {
	if t.progress == nil || d < 2*time.Second {
		return sleep(ctx, d)
	}
	start := time.Now()
	done := time.NewTimer(d)
	defer done.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-done.C:
			return true
		case now := <-tick.C:
			slept := now.Sub(start).Round(time.Second)
			t.Progress(float64(slept)/float64(d), fmt.Sprintf("slept %s of %s", slept, d))
		}
	}
}
