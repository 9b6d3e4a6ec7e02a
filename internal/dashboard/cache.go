package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/event"
)

// aggregates caches the costly aggregates pages show (task counts by
// state, queue loads): with 100,000 tasks stored, counting them takes
// longer than a page may (issue 13: 20 ms). An entry is fresh while the
// event bus has not moved since it was computed; once it has, the entry
// is still served, for up to maxAge with no recount and after that while
// one recount runs in the background. So every tab shares at most one
// count in flight per filter, and a page never waits on one it has
// already seen; the live stream's trailing refresh (live.go) shows the
// final figures once a burst of events ends.
type aggregates struct {
	bus    *event.Bus // nil: entries are fresh for maxAge
	maxAge time.Duration

	mu sync.Mutex
	m  map[string]*aggregate
}

type aggregate struct {
	ready  chan struct{} // closed once the first value is in
	val    any
	err    error
	at     time.Time
	cursor int64 // the bus's last id when the value was computed
	busy   bool  // a background recount is running
}

const maxAggregates = 512

func newAggregates(bus *event.Bus, maxAge time.Duration) *aggregates {
	return &aggregates{bus: bus, maxAge: maxAge, m: map[string]*aggregate{}}
}

func (c *aggregates) last() int64 {
	if c.bus == nil {
		return 0
	}
	return c.bus.Last()
}

// get is the value of key, computing it with compute when it has none.
func (c *aggregates) get(ctx context.Context, key string, compute func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	if !ok {
		if len(c.m) >= maxAggregates {
			clear(c.m) // a crude bound: filters are typed by hand
		}
		e = &aggregate{ready: make(chan struct{})}
		c.m[key] = e
		c.mu.Unlock()
		cursor := c.last()
		v, err := compute(ctx)
		c.mu.Lock()
		e.val, e.err, e.at, e.cursor = v, err, time.Now(), cursor
		if err != nil {
			delete(c.m, key) // the next request tries again
		}
		close(e.ready)
		c.mu.Unlock()
		return v, err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	stale := c.bus == nil && time.Since(e.at) >= c.maxAge || c.bus != nil && e.cursor != c.last()
	if stale && !e.busy {
		e.busy = true
		go c.recount(e, compute) // #nosec G118 -- a recount shared by every reader must outlive the request that started it; it has its own timeout
	}
	return e.val, nil
}

func (c *aggregates) recount(e *aggregate, compute func(context.Context) (any, error)) {
	c.mu.Lock()
	wait := c.maxAge - time.Since(e.at) // at most one recount per maxAge
	c.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cursor := c.last()
	v, err := compute(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	e.busy = false
	if err == nil {
		e.val, e.at, e.cursor = v, time.Now(), cursor
	}
}

// forget drops key, so that its next get computes it afresh: after an
// action of this server that changes it.
func (c *aggregates) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
