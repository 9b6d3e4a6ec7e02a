package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// This file holds the task methods that do not touch leases: submitting,
// reading, listing and cancelling. lease.go holds the rest.

const insertTasksSQL = `
INSERT INTO tasks AS t (id, type, payload, priority, queue, device_id,
	min_cpu_cores, min_memory_gb, platform, role, req_labels,
	timeout_seconds, max_retries, retry_backoff, idempotency_key,
	request_hash, original_task_id, labels,
	state, attempt, lease_owner, lease_epoch, lease_expires_at, available_at,
	last_device_id, created_at, started_at, completed_at,
	result, resource_usage, error)
SELECT id, type, payload::json, priority, queue, device_id,
	min_cpu_cores, min_memory_gb, platform, role, req_labels::jsonb,
	timeout_seconds, max_retries, retry_backoff, idempotency_key,
	request_hash, original_task_id, labels::jsonb,
	state, attempt, lease_owner, lease_epoch, lease_expires_at,
	coalesce(available_at, created_at, now()),
	last_device_id, coalesce(created_at, now()), started_at, completed_at,
	result::json, resource_usage::json, error
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
	$7::int[], $8::float8[], $9::text[], $10::text[], $11::text[],
	$12::int[], $13::int[], $14::interval[], $15::text[],
	$16::text[], $17::text[], $18::text[],
	$19::text[], $20::int[], $21::text[], $22::bigint[], $23::timestamptz[], $24::timestamptz[],
	$25::text[], $26::timestamptz[], $27::timestamptz[], $28::timestamptz[],
	$29::text[], $30::text[], $31::text[])
	AS i(id, type, payload, priority, queue, device_id,
	min_cpu_cores, min_memory_gb, platform, role, req_labels,
	timeout_seconds, max_retries, retry_backoff, idempotency_key,
	request_hash, original_task_id, labels,
	state, attempt, lease_owner, lease_epoch, lease_expires_at, available_at,
	last_device_id, created_at, started_at, completed_at,
	result, resource_usage, error)
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING ` + taskColumns

// TaskInsertMany inserts the tasks in one statement. A task whose idempotency
// key is taken (by an earlier task, or by one earlier in the same batch) is
// skipped by ON CONFLICT DO NOTHING; a second query, run only then, finds the
// task holding the key. A duplicate id is domain.ErrConflict and inserts
// nothing.
func (s *Store) TaskInsertMany(ctx context.Context, p *store.TaskInsertManyParams) ([]store.TaskInsertOutcome, error) {
	if len(p.Tasks) == 0 {
		return nil, nil
	}
	args, err := newTaskArgs(p.Tasks)
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeValidation, Message: err.Error()}
	}
	note := s.workPayload(slices.Values(p.Tasks))
	if keyed(p.Tasks) {
		return s.insertKeyed(ctx, p.Tasks, args.args(), note)
	}
	inserted, err := s.insertTasks(ctx, args.args(), note)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*domain.Task, len(inserted))
	for _, t := range inserted {
		byID[t.ID] = t
	}
	existing, err := tasksHoldingKeys(ctx, s.pool, p.Tasks, byID)
	if err != nil {
		return nil, err
	}
	return insertOutcomes(p.Tasks, byID, existing)
}

// keyed reports whether any task carries an idempotency key with a request
// fingerprint: then a key taken by a different request must refuse the
// whole batch, which needs a transaction of its own.
func keyed(tasks []*domain.Task) bool {
	return slices.ContainsFunc(tasks, func(t *domain.Task) bool { return t.IdempotencyKey != "" && t.RequestHash != "" })
}

// insertKeyed inserts tasks in a transaction that it rolls back, storing
// nothing, when a key is held by a different request.
func (s *Store) insertKeyed(ctx context.Context, tasks []*domain.Task, args []any, note string) ([]store.TaskInsertOutcome, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, translate(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	rows, err := tx.Query(ctx, insertTasksSQL, args...)
	if err != nil {
		return nil, translate(err)
	}
	inserted, err := pgx.CollectRows(rows, scanTask)
	if err != nil {
		return nil, translate(err)
	}
	byID := make(map[string]*domain.Task, len(inserted))
	for _, t := range inserted {
		byID[t.ID] = t
	}
	existing, err := tasksHoldingKeys(ctx, tx, tasks, byID)
	if err != nil {
		return nil, err
	}
	out, err := insertOutcomes(tasks, byID, existing)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, notifySQL, s.channel, note); err != nil {
		return nil, translate(err)
	}
	return out, translate(tx.Commit(ctx))
}

// insertOutcomes pairs each task with what became of it; a key held by a
// different request is a conflict.
func insertOutcomes(tasks []*domain.Task, inserted, existing map[string]*domain.Task) ([]store.TaskInsertOutcome, error) {
	out := make([]store.TaskInsertOutcome, len(tasks))
	for i, t := range tasks {
		if got, ok := inserted[t.ID]; ok && got.IdempotencyKey == t.IdempotencyKey {
			out[i] = store.TaskInsertOutcome{Task: got}
			continue
		}
		holder, ok := existing[t.IdempotencyKey]
		if !ok || t.IdempotencyKey == "" {
			// Only a taken key skips a row, and a key holder cannot vanish:
			// tasks are never deleted while their key is kept.
			return nil, &domain.Error{Code: domain.CodeInternal, Message: "postgres: task " + t.ID + " was neither inserted nor found by its idempotency key"}
		}
		if err := store.KeyConflict(i, t, holder); err != nil {
			return nil, err
		}
		out[i] = store.TaskInsertOutcome{Task: holder, Existing: true}
	}
	return out, nil
}

// insertTasks runs insertTasksSQL and the work notification as one
// pipeline: one round trip, and one implicit transaction (the statements
// before a Sync commit together), so other servers hear of the tasks
// exactly when they are committed. A batch whose every key was taken
// notifies in vain; waiters then just look and find nothing new.
func (s *Store) insertTasks(ctx context.Context, args []any, note string) ([]*domain.Task, error) {
	b := &pgx.Batch{}
	b.Queue(insertTasksSQL, args...)
	b.Queue(notifySQL, s.channel, note)
	br := s.pool.SendBatch(ctx, b)
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, translate(err)
	}
	tasks, err := pgx.CollectRows(rows, scanTask)
	if err != nil {
		br.Close()
		return nil, translate(err)
	}
	// Close reads the notification's result and the commit's: only then
	// is the insert durable.
	return tasks, translate(br.Close())
}

// tasksHoldingKeys returns, by key, the tasks that hold the idempotency keys
// of the tasks that were not inserted.
func tasksHoldingKeys(ctx context.Context, q querier, tasks []*domain.Task, inserted map[string]*domain.Task) (map[string]*domain.Task, error) {
	var keys []string
	for _, t := range tasks {
		if _, ok := inserted[t.ID]; !ok && t.IdempotencyKey != "" {
			keys = append(keys, t.IdempotencyKey)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.idempotency_key = ANY($1)`, keys)
	if err != nil {
		return nil, translate(err)
	}
	holders, err := pgx.CollectRows(rows, scanTask)
	if err != nil {
		return nil, translate(err)
	}
	byKey := make(map[string]*domain.Task, len(holders))
	for _, t := range holders {
		byKey[t.IdempotencyKey] = t
	}
	return byKey, nil
}

// TaskGet returns one task.
func (s *Store) TaskGet(ctx context.Context, id string) (*domain.Task, error) {
	return s.queryTask(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = $1`, id)
}

// TaskList lists matching tasks, newest first.
func (s *Store) TaskList(ctx context.Context, p *store.TaskListParams) ([]*domain.Task, error) {
	w := taskFilter(p)
	if p.State != "" {
		w.add("t.state = ?", string(p.State))
	}
	sql := `SELECT ` + taskColumns + ` FROM tasks t` + w.sql() + ` ORDER BY t.created_at DESC, t.id DESC`
	sql += w.page(p.Limit, p.Offset)
	return s.queryTasks(ctx, sql, w.args...)
}

// TaskCount counts matching tasks by state. Every state is in the map, with
// zero where no task is in it, so a caller can show all of them.
func (s *Store) TaskCount(ctx context.Context, p *store.TaskListParams) (map[domain.TaskState]int, error) {
	w := taskFilter(p)
	rows, err := s.pool.Query(ctx, `SELECT t.state, count(*) FROM tasks t`+w.sql()+` GROUP BY t.state`, w.args...)
	if err != nil {
		return nil, translate(err)
	}
	counts := make(map[domain.TaskState]int, len(domain.TaskStates))
	for _, st := range domain.TaskStates {
		counts[st] = 0
	}
	var (
		state string
		n     int
	)
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		counts[domain.TaskState(state)] = n
		return nil
	})
	return counts, translate(err)
}

// taskFilter turns the filter fields other than State into a WHERE clause.
func taskFilter(p *store.TaskListParams) *where {
	w := &where{}
	if p.Type != "" {
		w.add("t.type = ?", p.Type)
	}
	if p.Queue != "" {
		w.add("t.queue = ?", p.Queue)
	}
	if p.DeviceID != "" {
		w.add("(t.device_id = ? OR t.lease_owner = ? OR t.last_device_id = ?)", p.DeviceID)
	}
	if !p.Since.IsZero() {
		w.add("t.created_at >= ?", p.Since)
	}
	return w
}

const cancelTaskSQL = `
WITH old AS (SELECT id, state FROM tasks WHERE id = $2 FOR UPDATE)
UPDATE tasks t SET state = 'cancelled', lease_owner = '', lease_expires_at = NULL,
	completed_at = coalesce($1::timestamptz, now()), error = $3
FROM old
WHERE t.id = old.id AND old.state IN ('pending', 'running')
RETURNING old.state = 'running', ` + taskColumns

// TaskCancel cancels one pending or running task. The happy path is one
// statement; only when it changes nothing does a second query tell an unknown
// id from a task that already ended.
func (s *Store) TaskCancel(ctx context.Context, p *store.TaskCancelParams) (*domain.Task, bool, error) {
	var wasRunning bool
	rows, err := s.pool.Query(ctx, cancelTaskSQL, timeArg(p.Now), p.ID, p.Reason)
	if err != nil {
		return nil, false, translate(err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (*domain.Task, error) {
		return scanTask(prefixedRow{row, []any{&wasRunning}})
	})
	if err == nil {
		return t, wasRunning, nil
	}
	if !errNoRows(err) {
		return nil, false, translate(err)
	}
	t, err = s.TaskGet(ctx, p.ID)
	if err != nil {
		return nil, false, err
	}
	return nil, false, domain.Errorf(domain.CodeTaskNotCancellable, "task %s is %s", t.ID, t.State).With("state", string(t.State))
}

// TaskCancelMany cancels the matching pending (and, if asked, running) tasks,
// locking them in id order so it never deadlocks with another batch.
func (s *Store) TaskCancelMany(ctx context.Context, p *store.TaskCancelManyParams) ([]string, error) {
	if len(p.IDs) == 0 && p.Queue == "" && p.DeviceID == "" {
		return nil, domain.Errorf(domain.CodeValidation, "cancelling tasks needs ids, a queue or a device")
	}
	w := &where{args: []any{timeArg(p.Now), p.Reason}}
	if p.IncludeRunning {
		w.add("state IN ('pending', 'running')")
	} else {
		w.add("state = 'pending'")
	}
	if len(p.IDs) > 0 {
		w.add("id = ANY(?)", p.IDs)
	}
	if p.Queue != "" {
		w.add("queue = ?", p.Queue)
	}
	if p.DeviceID != "" {
		w.add("(device_id = ? OR lease_owner = ?)", p.DeviceID)
	}
	sql := `
WITH c AS (SELECT id FROM tasks` + w.sql() + ` ORDER BY id FOR UPDATE)
UPDATE tasks t SET state = 'cancelled', lease_owner = '', lease_expires_at = NULL,
	completed_at = coalesce($1::timestamptz, now()), error = $2
FROM c WHERE t.id = c.id AND t.state IN ('pending', 'running')
RETURNING t.id`
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return nil, translate(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, translate(err)
	}
	slices.Sort(ids)
	return ids, nil
}

// queryTasks runs a statement returning taskColumns.
func (s *Store) queryTasks(ctx context.Context, sql string, args ...any) ([]*domain.Task, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	tasks, err := pgx.CollectRows(rows, scanTask)
	return tasks, translate(err)
}

// queryTask runs a statement returning one row of taskColumns, or
// domain.ErrNotFound.
func (s *Store) queryTask(ctx context.Context, sql string, args ...any) (*domain.Task, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanTask)
	return t, translate(err)
}

// prefixedRow scans leading columns into dest, then the rest as the wrapped
// row's scanner asks: a task with one more column in front.
type prefixedRow struct {
	pgx.CollectableRow
	dest []any
}

func (r prefixedRow) Scan(dest ...any) error {
	return r.CollectableRow.Scan(append(slices.Clip(r.dest), dest...)...)
}

// where builds a WHERE clause whose placeholders are numbered after the
// arguments it already holds. Each condition writes ? for its argument; one
// argument may stand for several ?s.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg ...any) {
	if len(arg) > 0 {
		w.args = append(w.args, arg[0])
		cond = strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(w.args)))
	}
	w.conds = append(w.conds, cond)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page adds LIMIT and OFFSET; a zero limit means none.
func (w *where) page(limit, offset int) string {
	var sql string
	if limit > 0 {
		w.args = append(w.args, limit)
		sql += " LIMIT $" + strconv.Itoa(len(w.args))
	}
	if offset > 0 {
		w.args = append(w.args, offset)
		sql += " OFFSET $" + strconv.Itoa(len(w.args))
	}
	return sql
}
