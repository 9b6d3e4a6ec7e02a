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

const workflowColumns = `id, name, schedule, timezone, depends_on, overlap, steps, next_fire_at, created_at`

func scanWorkflow(row pgx.Row) (*domain.Workflow, error) {
	var (
		w           domain.Workflow
		deps, steps []byte
		next        *time.Time
	)
	if err := row.Scan(&w.ID, &w.Name, &w.Schedule, &w.Timezone, &deps, &w.Overlap, &steps, &next, &w.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(deps, &w.DependsOn); err != nil {
		return nil, fmt.Errorf("postgres: workflow %d: depends_on: %w", w.ID, err)
	}
	if err := json.Unmarshal(steps, &w.Steps); err != nil {
		return nil, fmt.Errorf("postgres: workflow %d: steps: %w", w.ID, err)
	}
	w.CreatedAt = w.CreatedAt.UTC()
	if next != nil {
		w.NextFireAt = next.UTC()
	}
	return &w, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WorkflowInsert stores a new workflow.
func (s *Store) WorkflowInsert(ctx context.Context, w *domain.Workflow) error {
	deps, err := json.Marshal(orEmpty(w.DependsOn))
	if err != nil {
		return err
	}
	steps, err := json.Marshal(w.Steps)
	if err != nil {
		return err
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO workflows (name, schedule, timezone, depends_on, overlap, steps, next_fire_at, created_at)
		VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, coalesce($8::timestamptz, now())) RETURNING id, created_at`,
		w.Name, w.Schedule, w.Timezone, string(deps), w.Overlap, string(steps), timeArg(w.NextFireAt), timeArg(w.CreatedAt)).Scan(&w.ID, &w.CreatedAt)
	w.CreatedAt = w.CreatedAt.UTC()
	return translate(err)
}

// WorkflowGet returns one workflow.
func (s *Store) WorkflowGet(ctx context.Context, id int64) (*domain.Workflow, error) {
	w, err := scanWorkflow(s.pool.QueryRow(ctx, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, id))
	return w, translate(err)
}

// WorkflowList lists workflows by id.
func (s *Store) WorkflowList(ctx context.Context, p *store.WorkflowListParams) ([]*domain.Workflow, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+workflowColumns+` FROM workflows
		WHERE ($1::timestamptz IS NULL OR next_fire_at <= $1) ORDER BY id LIMIT $2 OFFSET $3`,
		timeArg(p.DueBefore), limitArg(p.Limit), p.Offset)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*domain.Workflow
	for rows.Next() {
		w, err := scanWorkflow(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, w)
	}
	return out, translate(rows.Err())
}

// WorkflowDelete removes a workflow and what hangs from it.
func (s *Store) WorkflowDelete(ctx context.Context, id int64) error {
	n, err := s.exec(ctx, `DELETE FROM workflows WHERE id = $1`, id)
	if err == nil && n == 0 {
		return domain.ErrNotFound
	}
	return err
}

// WorkflowNextFire is the earliest tick due.
func (s *Store) WorkflowNextFire(ctx context.Context) (time.Time, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(next_fire_at) FROM workflows`).Scan(&at); err != nil {
		return time.Time{}, translate(err)
	}
	if at == nil {
		return time.Time{}, nil
	}
	return at.UTC(), nil
}

// RunInsert stores a run, its actions and its fire record together.
func (s *Store) RunInsert(ctx context.Context, p *store.RunInsertParams) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var at time.Time
		if err := tx.QueryRow(ctx, `SELECT coalesce($1::timestamptz, now())`, timeArg(p.Now)).Scan(&at); err != nil {
			return err
		}
		at = at.UTC()
		var runID int64
		if r := p.Run; r != nil {
			r.CreatedAt = at
			if err := tx.QueryRow(ctx, `INSERT INTO workflow_runs
				(workflow_id, state, trigger, tick, creator, delay_us, ignore_deps, restart_of, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
				r.WorkflowID, string(r.State), r.Trigger, timeArg(r.Tick), r.Creator, r.Delay.Microseconds(),
				r.IgnoreDeps, r.RestartOf, at).Scan(&runID); err != nil {
				return err
			}
			r.ID = runID
			steps := make([]string, len(r.Actions))
			for i, a := range r.Actions {
				a.RunID, a.UpdatedAt = runID, at
				if a.State == "" {
					a.State = domain.ActionWaiting
				}
				steps[i] = a.Step
			}
			rows, err := tx.Query(ctx, `INSERT INTO workflow_actions (run_id, step, state, updated_at)
				SELECT $1, step, 'waiting', $2 FROM unnest($3::text[]) WITH ORDINALITY AS s(step, n) ORDER BY n
				RETURNING id, step`, runID, at, steps)
			if err != nil {
				return err
			}
			ids := map[string]int64{}
			for rows.Next() {
				var id int64
				var step string
				if err := rows.Scan(&id, &step); err != nil {
					rows.Close()
					return err
				}
				ids[step] = id
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, a := range r.Actions {
				a.ID = ids[a.Step]
			}
		}
		if f := p.Fire; f != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO workflow_cron_fires (workflow_id, tick, run_id, fired_at) VALUES ($1, $2, $3, $4)`,
				f.WorkflowID, f.Tick, runID, at); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE workflows SET next_fire_at = $3 WHERE id = $1 AND next_fire_at = $2`,
				f.WorkflowID, f.Expect, timeArg(f.Next))
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return domain.ErrConflict
			}
		}
		return nil
	})
	return translate(err)
}

const runColumns = `r.id, r.workflow_id, w.name, r.state, r.trigger, r.tick, r.creator, r.delay_us, r.ignore_deps,
	r.restart_of, r.created_at, r.finished_at`

func scanRun(row pgx.Row) (*domain.Run, error) {
	var (
		r              domain.Run
		state          string
		tick, finished *time.Time
		delay          int64
	)
	if err := row.Scan(&r.ID, &r.WorkflowID, &r.WorkflowName, &state, &r.Trigger, &tick, &r.Creator, &delay, &r.IgnoreDeps,
		&r.RestartOf, &r.CreatedAt, &finished); err != nil {
		return nil, err
	}
	r.State = domain.RunState(state)
	r.CreatedAt = r.CreatedAt.UTC()
	if tick != nil {
		r.Tick = tick.UTC()
	}
	if finished != nil {
		r.FinishedAt = finished.UTC()
	}
	r.Delay = time.Duration(delay) * time.Microsecond
	return &r, nil
}

const actionColumns = `a.id, a.run_id, a.step, a.state, a.task_id, a.generation, coalesce(t.state, ''), a.updated_at`

func scanAction(row pgx.Row) (*domain.Action, error) {
	var (
		a                domain.Action
		state, taskState string
	)
	if err := row.Scan(&a.ID, &a.RunID, &a.Step, &state, &a.TaskID, &a.Generation, &taskState, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.State, a.TaskState, a.UpdatedAt = domain.ActionState(state), domain.TaskState(taskState), a.UpdatedAt.UTC()
	return &a, nil
}

// RunGet returns one run with its actions.
func (s *Store) RunGet(ctx context.Context, id int64) (*domain.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+`
		FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE r.id = $1`, id))
	if err != nil {
		return nil, translate(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+actionColumns+`
		FROM workflow_actions a LEFT JOIN tasks t ON t.id = a.task_id AND a.task_id <> ''
		WHERE a.run_id = $1 ORDER BY a.id`, id)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, translate(err)
		}
		r.Actions = append(r.Actions, a)
	}
	return r, translate(rows.Err())
}

// RunList lists runs, newest first.
func (s *Store) RunList(ctx context.Context, p *store.RunListParams) ([]*domain.Run, error) {
	states := make([]string, len(p.States))
	for i, st := range p.States {
		states[i] = string(st)
	}
	var tick *time.Time
	manual := false
	if p.Tick != nil {
		if p.Tick.IsZero() {
			manual = true
		} else {
			tick = p.Tick
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id
		WHERE ($1 = 0 OR r.workflow_id = $1) AND (cardinality($2::text[]) = 0 OR r.state = ANY($2))
		AND ($3::timestamptz IS NULL OR r.tick = $3) AND (NOT $4 OR r.tick IS NULL)
		ORDER BY r.id DESC LIMIT $5 OFFSET $6`, p.WorkflowID, states, tick, manual, limitArg(p.Limit), p.Offset)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*domain.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, r)
	}
	return out, translate(rows.Err())
}

// RunUpdate changes a run and its actions together.
func (s *Store) RunUpdate(ctx context.Context, p *store.RunUpdateParams) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var finished *time.Time
		setFinished := p.FinishedAt != nil
		if setFinished {
			finished = timeArg(*p.FinishedAt)
		}
		tag, err := tx.Exec(ctx, `UPDATE workflow_runs SET state = CASE WHEN $2 = '' THEN state ELSE $2 END,
			finished_at = CASE WHEN $3 THEN $4 ELSE finished_at END WHERE id = $1`, p.RunID, string(p.State), setFinished, finished)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return domain.ErrNotFound
		}
		b := &pgx.Batch{}
		for _, u := range p.Actions {
			b.Queue(`UPDATE workflow_actions SET state = $1, task_id = coalesce($2, task_id), generation = $3,
				updated_at = coalesce($4::timestamptz, now()) WHERE id = $5 AND run_id = $6 AND generation = $7`,
				string(u.State), u.TaskID, u.Generation, timeArg(p.Now), u.ID, p.RunID, u.Expect)
		}
		if b.Len() > 0 {
			return tx.SendBatch(ctx, b).Close()
		}
		return nil
	})
	return translate(err)
}

// ActionGet returns one action.
func (s *Store) ActionGet(ctx context.Context, id int64) (*domain.Action, error) {
	a, err := scanAction(s.pool.QueryRow(ctx, `SELECT `+actionColumns+`
		FROM workflow_actions a LEFT JOIN tasks t ON t.id = a.task_id AND a.task_id <> '' WHERE a.id = $1`, id))
	return a, translate(err)
}

const objectColumns = `id, kind, name, value, updated_at`

func scanObject(row pgx.Row) (*domain.Object, error) {
	var o domain.Object
	if err := row.Scan(&o.ID, &o.Kind, &o.Name, &o.Value, &o.UpdatedAt); err != nil {
		return nil, err
	}
	o.UpdatedAt = o.UpdatedAt.UTC()
	return &o, nil
}

// ObjectPut creates or replaces a named object.
func (s *Store) ObjectPut(ctx context.Context, o *domain.Object) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO workflow_objects (kind, name, value, updated_at)
		VALUES ($1, $2, $3, coalesce($4::timestamptz, now()))
		ON CONFLICT (kind, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
		RETURNING id, updated_at`, o.Kind, o.Name, o.Value, timeArg(o.UpdatedAt)).Scan(&o.ID, &o.UpdatedAt)
	o.UpdatedAt = o.UpdatedAt.UTC()
	return translate(err)
}

// ObjectGet returns one object by name, or by id when name is "".
func (s *Store) ObjectGet(ctx context.Context, kind, name string, id int64) (*domain.Object, error) {
	o, err := scanObject(s.pool.QueryRow(ctx, `SELECT `+objectColumns+` FROM workflow_objects
		WHERE kind = $1 AND CASE WHEN $2 = '' THEN id = $3 ELSE name = $2 END`, kind, name, id))
	return o, translate(err)
}

// ObjectList lists one kind's objects by name.
func (s *Store) ObjectList(ctx context.Context, kind string) ([]*domain.Object, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+objectColumns+` FROM workflow_objects WHERE kind = $1 ORDER BY name`, kind)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*domain.Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, o)
	}
	return out, translate(rows.Err())
}

// ObjectDelete removes an object.
func (s *Store) ObjectDelete(ctx context.Context, kind, name string) error {
	n, err := s.exec(ctx, `DELETE FROM workflow_objects WHERE kind = $1 AND name = $2`, kind, name)
	if err == nil && n == 0 {
		return domain.ErrNotFound
	}
	return err
}
