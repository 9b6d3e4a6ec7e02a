package dispatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// coalescer is group commit for calls the store can make many at once: the
// calls that arrive while a batch is in flight wait, and go together as the
// next batch, so under load a batch holds what arrived during one store
// round trip, and a lone call goes at once.
//
// It has no goroutine of its own. The caller that finds no batch running
// runs one (its own call first, then those waiting, up to max), answers
// every call in it, and hands the turn to the first call still waiting.
//
// Invariants: at most one batch runs at a time; the call whose turn it is
// heads the queue; a call is answered exactly once, after its batch ran, or
// with its ctx's error if it gave up before a batch took it. A call a batch
// has taken waits for the batch (bounded by timeout).
type coalescer[Q, R any] struct {
	run     func(ctx context.Context, qs []Q) ([]R, error) // one result per query, in order
	max     int
	timeout time.Duration // bounds one batch, whatever its callers' contexts

	mu      sync.Mutex
	queue   []*coalesced[Q, R]
	running bool // a caller runs a batch, or has been handed the turn
}

type coalesced[Q, R any] struct {
	ctx context.Context
	q   Q
	r   R
	err error
	// ready is closed when the call is answered, or when it is its turn to
	// run a batch (turn says which).
	ready chan struct{}
	turn  bool // under mu until ready is closed
	taken bool // a batch took it; under mu
}

func newCoalescer[Q, R any](max int, timeout time.Duration, run func(ctx context.Context, qs []Q) ([]R, error)) *coalescer[Q, R] {
	return &coalescer[Q, R]{run: run, max: max, timeout: timeout}
}

// do runs q in the next batch and returns its result.
func (c *coalescer[Q, R]) do(ctx context.Context, q Q) (R, error) {
	call := &coalesced[Q, R]{ctx: ctx, q: q, ready: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	if !c.running {
		c.running, call.turn = true, true
		close(call.ready)
	}
	c.mu.Unlock()
	select {
	case <-call.ready:
	case <-ctx.Done():
		if c.withdraw(call) {
			var zero R
			return zero, ctx.Err()
		}
		<-call.ready
	}
	if call.turn {
		c.runBatch()
	}
	return call.r, call.err
}

// withdraw takes call out of the queue, unless a batch took it or it is its
// turn to run one.
func (c *coalescer[Q, R]) withdraw(call *coalesced[Q, R]) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if call.turn || call.taken {
		return false
	}
	c.queue = slices.DeleteFunc(c.queue, func(x *coalesced[Q, R]) bool { return x == call })
	return true
}

// runBatch runs the calls at the head of the queue (the caller's own
// first), answers them, and hands the turn on.
func (c *coalescer[Q, R]) runBatch() {
	c.mu.Lock()
	n := min(len(c.queue), c.max)
	batch := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	for _, x := range batch {
		x.taken = true
	}
	c.mu.Unlock()

	live := make([]*coalesced[Q, R], 0, len(batch))
	qs := make([]Q, 0, len(batch))
	for _, x := range batch {
		if x.err = x.ctx.Err(); x.err == nil { // a caller gone before the batch ran is left out
			live, qs = append(live, x), append(qs, x.q)
		}
	}
	if len(qs) > 0 {
		// The batch is everyone's: no one caller's cancellation ends it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), c.timeout)
		rs, err := c.run(ctx, qs)
		cancel()
		if err == nil && len(rs) != len(qs) {
			err = fmt.Errorf("dispatch: a batch of %d calls got %d results", len(qs), len(rs))
		}
		for i, x := range live {
			if x.err = err; err == nil {
				x.r = rs[i]
			}
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range batch {
		if !x.turn { // the runner's own ready is closed already
			close(x.ready)
		}
	}
	if len(c.queue) > 0 {
		next := c.queue[0]
		next.turn = true
		close(next.ready)
	} else {
		c.running = false
	}
}
