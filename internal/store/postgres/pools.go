package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

const poolColumns = `id, name, points, min_points, max_points, worker, provider, provider_config,
	autoscale, drain_timeout, created_at, updated_at, scaled_at`

func scanPool(row pgx.Row) (*domain.Pool, error) {
	var (
		p                         domain.Pool
		worker, config, autoscale []byte
	)
	err := row.Scan(&p.ID, &p.Name, &p.Points, &p.MinPoints, &p.MaxPoints, &worker, &p.Provider, &config,
		&autoscale, &p.DrainTimeout, &p.CreatedAt, &p.UpdatedAt, &p.ScaledAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(worker, &p.Worker); err != nil {
		return nil, fmt.Errorf("postgres: pool %d: worker: %w", p.ID, err)
	}
	if err := json.Unmarshal(autoscale, &p.Autoscale); err != nil {
		return nil, fmt.Errorf("postgres: pool %d: autoscale: %w", p.ID, err)
	}
	p.ProviderConfig = json.RawMessage(config)
	p.CreatedAt, p.UpdatedAt, p.ScaledAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC(), p.ScaledAt.UTC()
	return &p, nil
}

func poolDocs(p *domain.Pool) (worker, config, autoscale string, err error) {
	docs, err := marshalAll(p.Worker, p.Autoscale)
	if err != nil {
		return "", "", "", err
	}
	config = string(p.ProviderConfig)
	if config == "" {
		config = "{}"
	}
	return docs[0], config, docs[1], nil
}

func insertPoolEvent(ctx context.Context, tx pgx.Tx, e *domain.PoolEvent) error {
	return tx.QueryRow(ctx, `INSERT INTO pool_events (pool_id, actor, reason, from_points, to_points, at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, at`,
		e.PoolID, e.Actor, e.Reason, e.From, e.To, e.At).Scan(&e.ID, &e.At)
}

// PoolInsert stores a new pool and its first event.
func (s *Store) PoolInsert(ctx context.Context, p *store.PoolInsertParams) (*domain.Pool, error) {
	pl := p.Pool
	worker, config, autoscale, err := poolDocs(pl)
	if err != nil {
		return nil, translate(err)
	}
	var out *domain.Pool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = scanPool(tx.QueryRow(ctx, `INSERT INTO pools (id, name, points, min_points, max_points,
				worker, provider, provider_config, autoscale, drain_timeout, created_at, updated_at, scaled_at)
			OVERRIDING SYSTEM VALUE
			VALUES (coalesce($1, nextval(pg_get_serial_sequence('pools', 'id'))), $2, $3, $4, $5, $6::jsonb, $7,
				$8::jsonb, $9::jsonb, $10, coalesce($11::timestamptz, now()), coalesce($11::timestamptz, now()),
				coalesce($11::timestamptz, now()))
			RETURNING `+poolColumns,
			idArg(pl.ID), pl.Name, pl.Points, pl.MinPoints, pl.MaxPoints, worker, pl.Provider, config, autoscale,
			pl.DrainTimeout, timeArg(p.Now)))
		if err != nil {
			return err
		}
		if pl.ID > 0 {
			// A chosen id must not be handed out again by the sequence.
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('pools', 'id'),
				greatest((SELECT max(id) FROM pools), 1))`); err != nil {
				return err
			}
		}
		return insertPoolEvent(ctx, tx, &domain.PoolEvent{PoolID: out.ID, Actor: p.Actor, Reason: "created",
			From: 0, To: out.Points, At: out.CreatedAt})
	})
	if err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// idArg is NULL for an id the database should choose.
func idArg(id int64) *int64 {
	if id <= 0 {
		return nil
	}
	return &id
}

// PoolGet returns one pool.
func (s *Store) PoolGet(ctx context.Context, id int64) (*domain.Pool, error) {
	p, err := scanPool(s.pool.QueryRow(ctx, `SELECT `+poolColumns+` FROM pools WHERE id = $1`, id))
	return p, translate(err)
}

// PoolList lists pools by id.
func (s *Store) PoolList(ctx context.Context, p *store.PoolListParams) ([]*domain.Pool, error) {
	w := &where{}
	rows, err := s.pool.Query(ctx, `SELECT `+poolColumns+` FROM pools ORDER BY id`+w.page(p.Limit, 0), w.args...)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*domain.Pool, error) { return scanPool(r) })
	return out, translate(err)
}

// PoolUpdate replaces a pool's settings, never its points.
func (s *Store) PoolUpdate(ctx context.Context, p *store.PoolUpdateParams) (*domain.Pool, error) {
	pl := p.Pool
	worker, config, autoscale, err := poolDocs(pl)
	if err != nil {
		return nil, translate(err)
	}
	out, err := scanPool(s.pool.QueryRow(ctx, `UPDATE pools SET name = $2, min_points = $3, max_points = $4,
			worker = $5::jsonb, provider = $6, provider_config = $7::jsonb, autoscale = $8::jsonb,
			drain_timeout = $9, updated_at = coalesce($10::timestamptz, now())
		WHERE id = $1 RETURNING `+poolColumns,
		pl.ID, pl.Name, pl.MinPoints, pl.MaxPoints, worker, pl.Provider, config, autoscale, pl.DrainTimeout, timeArg(p.Now)))
	return out, translate(err)
}

// PoolScale sets a pool's points and records the change, under a row lock
// so that two concurrent requests record two consistent events.
func (s *Store) PoolScale(ctx context.Context, p *store.PoolScaleParams) (*domain.Pool, *domain.PoolEvent, error) {
	var (
		out *domain.Pool
		ev  *domain.PoolEvent
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ev = nil
		cur, err := scanPool(tx.QueryRow(ctx, `SELECT `+poolColumns+` FROM pools WHERE id = $1 FOR UPDATE`, p.ID))
		if err != nil {
			return err
		}
		if cur.Points == p.Points {
			out = cur
			return nil
		}
		out, err = scanPool(tx.QueryRow(ctx, `UPDATE pools SET points = $2,
				scaled_at = coalesce($3::timestamptz, now()), updated_at = coalesce($3::timestamptz, now())
			WHERE id = $1 RETURNING `+poolColumns, p.ID, p.Points, timeArg(p.Now)))
		if err != nil {
			return err
		}
		ev = &domain.PoolEvent{PoolID: p.ID, Actor: p.Actor, Reason: p.Reason, From: cur.Points, To: p.Points, At: out.ScaledAt}
		if err := insertPoolEvent(ctx, tx, ev); err != nil {
			return err
		}
		ev.At = ev.At.UTC()
		return nil
	})
	if err != nil {
		return nil, nil, translate(err)
	}
	return out, ev, nil
}

// PoolDelete deletes a pool and its events.
func (s *Store) PoolDelete(ctx context.Context, id int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM pools WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return domain.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM pool_events WHERE pool_id = $1`, id)
		return err
	})
	return translate(err)
}

// PoolEventList lists a pool's events, newest first.
func (s *Store) PoolEventList(ctx context.Context, p *store.PoolEventListParams) ([]*domain.PoolEvent, error) {
	w := &where{}
	w.add("pool_id = ?", p.PoolID)
	rows, err := s.pool.Query(ctx, `SELECT id, pool_id, actor, reason, from_points, to_points, at
		FROM pool_events`+w.sql()+` ORDER BY id DESC`+w.page(p.Limit, 0), w.args...)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*domain.PoolEvent, error) {
		var e domain.PoolEvent
		err := r.Scan(&e.ID, &e.PoolID, &e.Actor, &e.Reason, &e.From, &e.To, &e.At)
		e.At = e.At.UTC()
		return &e, err
	})
	return out, translate(err)
}

// PoolWorkerList lists a pool's workers.
func (s *Store) PoolWorkerList(ctx context.Context, p *store.PoolWorkerListParams) ([]*domain.Worker, error) {
	w := &where{}
	w.add("w.state <> 'removed'")
	if p.PoolID != 0 {
		w.add("w.pool_id = ?", p.PoolID)
	} else {
		w.add("w.pool_id <> 0")
	}
	if p.Live {
		w.add("w.state IN ('online', 'draining')")
	}
	return s.queryWorkers(ctx, `SELECT `+workerColumns+` FROM workers w`+w.sql()+` ORDER BY w.id`, w.args...)
}

// PoolDrainStart moves a live worker to draining and records its deadline.
func (s *Store) PoolDrainStart(ctx context.Context, p *store.PoolDrainStartParams) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE workers SET state = 'draining'
			WHERE id = $1 AND state IN ('online', 'draining')`, p.WorkerID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return domain.ErrNotFound
		}
		_, err = tx.Exec(ctx, `INSERT INTO pool_drains (worker_id, pool_id, deadline, started_at)
			VALUES ($1, $2, $3, coalesce($4::timestamptz, now())) ON CONFLICT (worker_id) DO NOTHING`,
			p.WorkerID, p.PoolID, p.Deadline, timeArg(p.Now))
		return err
	})
	return translate(err)
}

// PoolDrainList lists drains in progress.
func (s *Store) PoolDrainList(ctx context.Context, poolID int64) ([]store.PoolDrain, error) {
	rows, err := s.pool.Query(ctx, `SELECT worker_id, pool_id, deadline, started_at FROM pool_drains
		WHERE $1::bigint = 0 OR pool_id = $1 ORDER BY worker_id`, poolID)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.PoolDrain, error) {
		var d store.PoolDrain
		err := r.Scan(&d.WorkerID, &d.PoolID, &d.Deadline, &d.Started)
		d.Deadline, d.Started = d.Deadline.UTC(), d.Started.UTC()
		return d, err
	})
	return out, translate(err)
}

// PoolDrainEnd forgets a worker's drain.
func (s *Store) PoolDrainEnd(ctx context.Context, workerID string) error {
	_, err := s.exec(ctx, `DELETE FROM pool_drains WHERE worker_id = $1`, workerID)
	return err
}

// PoolQueueStats measures the backlog of some queues.
func (s *Store) PoolQueueStats(ctx context.Context, p *store.PoolQueueStatsParams) (*store.PoolQueueStats, error) {
	out := &store.PoolQueueStats{}
	if len(p.Queues) == 0 {
		return out, nil
	}
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE state = 'pending' AND available_at <= coalesce($2::timestamptz, now())),
			count(*) FILTER (WHERE state = 'running'),
			min(available_at) FILTER (WHERE state = 'pending' AND available_at <= coalesce($2::timestamptz, now()))
		FROM tasks WHERE state IN ('pending', 'running') AND device_id = '' AND queue = ANY($1)`,
		p.Queues, timeArg(p.Now)).Scan(&out.Pending, &out.Running, &oldest)
	if err != nil {
		return nil, translate(err)
	}
	if oldest != nil {
		out.OldestPending = oldest.UTC()
	}
	return out, nil
}
