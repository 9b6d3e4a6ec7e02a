package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

const poolColumns = `id, name, points, min_points, max_points, worker, provider, provider_config,
	autoscale, drain_timeout_us, created_at, updated_at, scaled_at`

func scanPool(sc scanner) (*domain.Pool, error) {
	var (
		p                         domain.Pool
		worker, config, autoscale string
		drain                     int64
		created, updated, scaled  int64
	)
	err := sc.Scan(&p.ID, &p.Name, &p.Points, &p.MinPoints, &p.MaxPoints, &worker, &p.Provider, &config,
		&autoscale, &drain, &created, &updated, &scaled)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(worker), &p.Worker); err != nil {
		return nil, fmt.Errorf("sqlite: pool %d: worker: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(autoscale), &p.Autoscale); err != nil {
		return nil, fmt.Errorf("sqlite: pool %d: autoscale: %w", p.ID, err)
	}
	p.ProviderConfig = json.RawMessage(config)
	p.DrainTimeout = time.Duration(drain) * time.Microsecond
	p.CreatedAt, p.UpdatedAt, p.ScaledAt = fromMicros(created), fromMicros(updated), fromMicros(scaled)
	return &p, nil
}

// poolDocs encodes a pool's JSON columns.
func poolDocs(p *domain.Pool) (worker, config, autoscale string, err error) {
	if worker, err = jsonText(p.Worker); err != nil {
		return
	}
	if autoscale, err = jsonText(p.Autoscale); err != nil {
		return
	}
	config = string(p.ProviderConfig)
	if config == "" {
		config = "{}"
	}
	return
}

func insertPoolEvent(ctx context.Context, tx *sql.Tx, e *domain.PoolEvent) error {
	return tx.QueryRowContext(ctx, `INSERT INTO pool_events (pool_id, actor, reason, from_points, to_points, at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		e.PoolID, e.Actor, e.Reason, e.From, e.To, micros(e.At)).Scan(&e.ID)
}

// PoolInsert stores a new pool and its first event.
func (s *Store) PoolInsert(ctx context.Context, p *store.PoolInsertParams) (*domain.Pool, error) {
	pl := p.Pool
	worker, config, autoscale, err := poolDocs(pl)
	if err != nil {
		return nil, err
	}
	at := micros(now(p.Now))
	var id any
	if pl.ID > 0 {
		id = pl.ID
	}
	var out *domain.Pool
	err = s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		out, err = scanPool(tx.QueryRowContext(ctx, `INSERT INTO pools (id, name, points, min_points, max_points,
				worker, provider, provider_config, autoscale, drain_timeout_us, created_at, updated_at, scaled_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11) RETURNING `+poolColumns,
			id, pl.Name, pl.Points, pl.MinPoints, pl.MaxPoints, worker, pl.Provider, config, autoscale,
			pl.DrainTimeout.Microseconds(), at))
		if err != nil {
			return err
		}
		return insertPoolEvent(ctx, tx, &domain.PoolEvent{PoolID: out.ID, Actor: p.Actor, Reason: "created",
			From: 0, To: out.Points, At: out.CreatedAt})
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

// PoolGet returns one pool.
func (s *Store) PoolGet(ctx context.Context, id int64) (*domain.Pool, error) {
	p, err := scanPool(s.read.QueryRowContext(ctx, `SELECT `+poolColumns+` FROM pools WHERE id = $1`, id))
	return p, interpretError(err)
}

// PoolList lists pools by id.
func (s *Store) PoolList(ctx context.Context, p *store.PoolListParams) ([]*domain.Pool, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+poolColumns+` FROM pools ORDER BY id LIMIT $1`, limitOrAll(p.Limit))
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*domain.Pool
	for rows.Next() {
		pl, err := scanPool(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, pl)
	}
	return out, interpretError(rows.Err())
}

// PoolUpdate replaces a pool's settings, never its points.
func (s *Store) PoolUpdate(ctx context.Context, p *store.PoolUpdateParams) (*domain.Pool, error) {
	pl := p.Pool
	worker, config, autoscale, err := poolDocs(pl)
	if err != nil {
		return nil, err
	}
	var out *domain.Pool
	err = s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		out, err = scanPool(tx.QueryRowContext(ctx, `UPDATE pools SET name = $2, min_points = $3, max_points = $4,
				worker = $5, provider = $6, provider_config = $7, autoscale = $8, drain_timeout_us = $9, updated_at = $10
			WHERE id = $1 RETURNING `+poolColumns,
			pl.ID, pl.Name, pl.MinPoints, pl.MaxPoints, worker, pl.Provider, config, autoscale,
			pl.DrainTimeout.Microseconds(), micros(now(p.Now))))
		return err
	})
	return out, interpretError(err)
}

// PoolScale sets a pool's points and records the change.
func (s *Store) PoolScale(ctx context.Context, p *store.PoolScaleParams) (*domain.Pool, *domain.PoolEvent, error) {
	var (
		out *domain.Pool
		ev  *domain.PoolEvent
	)
	at := now(p.Now)
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ev = nil
		cur, err := scanPool(tx.QueryRowContext(ctx, `SELECT `+poolColumns+` FROM pools WHERE id = $1`, p.ID))
		if err != nil {
			return err
		}
		if cur.Points == p.Points {
			out = cur
			return nil
		}
		out, err = scanPool(tx.QueryRowContext(ctx, `UPDATE pools SET points = $2, scaled_at = $3, updated_at = $3
			WHERE id = $1 RETURNING `+poolColumns, p.ID, p.Points, micros(at)))
		if err != nil {
			return err
		}
		ev = &domain.PoolEvent{PoolID: p.ID, Actor: p.Actor, Reason: p.Reason, From: cur.Points, To: p.Points, At: at}
		return insertPoolEvent(ctx, tx, ev)
	})
	if err != nil {
		return nil, nil, interpretError(err)
	}
	return out, ev, nil
}

// PoolDelete deletes a pool and its events.
func (s *Store) PoolDelete(ctx context.Context, id int64) error {
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM pools WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, domain.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM pool_events WHERE pool_id = $1`, id)
		return err
	}))
}

// PoolEventList lists a pool's events, newest first.
func (s *Store) PoolEventList(ctx context.Context, p *store.PoolEventListParams) ([]*domain.PoolEvent, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, pool_id, actor, reason, from_points, to_points, at
		FROM pool_events WHERE pool_id = $1 ORDER BY id DESC LIMIT $2`, p.PoolID, limitOrAll(p.Limit))
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*domain.PoolEvent
	for rows.Next() {
		var (
			e  domain.PoolEvent
			at int64
		)
		if err := rows.Scan(&e.ID, &e.PoolID, &e.Actor, &e.Reason, &e.From, &e.To, &at); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		out = append(out, &e)
	}
	return out, interpretError(rows.Err())
}

// PoolWorkerList lists a pool's workers.
func (s *Store) PoolWorkerList(ctx context.Context, p *store.PoolWorkerListParams) ([]*domain.Worker, error) {
	var args sqlArgs
	query := `SELECT ` + workerColumns + ` FROM workers w WHERE w.state <> 'removed'`
	if p.PoolID != 0 {
		query += ` AND w.pool_id = ` + args.add(p.PoolID)
	} else {
		query += ` AND w.pool_id <> 0`
	}
	if p.Live {
		query += ` AND w.state IN ('online', 'draining')`
	}
	ws, err := queryWorkers(ctx, s.read, query+` ORDER BY w.id`, args...)
	return ws, interpretError(err)
}

// PoolDrainStart moves a live worker to draining and records its deadline.
func (s *Store) PoolDrainStart(ctx context.Context, p *store.PoolDrainStartParams) error {
	at := micros(now(p.Now))
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE workers SET state = 'draining'
			WHERE id = $1 AND state IN ('online', 'draining')`, p.WorkerID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, domain.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pool_drains (worker_id, pool_id, deadline, started_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (worker_id) DO NOTHING`, p.WorkerID, p.PoolID, micros(p.Deadline), at)
		return err
	}))
}

// PoolDrainList lists drains in progress.
func (s *Store) PoolDrainList(ctx context.Context, poolID int64) ([]store.PoolDrain, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT worker_id, pool_id, deadline, started_at FROM pool_drains
		WHERE $1 = 0 OR pool_id = $1 ORDER BY worker_id`, poolID)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.PoolDrain
	for rows.Next() {
		var (
			d                 store.PoolDrain
			deadline, started int64
		)
		if err := rows.Scan(&d.WorkerID, &d.PoolID, &deadline, &started); err != nil {
			return nil, err
		}
		d.Deadline, d.Started = fromMicros(deadline), fromMicros(started)
		out = append(out, d)
	}
	return out, interpretError(rows.Err())
}

// PoolDrainEnd forgets a worker's drain.
func (s *Store) PoolDrainEnd(ctx context.Context, workerID string) error {
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM pool_drains WHERE worker_id = $1`, workerID)
		return err
	}))
}

// PoolQueueStats measures the backlog of some queues.
func (s *Store) PoolQueueStats(ctx context.Context, p *store.PoolQueueStatsParams) (*store.PoolQueueStats, error) {
	out := &store.PoolQueueStats{}
	if len(p.Queues) == 0 {
		return out, nil
	}
	queues, err := jsonText(p.Queues)
	if err != nil {
		return nil, err
	}
	var oldest sql.NullInt64
	err = s.read.QueryRowContext(ctx, `SELECT
			coalesce(sum(state = 'pending' AND available_at <= $2), 0),
			coalesce(sum(state = 'running'), 0),
			min(CASE WHEN state = 'pending' AND available_at <= $2 THEN available_at END)
		FROM tasks WHERE state IN ('pending', 'running') AND device_id = ''
			AND queue IN (SELECT value FROM json_each($1))`, queues, micros(now(p.Now))).
		Scan(&out.Pending, &out.Running, &oldest)
	if err != nil {
		return nil, interpretError(err)
	}
	if oldest.Valid {
		out.OldestPending = fromMicros(oldest.Int64)
	}
	return out, nil
}
