package client

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestPollerBacksOffAndResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Client{pollInterval: time.Second}
		p := c.poller()
		pauses := func(n int) []time.Duration {
			var got []time.Duration
			for range n {
				start := time.Now()
				if err := p.wait(t.Context()); err != nil {
					t.Fatalf("wait = %v", err)
				}
				got = append(got, time.Since(start))
			}
			return got
		}

		want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
			400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
		if got := pauses(len(want)); !slices.Equal(got, want) {
			t.Errorf("pauses %v, want %v", got, want)
		}
		p.reset()
		if got := pauses(1); got[0] != firstPoll {
			t.Errorf("pause after reset %v, want %v", got[0], firstPoll)
		}
	})
}

func TestPollerStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Client{pollInterval: time.Hour}
		p := c.poller()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if err := p.wait(ctx); err != context.DeadlineExceeded {
			t.Errorf("wait = %v, want context.DeadlineExceeded", err)
		}
	})
}
