package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// QueuePauseList returns the paused queues, by name.
func (s *Store) QueuePauseList(ctx context.Context) ([]store.QueuePause, error) {
	rows, err := s.pool.Query(ctx, `SELECT queue, paused_at FROM queue_pauses ORDER BY queue`)
	if err != nil {
		return nil, translate(err)
	}
	var (
		out []store.QueuePause
		q   store.QueuePause
	)
	_, err = pgx.ForEachRow(rows, []any{&q.Queue, &q.PausedAt}, func() error {
		out = append(out, q)
		return nil
	})
	return out, translate(err)
}

// QueueSetPaused pauses (a row in queue_pauses) or resumes (no row) a queue.
func (s *Store) QueueSetPaused(ctx context.Context, p *store.QueueSetPausedParams) error {
	if p.Name == "" {
		return domain.Errorf(domain.CodeValidation, "a queue needs a name")
	}
	var err error
	if p.Paused {
		_, err = s.exec(ctx, `INSERT INTO queue_pauses (queue, paused_at) VALUES ($1, coalesce($2::timestamptz, now()))
			ON CONFLICT (queue) DO NOTHING`, p.Name, timeArg(p.Now))
	} else {
		_, err = s.exec(ctx, `DELETE FROM queue_pauses WHERE queue = $1`, p.Name)
	}
	return err
}

// TaskFind lists tasks matching the filter, newest first.
func (s *Store) TaskFind(ctx context.Context, p *store.TaskFindParams) ([]*domain.Task, error) {
	w := &where{}
	if p.Queue != "" {
		w.add("t.queue = ?", p.Queue)
	}
	if len(p.States) > 0 {
		states := make([]string, len(p.States))
		for i, st := range p.States {
			states[i] = string(st)
		}
		w.add("t.state = ANY(?::text[])", states)
	}
	if len(p.Workers) > 0 {
		// A lease sets last_device_id too, so it names the running worker as well as the last one.
		w.add("t.last_device_id = ANY(?::text[])", p.Workers)
	}
	sql := `SELECT ` + taskColumns + ` FROM tasks t` + w.sql() + ` ORDER BY t.created_at DESC, t.id DESC`
	sql += w.page(p.Limit, p.Offset)
	return s.queryTasks(ctx, sql, w.args...)
}

// WorkerSetSuspended sets or clears a worker's suspended_at; a second
// suspension keeps the first one's time.
func (s *Store) WorkerSetSuspended(ctx context.Context, p *store.WorkerSetSuspendedParams) error {
	var (
		n   int64
		err error
	)
	if p.Suspended {
		n, err = s.exec(ctx, `UPDATE workers SET suspended_at = coalesce(suspended_at, $2::timestamptz, now())
			WHERE id = $1 AND state <> 'removed'`, p.ID, timeArg(p.Now))
	} else {
		n, err = s.exec(ctx, `UPDATE workers SET suspended_at = NULL WHERE id = $1 AND state <> 'removed'`, p.ID)
	}
	if err == nil && n == 0 {
		return domain.ErrNotFound
	}
	return err
}

// WorkerSuspendedList returns the suspended workers with their suspension times.
func (s *Store) WorkerSuspendedList(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, suspended_at FROM workers WHERE suspended_at IS NOT NULL AND state <> 'removed'`)
	if err != nil {
		return nil, translate(err)
	}
	out := map[string]time.Time{}
	var (
		id string
		at time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		out[id] = at
		return nil
	})
	return out, translate(err)
}

// WorkerStatusList reads the status columns of the matching workers, the
// running-lease counts in one pass over the running tasks' index.
func (s *Store) WorkerStatusList(ctx context.Context, p *store.WorkerStatusListParams) ([]store.WorkerStatus, error) {
	w := &where{}
	w.add("w.state <> 'removed'")
	if p.ID != "" {
		w.add("w.id = ?", p.ID)
	}
	if p.Hostname != "" {
		w.add("w.hostname = ?", p.Hostname)
	}
	if p.Queue != "" {
		w.add("? = ANY(w.queues)", p.Queue)
	}
	rows, err := s.pool.Query(ctx, `SELECT w.id, w.name, w.hostname, w.queues, w.pid, w.state, w.registered_at, w.last_seen,
			w.tasks_completed, w.tasks_failed, coalesce(r.n, 0), w.suspended_at
		FROM workers w LEFT JOIN (SELECT lease_owner, count(*) AS n FROM tasks WHERE state = 'running' GROUP BY lease_owner) r
			ON r.lease_owner = w.id`+w.sql()+` ORDER BY w.id`, w.args...)
	if err != nil {
		return nil, translate(err)
	}
	var out []store.WorkerStatus
	var (
		wk               domain.Worker
		state            string
		registered, seen time.Time
		suspendedAt      *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&wk.ID, &wk.Name, &wk.Hostname, &wk.Queues, &wk.PID, &state, &registered, &seen,
		&wk.TasksCompleted, &wk.TasksFailed, &wk.TasksActive, &suspendedAt}, func() error {
		w := wk
		w.Queues = slices.Clone(wk.Queues) // the scan target is reused
		w.State, w.RegisteredAt, w.LastSeen = domain.WorkerState(state), registered.UTC(), seen.UTC()
		ws := store.WorkerStatus{Worker: &w}
		if suspendedAt != nil {
			ws.SuspendedAt = suspendedAt.UTC()
		}
		out = append(out, ws)
		return nil
	})
	return out, translate(err)
}

// WorkerLeaseGate reports whether the worker is suspended or draining.
func (s *Store) WorkerLeaseGate(ctx context.Context, id string) (bool, error) {
	var gated bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM workers
		WHERE id = $1 AND (suspended_at IS NOT NULL OR state = 'draining'))`, id).Scan(&gated)
	return gated, translate(err)
}
