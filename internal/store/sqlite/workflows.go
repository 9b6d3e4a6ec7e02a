package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

const workflowColumns = `id, name, schedule, timezone, depends_on, overlap, steps, next_fire_at, created_at`

func scanWorkflow(sc scanner) (*domain.Workflow, error) {
	var (
		w             domain.Workflow
		deps, steps   string
		next, created int64
	)
	if err := sc.Scan(&w.ID, &w.Name, &w.Schedule, &w.Timezone, &deps, &w.Overlap, &steps, &next, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(deps), &w.DependsOn); err != nil {
		return nil, fmt.Errorf("sqlite: workflow %d: depends_on: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(steps), &w.Steps); err != nil {
		return nil, fmt.Errorf("sqlite: workflow %d: steps: %w", w.ID, err)
	}
	w.NextFireAt, w.CreatedAt = fromMicros(next), fromMicros(created)
	return &w, nil
}

// WorkflowInsert stores a new workflow.
func (s *Store) WorkflowInsert(ctx context.Context, w *domain.Workflow) error {
	deps, err := jsonText(orEmpty(w.DependsOn))
	if err != nil {
		return err
	}
	steps, err := jsonText(w.Steps)
	if err != nil {
		return err
	}
	w.CreatedAt = now(w.CreatedAt)
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO workflows (name, schedule, timezone, depends_on, overlap, steps, next_fire_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			w.Name, w.Schedule, w.Timezone, deps, w.Overlap, steps, micros(w.NextFireAt), micros(w.CreatedAt)).Scan(&w.ID)
	}))
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WorkflowGet returns one workflow.
func (s *Store) WorkflowGet(ctx context.Context, id int64) (*domain.Workflow, error) {
	w, err := scanWorkflow(s.read.QueryRowContext(ctx, `SELECT `+workflowColumns+` FROM workflows WHERE id = $1`, id))
	return w, interpretError(err)
}

// WorkflowList lists workflows by id.
func (s *Store) WorkflowList(ctx context.Context, p *store.WorkflowListParams) ([]*domain.Workflow, error) {
	var args sqlArgs
	q := `SELECT ` + workflowColumns + ` FROM workflows WHERE 1=1`
	if !p.DueBefore.IsZero() {
		q += ` AND next_fire_at > 0 AND next_fire_at <= ` + args.add(micros(p.DueBefore))
	}
	q += ` ORDER BY id LIMIT ` + args.add(limitOrAll(p.Limit)) + ` OFFSET ` + args.add(p.Offset)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*domain.Workflow
	for rows.Next() {
		w, err := scanWorkflow(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, w)
	}
	return out, interpretError(rows.Err())
}

// WorkflowDelete removes a workflow and what hangs from it.
func (s *Store) WorkflowDelete(ctx context.Context, id int64) error {
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM workflows WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrNotFound
		}
		return nil
	}))
}

// WorkflowNextFire is the earliest tick due.
func (s *Store) WorkflowNextFire(ctx context.Context) (time.Time, error) {
	var at sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT min(next_fire_at) FROM workflows WHERE next_fire_at > 0`).Scan(&at)
	if err != nil {
		return time.Time{}, interpretError(err)
	}
	return fromMicros(at.Int64), nil
}

// RunInsert stores a run, its actions and its fire record together.
func (s *Store) RunInsert(ctx context.Context, p *store.RunInsertParams) error {
	at := now(p.Now)
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		r := p.Run
		var runID int64
		if r != nil {
			r.CreatedAt = at
			err := tx.QueryRowContext(ctx, `INSERT INTO workflow_runs
				(workflow_id, state, trigger, tick, creator, delay_us, ignore_deps, restart_of, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
				r.WorkflowID, string(r.State), r.Trigger, micros(r.Tick), r.Creator, r.Delay.Microseconds(),
				r.IgnoreDeps, r.RestartOf, micros(at)).Scan(&runID)
			if err != nil {
				return err
			}
			r.ID = runID
			for _, a := range r.Actions {
				a.RunID, a.UpdatedAt = runID, at
				if a.State == "" {
					a.State = domain.ActionWaiting
				}
				if err := tx.QueryRowContext(ctx, `INSERT INTO workflow_actions (run_id, step, state, task_id, generation, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
					runID, a.Step, string(a.State), a.TaskID, a.Generation, micros(at)).Scan(&a.ID); err != nil {
					return err
				}
			}
		}
		if f := p.Fire; f != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO workflow_cron_fires (workflow_id, tick, run_id, fired_at) VALUES ($1, $2, $3, $4)`,
				f.WorkflowID, micros(f.Tick), runID, micros(at)); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE workflows SET next_fire_at = $3 WHERE id = $1 AND next_fire_at = $2`,
				f.WorkflowID, micros(f.Expect), micros(f.Next))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return domain.ErrConflict
			}
		}
		return nil
	}))
}

const runColumns = `r.id, r.workflow_id, w.name, r.state, r.trigger, r.tick, r.creator, r.delay_us, r.ignore_deps,
	r.restart_of, r.created_at, r.finished_at`

func scanRun(sc scanner) (*domain.Run, error) {
	var (
		r                              domain.Run
		state                          string
		tick, delay, created, finished int64
	)
	if err := sc.Scan(&r.ID, &r.WorkflowID, &r.WorkflowName, &state, &r.Trigger, &tick, &r.Creator, &delay, &r.IgnoreDeps,
		&r.RestartOf, &created, &finished); err != nil {
		return nil, err
	}
	r.State = domain.RunState(state)
	r.Tick, r.CreatedAt, r.FinishedAt = fromMicros(tick), fromMicros(created), fromMicros(finished)
	r.Delay = time.Duration(delay) * time.Microsecond
	return &r, nil
}

const actionColumns = `a.id, a.run_id, a.step, a.state, a.task_id, a.generation, coalesce(t.state, ''), a.updated_at`

func scanAction(sc scanner) (*domain.Action, error) {
	var (
		a                domain.Action
		state, taskState string
		updated          int64
	)
	if err := sc.Scan(&a.ID, &a.RunID, &a.Step, &state, &a.TaskID, &a.Generation, &taskState, &updated); err != nil {
		return nil, err
	}
	a.State, a.TaskState, a.UpdatedAt = domain.ActionState(state), domain.TaskState(taskState), fromMicros(updated)
	return &a, nil
}

// RunGet returns one run with its actions.
func (s *Store) RunGet(ctx context.Context, id int64) (*domain.Run, error) {
	r, err := scanRun(s.read.QueryRowContext(ctx, `SELECT `+runColumns+`
		FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE r.id = $1`, id))
	if err != nil {
		return nil, interpretError(err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+actionColumns+`
		FROM workflow_actions a LEFT JOIN tasks t ON t.id = a.task_id AND a.task_id <> ''
		WHERE a.run_id = $1 ORDER BY a.id`, id)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		r.Actions = append(r.Actions, a)
	}
	return r, interpretError(rows.Err())
}

// RunList lists runs, newest first.
func (s *Store) RunList(ctx context.Context, p *store.RunListParams) ([]*domain.Run, error) {
	var args sqlArgs
	q := `SELECT ` + runColumns + ` FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id WHERE 1=1`
	if p.WorkflowID != 0 {
		q += ` AND r.workflow_id = ` + args.add(p.WorkflowID)
	}
	if len(p.States) > 0 {
		ph := make([]string, len(p.States))
		for i, st := range p.States {
			ph[i] = args.add(string(st))
		}
		q += ` AND r.state IN (` + strings.Join(ph, ", ") + `)`
	}
	if p.Tick != nil {
		q += ` AND r.tick = ` + args.add(micros(*p.Tick))
	}
	q += ` ORDER BY r.id DESC LIMIT ` + args.add(limitOrAll(p.Limit)) + ` OFFSET ` + args.add(p.Offset)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*domain.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, r)
	}
	return out, interpretError(rows.Err())
}

// RunUpdate changes a run and its actions together.
func (s *Store) RunUpdate(ctx context.Context, p *store.RunUpdateParams) error {
	at := micros(now(p.Now))
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var args sqlArgs
		q := `UPDATE workflow_runs SET id = id`
		if p.State != "" {
			q += `, state = ` + args.add(string(p.State))
		}
		if p.FinishedAt != nil {
			q += `, finished_at = ` + args.add(micros(*p.FinishedAt))
		}
		res, err := tx.ExecContext(ctx, q+` WHERE id = `+args.add(p.RunID), args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrNotFound
		}
		for _, u := range p.Actions {
			if u.TaskID != nil {
				_, err = tx.ExecContext(ctx, `UPDATE workflow_actions SET state = $1, task_id = $2, generation = $3, updated_at = $4
					WHERE id = $5 AND run_id = $6 AND generation = $7`, string(u.State), *u.TaskID, u.Generation, at, u.ID, p.RunID, u.Expect)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE workflow_actions SET state = $1, generation = $2, updated_at = $3
					WHERE id = $4 AND run_id = $5 AND generation = $6`, string(u.State), u.Generation, at, u.ID, p.RunID, u.Expect)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// ActionGet returns one action.
func (s *Store) ActionGet(ctx context.Context, id int64) (*domain.Action, error) {
	a, err := scanAction(s.read.QueryRowContext(ctx, `SELECT `+actionColumns+`
		FROM workflow_actions a LEFT JOIN tasks t ON t.id = a.task_id AND a.task_id <> '' WHERE a.id = $1`, id))
	return a, interpretError(err)
}

const objectColumns = `id, kind, name, value, updated_at`

func scanObject(sc scanner) (*domain.Object, error) {
	var (
		o       domain.Object
		updated int64
	)
	if err := sc.Scan(&o.ID, &o.Kind, &o.Name, &o.Value, &updated); err != nil {
		return nil, err
	}
	o.UpdatedAt = fromMicros(updated)
	return &o, nil
}

// ObjectPut creates or replaces a named object.
func (s *Store) ObjectPut(ctx context.Context, o *domain.Object) error {
	o.UpdatedAt = now(o.UpdatedAt)
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO workflow_objects (kind, name, value, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (kind, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
			RETURNING id`, o.Kind, o.Name, o.Value, micros(o.UpdatedAt)).Scan(&o.ID)
	}))
}

// ObjectGet returns one object by name, or by id when name is "".
func (s *Store) ObjectGet(ctx context.Context, kind, name string, id int64) (*domain.Object, error) {
	q, key := `SELECT `+objectColumns+` FROM workflow_objects WHERE kind = $1 AND name = $2`, any(name)
	if name == "" {
		q, key = `SELECT `+objectColumns+` FROM workflow_objects WHERE kind = $1 AND id = $2`, id
	}
	o, err := scanObject(s.read.QueryRowContext(ctx, q, kind, key))
	return o, interpretError(err)
}

// ObjectList lists one kind's objects by name.
func (s *Store) ObjectList(ctx context.Context, kind string) ([]*domain.Object, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+objectColumns+` FROM workflow_objects WHERE kind = $1 ORDER BY name`, kind)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []*domain.Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, o)
	}
	return out, interpretError(rows.Err())
}

// ObjectDelete removes an object.
func (s *Store) ObjectDelete(ctx context.Context, kind, name string) error {
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM workflow_objects WHERE kind = $1 AND name = $2`, kind, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrNotFound
		}
		return nil
	}))
}
