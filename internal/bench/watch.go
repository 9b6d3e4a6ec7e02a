package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

// watcher counts the run's tasks done as the live event stream reports
// them, as River's benchmark counts completions from its own event
// subscription. It costs the server what any stream subscriber costs it.
// Polling the task counts instead made the store count the whole queue
// four times a second: on PostgreSQL a sixth of its CPU at 30,000 tasks,
// and more the longer the queue, measuring the poller more than the cluster.
type watcher struct {
	mu     sync.Mutex
	seen   map[string]bool // ids whose end the stream reported: true if completed
	ours   map[string]bool // ids the run submitted
	done   int             // of ours, completed
	failed string          // the first of ours that failed
	target int             // done is enough at this many (0: not known yet)
	endAt  time.Time       // when done reached target
	end    chan struct{}   // closed then, or on the first failure
	ended  bool
	stop   context.CancelFunc
	errc   chan error
}

// watch starts reading the stream from the newest stored event on, so
// that no completion of a task submitted after watch returns is missed.
func watch(ctx context.Context, c *client.Client) (*watcher, error) {
	logs, err := c.Cluster.Logs(ctx, client.LogOptions{Level: "debug", Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("reading the newest event: %w", err)
	}
	var from int64 = 1 // an empty log: from its beginning
	if len(logs.Logs) > 0 {
		from = logs.Logs[0].ID
	}
	sctx, stop := context.WithCancel(ctx)
	w := &watcher{seen: map[string]bool{}, ours: map[string]bool{}, end: make(chan struct{}), stop: stop, errc: make(chan error, 1)}
	go func() {
		w.errc <- c.Monitor.StreamWith(sctx, client.StreamOptions{
			Types: []string{"task_completed", "task_failed"}, LastEventID: from, Reconnect: 100 * time.Millisecond,
		}, func(ev api.StreamEvent) error { w.saw(ev); return nil })
	}()
	return w, nil
}

// saw takes one event off the stream.
func (w *watcher) saw(ev api.StreamEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.seen[ev.TaskID]; dup {
		return
	}
	ok := ev.Type == "task_completed"
	w.seen[ev.TaskID] = ok
	if w.ours[ev.TaskID] {
		w.count(ev.TaskID, ok)
	}
}

// expect adds tasks the run submitted; some may have ended already.
func (w *watcher) expect(ids []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if w.ours[id] {
			continue
		}
		w.ours[id] = true
		if ok, ended := w.seen[id]; ended {
			w.count(id, ok)
		}
	}
}

// count records that task id of ours ended. w.mu is held.
func (w *watcher) count(id string, ok bool) {
	if !ok && w.failed == "" {
		w.failed = id
	}
	if ok {
		w.done++
	}
	w.check()
}

// check ends the wait once the target is met or a task failed. w.mu is held.
func (w *watcher) check() {
	if w.ended || (w.failed == "" && (w.target == 0 || w.done < w.target)) {
		return
	}
	w.ended, w.endAt = true, time.Now()
	close(w.end)
}

// wait returns when n of the run's tasks have completed, with the time the
// last completion arrived. The store's counts are read every few seconds
// too: should the stream miss an event, the run fails, saying so, rather
// than hang.
func (w *watcher) wait(ctx context.Context, c *client.Client, queue string, n, base int) (time.Time, error) {
	defer w.stop()
	w.mu.Lock()
	w.target = n
	w.check()
	w.mu.Unlock()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	deadline := time.After(30 * time.Minute)
	var grace <-chan time.Time // running once the store shows every task done
	for {
		select {
		case <-w.end:
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.failed != "" {
				return time.Time{}, fmt.Errorf("bench task %s failed", w.failed)
			}
			return w.endAt, nil
		case <-t.C:
			if grace != nil {
				continue
			}
			if got, err := completed(ctx, c, queue); err != nil {
				return time.Time{}, err
			} else if got >= base+n {
				grace = time.After(10 * time.Second) // the stream trails the store by its write batches
			}
		case <-grace:
			w.mu.Lock()
			defer w.mu.Unlock()
			return time.Time{}, fmt.Errorf("the store has every task completed, but the event stream reported %d of %d", w.done, n)
		case err := <-w.errc:
			return time.Time{}, fmt.Errorf("event stream: %w", err)
		case <-deadline:
			return time.Time{}, errors.New("timed out waiting for the tasks to complete")
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}
