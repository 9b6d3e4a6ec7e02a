package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// QueuePauseList returns the paused queues, by name.
func (s *Store) QueuePauseList(ctx context.Context) ([]store.QueuePause, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT queue, paused_at FROM queue_pauses ORDER BY queue`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.QueuePause
	for rows.Next() {
		var q store.QueuePause
		var at int64
		if err := rows.Scan(&q.Queue, &at); err != nil {
			return nil, interpretError(err)
		}
		q.PausedAt = fromMicros(at)
		out = append(out, q)
	}
	return out, interpretError(rows.Err())
}

// QueueSetPaused pauses (a row in queue_pauses) or resumes (no row) a queue.
func (s *Store) QueueSetPaused(ctx context.Context, p *store.QueueSetPausedParams) error {
	if p.Name == "" {
		return domain.Errorf(domain.CodeValidation, "a queue needs a name")
	}
	query, args := `DELETE FROM queue_pauses WHERE queue = $1`, []any{p.Name}
	if p.Paused {
		query = `INSERT INTO queue_pauses (queue, paused_at) VALUES ($1, $2) ON CONFLICT (queue) DO NOTHING`
		args = append(args, micros(now(p.Now)))
	}
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
	return interpretError(err)
}

// TaskFind lists tasks matching the filter, newest first.
func (s *Store) TaskFind(ctx context.Context, p *store.TaskFindParams) ([]*domain.Task, error) {
	var (
		args  sqlArgs
		conds []string
	)
	if p.Queue != "" {
		conds = append(conds, `queue = `+args.add(p.Queue))
	}
	if len(p.States) > 0 {
		states := make([]string, len(p.States))
		for i, st := range p.States {
			states[i] = args.add(string(st))
		}
		conds = append(conds, `state IN (`+strings.Join(states, ", ")+`)`)
	}
	if len(p.Workers) > 0 {
		ws, err := jsonText(p.Workers)
		if err != nil {
			return nil, err
		}
		// A lease sets last_device_id too, so it names the running worker as well as the last one.
		conds = append(conds, `last_device_id IN (SELECT value FROM json_each(`+args.add(ws)+`))`)
	}
	query := `SELECT ` + taskColumns + ` FROM tasks`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, " AND ")
	}
	query += ` ORDER BY seq DESC LIMIT ` + args.add(limitOrAll(p.Limit)) + ` OFFSET ` + args.add(max(p.Offset, 0))
	rows, err := queryTasks(ctx, s.read, query, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	return tasksOf(rows), nil
}

// WorkerSetSuspended sets or clears a worker's suspended_at.
func (s *Store) WorkerSetSuspended(ctx context.Context, p *store.WorkerSetSuspendedParams) error {
	if !p.Suspended {
		return s.updateWorker(ctx, `UPDATE workers SET suspended_at = 0 WHERE id = $1 AND state <> 'removed'`, p.ID)
	}
	// A second suspension keeps the first one's time.
	return s.updateWorker(ctx, `UPDATE workers SET suspended_at = CASE suspended_at WHEN 0 THEN $2 ELSE suspended_at END
		WHERE id = $1 AND state <> 'removed'`, p.ID, micros(now(p.Now)))
}

// WorkerSuspendedList returns the suspended workers with their suspension times.
func (s *Store) WorkerSuspendedList(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, suspended_at FROM workers WHERE suspended_at <> 0 AND state <> 'removed'`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, interpretError(err)
		}
		out[id] = fromMicros(at)
	}
	return out, interpretError(rows.Err())
}

// WorkerStatusList reads the status columns of the matching workers, the
// running-lease counts in one pass over the running tasks' index.
func (s *Store) WorkerStatusList(ctx context.Context, p *store.WorkerStatusListParams) ([]store.WorkerStatus, error) {
	var args sqlArgs
	query := `SELECT w.id, w.name, w.hostname, w.queues, w.pid, w.state, w.registered_at, w.last_seen,
			w.tasks_completed, w.tasks_failed, coalesce(r.n, 0), w.suspended_at
		FROM workers w LEFT JOIN (SELECT lease_owner, count(*) AS n FROM tasks WHERE state = 'running' GROUP BY lease_owner) r
			ON r.lease_owner = w.id
		WHERE w.state <> 'removed'`
	if p.ID != "" {
		query += ` AND w.id = ` + args.add(p.ID)
	}
	if p.Hostname != "" {
		query += ` AND w.hostname = ` + args.add(p.Hostname)
	}
	if p.Queue != "" {
		query += ` AND EXISTS (SELECT 1 FROM json_each(w.queues) q WHERE q.value = ` + args.add(p.Queue) + `)`
	}
	rows, err := s.read.QueryContext(ctx, query+` ORDER BY w.id`, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.WorkerStatus
	for rows.Next() {
		var (
			w                             domain.Worker
			queues                        sql.NullString
			state                         string
			registered, seen, suspendedAt int64
		)
		if err := rows.Scan(&w.ID, &w.Name, &w.Hostname, &queues, &w.PID, &state, &registered, &seen,
			&w.TasksCompleted, &w.TasksFailed, &w.TasksActive, &suspendedAt); err != nil {
			return nil, interpretError(err)
		}
		if err := decodeJSON(queues, &w.Queues); err != nil {
			return nil, err
		}
		w.State, w.RegisteredAt, w.LastSeen = domain.WorkerState(state), fromMicros(registered), fromMicros(seen)
		ws := store.WorkerStatus{Worker: &w}
		if suspendedAt != 0 {
			ws.SuspendedAt = fromMicros(suspendedAt)
		}
		out = append(out, ws)
	}
	return out, interpretError(rows.Err())
}

// leaseGateSQL is whether worker $1 may lease nothing now. Every long poll
// that finds nothing asks it, so it is a hot read (stmt.go).
const leaseGateSQL = `SELECT EXISTS (SELECT 1 FROM workers
		WHERE id = $1 AND (suspended_at <> 0 OR state = 'draining'))`

// WorkerLeaseGate reports whether the worker is suspended or draining.
func (s *Store) WorkerLeaseGate(ctx context.Context, id string) (bool, error) {
	var gated bool
	err := s.hotRead[leaseGateSQL].QueryRowContext(ctx, id).Scan(&gated)
	return gated, interpretError(err)
}
