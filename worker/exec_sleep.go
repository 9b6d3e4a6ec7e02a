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
	if !sleep(ctx, d) {
		return nil, context.Cause(ctx)
	}
	return &api.TaskResult{Output: fmt.Sprintf("slept %s", d)}, nil
}
