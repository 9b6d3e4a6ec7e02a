package dispatch

import "sync"

// Hooks run in the order their store calls began, not the order the calls
// returned. A call's hooks run after its commit, so without this a call
// that began after another committed could still publish first: a worker
// polling the store can lease a task between its submit's commit and the
// submit's hook, and task_started would precede task_submitted on the
// event stream. Any call that can see a commit began after that commit, so
// running hooks in the calls' starting order puts every effect after its
// cause. Calls do not wait for each other: a call whose turn has not come
// leaves its hooks queued, and the call ahead runs them when it ends.
type hookOrder struct {
	mu      sync.Mutex
	next    uint64            // the number the next turn gets
	head    uint64            // the oldest turn whose hooks have not run
	ready   map[uint64]func() // hooks of turns that ended before their turn came
	running bool              // a goroutine is running hooks; it runs those that become ready too
}

// turn is one store call's place in the hook order. Take it just before
// the store call, queue the call's hooks on it, and end it on every path.
type turn struct {
	o   *hookOrder
	n   uint64
	fns []func()
}

// begin takes the next turn.
func (o *hookOrder) begin() *turn {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := &turn{o: o, n: o.next}
	o.next++
	return t
}

// later queues hook h with v to run in t's turn. The hook gets a copy of
// *v, as it may run after the call has returned v to its caller.
func later[T any](t *turn, h func(*T), v *T) {
	if h == nil || v == nil {
		return
	}
	c := *v
	t.fns = append(t.fns, func() { h(&c) })
}

// end marks t's call done. Its hooks run now if every earlier turn has
// ended, else when the last of them does.
func (t *turn) end() {
	o := t.o
	fns := t.fns
	o.mu.Lock()
	if o.ready == nil {
		o.ready = map[uint64]func(){}
	}
	o.ready[t.n] = func() {
		for _, f := range fns {
			f()
		}
	}
	if o.running {
		o.mu.Unlock()
		return
	}
	o.running = true
	finished := false
	defer func() { // a hook that panics must not stop every later hook
		if !finished {
			o.mu.Lock()
			o.running = false
			o.mu.Unlock()
		}
	}()
	for {
		run, ok := o.ready[o.head]
		if !ok {
			o.running = false
			finished = true
			o.mu.Unlock()
			return
		}
		delete(o.ready, o.head)
		o.head++
		o.mu.Unlock()
		run()
		o.mu.Lock()
	}
}
