package dispatch

import (
	"container/list"
	"fmt"
	"slices"
	"sync"

	"github.com/drover-run/drover/internal/domain"
)

// Wake-ups. A long poll that finds no work waits as a waiter, filed under
// the queues its worker listens on and under its own id (for tasks pinned
// to it). When tasks become available, each wakes at most one waiter, one
// that is not already woken and whose worker can run the task, filed under
// the task's queue (or pin): a submit to one queue never wakes the waiters
// of another, and a submit of n tasks wakes at most n waiters, not the
// whole fleet.
//
// Why no wake-up is lost:
//   - A waiter is filed (free) before its first look for work, and filed
//     again right after each wake-up, before it looks again; so work that
//     appears after a look that found nothing always finds it free or
//     already woken.
//   - A task wakes only a waiter that can run it. If that waiter's look
//     finds nothing, the task is no longer waiting for anyone (another
//     worker took it, or it was cancelled), so no other waiter needed the
//     wake-up.
//   - A task that finds no free waiter able to run it leaves it to those
//     already woken: each of them looks for work before waiting again and
//     takes what it can run, up to its limit; a worker that leaves with
//     tasks comes back for more and looks first.
//   - A waiter that leaves with a wake-up it has not used (its poll ended,
//     or it found work before the wake-up arrived) passes it on to a free
//     waiter under its keys.
//
// Tasks that are not yet available (a retry's backoff) wake one waiter
// that can run them too: it looks again, finds them not due, and sleeps
// until the earliest due time the store reports.

// waiter is one long poll waiting for work.
type waiter struct {
	worker *domain.Worker
	keys   []string      // the queues its worker listens on, and its pin key
	ch     chan struct{} // holds the pending wake-up, if any
	woken  bool          // a wake-up is pending: it is in no free list
	elems  []*list.Element
}

// waker files waiters by key and wakes them. It is safe for concurrent use.
type waker struct {
	mu   sync.Mutex
	free map[string]*list.List // key -> waiters not woken, longest waiting first
}

func newWaker() *waker { return &waker{free: map[string]*list.List{}} }

func queueKey(q string) string { return "q\x00" + q }
func pinKey(id string) string  { return "p\x00" + id }
func taskKey(t *domain.Task) string {
	if t.DeviceID != "" {
		return pinKey(t.DeviceID)
	}
	return queueKey(t.Queue)
}

// add files a waiter for w, free.
func (k *waker) add(w *domain.Worker) *waiter {
	wt := &waiter{worker: w, ch: make(chan struct{}, 1), keys: []string{pinKey(w.ID)}}
	for _, q := range w.Queues {
		if key := queueKey(q); !slices.Contains(wt.keys, key) {
			wt.keys = append(wt.keys, key)
		}
	}
	wt.elems = make([]*list.Element, len(wt.keys))
	k.mu.Lock()
	defer k.mu.Unlock()
	k.file(wt)
	return wt
}

// rearm files wt again after it took its wake-up from wt.ch, before it
// looks for work again.
func (k *waker) rearm(wt *waiter) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if wt.woken {
		wt.woken = false
		k.file(wt)
	}
}

// remove withdraws wt; a wake-up it did not use goes to another waiter.
func (k *waker) remove(wt *waiter) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !wt.woken {
		k.unfile(wt)
		return
	}
	select {
	case <-wt.ch:
		wt.woken = false // taken by no one: pass it on
		for _, key := range wt.keys {
			if l := k.free[key]; l != nil && l.Len() > 0 {
				k.wake(l.Front().Value.(*waiter))
				return
			}
		}
	default: // taken, and the waiter looked again since
	}
}

// tasks wakes, for each pending task, one free waiter able to run it.
func (k *waker) tasks(ts []*domain.Task) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var none map[string]bool // task shapes no free waiter can run, in this call
	for _, t := range ts {
		if t.State != domain.TaskPending {
			continue
		}
		l := k.free[taskKey(t)]
		if l == nil || l.Len() == 0 {
			continue
		}
		if none != nil && none[shapeOf(t)] {
			continue
		}
		found := false
		for e := l.Front(); e != nil; e = e.Next() {
			if wt := e.Value.(*waiter); wt.worker.CanRun(t) {
				k.wake(wt)
				found = true
				break
			}
		}
		if !found {
			if none == nil {
				none = map[string]bool{}
			}
			none[shapeOf(t)] = true
		}
	}
}

// shapeOf is what decides which workers can run t.
func shapeOf(t *domain.Task) string {
	return fmt.Sprintf("%s\x00%s\x00%v", taskKey(t), t.Type, t.Requirements)
}

// all wakes every free waiter: for changes whose tasks are not known (a
// worker handing its tasks back, another server's writes).
func (k *waker) all() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, l := range k.free {
		for l.Len() > 0 {
			k.wake(l.Front().Value.(*waiter))
		}
	}
}

// keys wakes every free waiter filed under one of keys.
func (k *waker) keys(keys ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range keys {
		if l := k.free[key]; l != nil {
			for l.Len() > 0 {
				k.wake(l.Front().Value.(*waiter))
			}
		}
	}
}

// wake hands wt a wake-up and takes it out of the free lists. k.mu is held.
func (k *waker) wake(wt *waiter) {
	wt.woken = true
	k.unfile(wt)
	select {
	case wt.ch <- struct{}{}:
	default:
	}
}

// file puts wt at the back of its keys' free lists. k.mu is held.
func (k *waker) file(wt *waiter) {
	for i, key := range wt.keys {
		l := k.free[key]
		if l == nil {
			l = list.New()
			k.free[key] = l
		}
		wt.elems[i] = l.PushBack(wt)
	}
}

// unfile takes wt out of its keys' free lists. k.mu is held.
func (k *waker) unfile(wt *waiter) {
	for i, key := range wt.keys {
		if e := wt.elems[i]; e != nil {
			l := k.free[key]
			l.Remove(e)
			if l.Len() == 0 {
				delete(k.free, key)
			}
			wt.elems[i] = nil
		}
	}
}

// waiting counts the free waiters filed under key, for tests.
func (k *waker) waiting(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l := k.free[key]; l != nil {
		return l.Len()
	}
	return 0
}
