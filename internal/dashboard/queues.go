package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/queue"
)

// queueListKey is the aggregate cache's key of the queue list: it counts
// every stored task by queue and state, which takes longer than a page may.
const queueListKey = "queue list"

type queueRow struct {
	*domain.Queue
	Pending, Running, Failed int64
	Waited                   time.Duration // how long the oldest pending task has waited
}

func (d *Dashboard) queues(w http.ResponseWriter, r *http.Request, v *viewer) error {
	qs, err := cachedAs[[]*domain.Queue](d, r.Context(), queueListKey, func(ctx context.Context) (any, error) { return d.opts.Queues.List(ctx) })
	if err != nil {
		return err
	}
	now := d.opts.Engine.Now()
	rows := make([]queueRow, len(qs))
	for i, q := range qs {
		rows[i] = queueRow{Queue: q, Pending: q.Counts[domain.TaskPending], Running: q.Counts[domain.TaskRunning], Failed: q.Counts[domain.TaskFailed]}
		if !q.OldestPending.IsZero() {
			rows[i].Waited = now.Sub(q.OldestPending)
		}
	}
	return d.render(w, r, "queues", v, rows)
}

func (d *Dashboard) pauseQueue(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	return d.setPaused(w, r, true)
}

func (d *Dashboard) resumeQueue(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	return d.setPaused(w, r, false)
}

func (d *Dashboard) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	name := r.PathValue("name")
	set, msg := d.opts.Queues.Resume, "Queue "+name+" resumed: its tasks are leased again."
	if paused {
		set, msg = d.opts.Queues.Pause, "Queue "+name+" paused: it takes tasks and leases none until resumed."
	}
	if _, err := set(r.Context(), auth.ActorOf(r), name); err != nil {
		return err
	}
	// The page this redirects to shows the pause it just made, not the
	// cached list from before it.
	d.aggs.forget(queueListKey)
	d.back(w, r, "/ui/queues", msg)
	return nil
}

// workerView is the queue engine's view of one worker (its suspension),
// or the zero view without a queue engine.
func (d *Dashboard) workerView(ctx context.Context, id string) (queue.WorkerView, error) {
	if d.opts.Queues == nil {
		return queue.WorkerView{}, nil
	}
	vs, err := d.opts.Queues.Workers(ctx, queue.WorkerQuery{Name: id})
	if err != nil || len(vs) == 0 {
		return queue.WorkerView{}, err
	}
	return vs[0], nil
}

// drain is the queue engine's worker suspension: the worker finishes what
// it runs and leases nothing new until resumed.
func (d *Dashboard) drain(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id := r.PathValue("id")
	if _, err := d.opts.Queues.SuspendWorker(r.Context(), auth.ActorOf(r), id); err != nil {
		return err
	}
	d.back(w, r, "/ui/devices/"+url.PathEscape(id), "Device draining: it finishes what it runs and takes nothing new until resumed.")
	return nil
}

func (d *Dashboard) undrain(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id := r.PathValue("id")
	if _, err := d.opts.Queues.ResumeWorker(r.Context(), auth.ActorOf(r), id); err != nil {
		return err
	}
	d.back(w, r, "/ui/devices/"+url.PathEscape(id), "Device resumed: it takes work again.")
	return nil
}
