package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// taskColumns is every column of tasks, in the order scanTask reads them.
const taskColumns = `seq, id, type, payload, priority, queue, device_id,
	req_cpu_cores, req_memory_gb, req_platform, req_role, req_labels,
	timeout_seconds, max_retries, retry_backoff_us, idempotency_key, request_hash,
	original_task_id, labels, state, attempt, lease_owner, lease_epoch,
	lease_expires_at, available_at, last_device_id, created_at, started_at,
	completed_at, result, resource_usage, error`

// taskRow is a task with its insertion sequence, the final tie-break of the
// lease order.
type taskRow struct {
	seq  int64
	task *domain.Task
}

func scanTask(sc scanner) (taskRow, error) {
	var (
		t                                   domain.Task
		seq, backoffUS                      int64
		leaseExp, avail, created, started   int64
		completed                           int64
		idemKey                             sql.NullString
		payload                             []byte
		reqLabels, labels, result, resUsage sql.NullString
		state                               string
	)
	err := sc.Scan(&seq, &t.ID, &t.Type, &payload, &t.Priority, &t.Queue, &t.DeviceID,
		&t.Requirements.MinCPUCores, &t.Requirements.MinMemoryGB, &t.Requirements.Platform,
		&t.Requirements.Role, &reqLabels,
		&t.TimeoutSeconds, &t.MaxRetries, &backoffUS, &idemKey, &t.RequestHash,
		&t.OriginalTaskID, &labels, &state, &t.Attempt, &t.LeaseOwner, &t.LeaseEpoch,
		&leaseExp, &avail, &t.LastDeviceID, &created, &started,
		&completed, &result, &resUsage, &t.Error)
	if err != nil {
		return taskRow{}, err
	}
	t.State = domain.TaskState(state)
	t.RetryBackoff = time.Duration(backoffUS) * time.Microsecond
	t.IdempotencyKey = idemKey.String
	t.LeaseExpiresAt = fromMicros(leaseExp)
	t.AvailableAt = fromMicros(avail)
	t.CreatedAt = fromMicros(created)
	t.StartedAt = fromMicros(started)
	t.CompletedAt = fromMicros(completed)
	if len(payload) > 0 {
		t.Payload = payload
	}
	if err := decodeTaskJSON(&t, reqLabels, labels, result, resUsage); err != nil {
		return taskRow{}, fmt.Errorf("sqlite: task %s: %w", t.ID, err)
	}
	return taskRow{seq: seq, task: &t}, nil
}

func decodeTaskJSON(t *domain.Task, reqLabels, labels, result, resUsage sql.NullString) error {
	if err := decodeJSON(reqLabels, &t.Requirements.Labels); err != nil {
		return err
	}
	if err := decodeJSON(labels, &t.Labels); err != nil {
		return err
	}
	if result.Valid {
		t.Result = new(domain.Result)
		if err := decodeJSON(result, t.Result); err != nil {
			return err
		}
	}
	if resUsage.Valid {
		t.ResourceUsage = new(domain.ResourceUsage)
		if err := decodeJSON(resUsage, t.ResourceUsage); err != nil {
			return err
		}
	}
	return nil
}

// queryTasks runs a query selecting taskColumns and collects its rows.
func queryTasks(ctx context.Context, q querier, query string, args ...any) ([]taskRow, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []taskRow
	for rows.Next() {
		r, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func tasksOf(rows []taskRow) []*domain.Task {
	out := make([]*domain.Task, len(rows))
	for i, r := range rows {
		out[i] = r.task
	}
	return out
}

// TaskGet returns one task, or domain.ErrNotFound.
func (s *Store) TaskGet(ctx context.Context, id string) (*domain.Task, error) {
	r, err := scanTask(s.read.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id))
	if err != nil {
		return nil, interpretError(err)
	}
	return r.task, nil
}

// insertTaskSQL inserts one task; a taken idempotency key inserts nothing
// (a taken id is a conflict, reported).
const insertTaskSQL = `INSERT INTO tasks (id, type, payload, priority, queue, device_id,
	req_cpu_cores, req_memory_gb, req_platform, req_role, req_labels,
	timeout_seconds, max_retries, retry_backoff_us, idempotency_key, request_hash,
	original_task_id, labels, state, attempt, lease_owner, lease_epoch,
	lease_expires_at, available_at, last_device_id, created_at, started_at,
	completed_at, result, resource_usage, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
	$17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)
ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`

// TaskInsertMany inserts tasks in one transaction; a task whose idempotency
// key is taken is not inserted and its outcome carries the earlier task.
func (s *Store) TaskInsertMany(ctx context.Context, p *store.TaskInsertManyParams) ([]store.TaskInsertOutcome, error) {
	for i, t := range p.Tasks {
		if t == nil || t.ID == "" {
			return nil, domain.Errorf(domain.CodeValidation, "task %d has no id", i)
		}
	}
	out := make([]store.TaskInsertOutcome, len(p.Tasks))
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, insertTaskSQL)
		if err != nil {
			return err
		}
		defer ins.Close()
		for i, t := range p.Tasks {
			if out[i], err = insertTask(ctx, tx, ins, t); err != nil {
				return err
			}
			if out[i].Existing {
				if err := store.KeyConflict(i, t, out[i].Task); err != nil {
					return err // rolls the whole batch back
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

func insertTask(ctx context.Context, tx *sql.Tx, ins *sql.Stmt, t *domain.Task) (store.TaskInsertOutcome, error) {
	t = normalizedTask(t)
	args, err := taskArgs(t)
	if err != nil {
		return store.TaskInsertOutcome{}, err
	}
	res, err := ins.ExecContext(ctx, args...)
	if err != nil {
		return store.TaskInsertOutcome{}, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return store.TaskInsertOutcome{Task: t}, err
	}
	r, err := scanTask(tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE idempotency_key = $1`, t.IdempotencyKey))
	if err != nil {
		return store.TaskInsertOutcome{}, err
	}
	return store.TaskInsertOutcome{Task: r.task, Existing: true}, nil
}

// normalizedTask is a copy of t as the database will give it back: times at
// microsecond precision in UTC, the empty state pending.
func normalizedTask(t *domain.Task) *domain.Task {
	c := *t
	if c.State == "" {
		c.State = domain.TaskPending
	}
	for _, tm := range []*time.Time{&c.LeaseExpiresAt, &c.AvailableAt, &c.CreatedAt, &c.StartedAt, &c.CompletedAt} {
		*tm = fromMicros(micros(*tm))
	}
	c.RetryBackoff = c.RetryBackoff.Truncate(time.Microsecond)
	return &c
}

// taskArgs is t as the arguments of insertTaskSQL.
func taskArgs(t *domain.Task) ([]any, error) {
	req := t.Requirements
	reqLabels, err := jsonOrNull(req.Labels, len(req.Labels) == 0)
	if err != nil {
		return nil, err
	}
	labels, err := jsonOrNull(t.Labels, len(t.Labels) == 0)
	if err != nil {
		return nil, err
	}
	result, err := jsonOrNull(t.Result, t.Result == nil)
	if err != nil {
		return nil, err
	}
	usage, err := jsonOrNull(t.ResourceUsage, t.ResourceUsage == nil)
	if err != nil {
		return nil, err
	}
	var payload any
	if len(t.Payload) > 0 {
		payload = []byte(t.Payload)
	}
	return []any{t.ID, t.Type, payload, int(t.Priority), t.Queue, t.DeviceID,
		req.MinCPUCores, req.MinMemoryGB, req.Platform, req.Role, reqLabels,
		t.TimeoutSeconds, t.MaxRetries, t.RetryBackoff.Microseconds(), nullString(t.IdempotencyKey), t.RequestHash,
		t.OriginalTaskID, labels, string(t.State), t.Attempt, t.LeaseOwner, t.LeaseEpoch,
		micros(t.LeaseExpiresAt), micros(t.AvailableAt), t.LastDeviceID, micros(t.CreatedAt), micros(t.StartedAt),
		micros(t.CompletedAt), result, usage, t.Error}, nil
}

// taskFilter renders a TaskListParams as a WHERE clause over args. The state
// filter is optional so that TaskCount can ignore it.
func taskFilter(p *store.TaskListParams, withState bool, args *sqlArgs) string {
	var conds []string
	if withState && p.State != "" {
		conds = append(conds, "state = "+args.add(string(p.State)))
	}
	if p.Type != "" {
		conds = append(conds, "type = "+args.add(p.Type))
	}
	if p.Queue != "" {
		conds = append(conds, "queue = "+args.add(p.Queue))
	}
	if p.DeviceID != "" {
		d := args.add(p.DeviceID)
		conds = append(conds, "(device_id = "+d+" OR lease_owner = "+d+" OR last_device_id = "+d+")")
	}
	if !p.Since.IsZero() {
		conds = append(conds, "created_at >= "+args.add(micros(p.Since)))
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// TaskList lists tasks matching the filter, newest (last inserted) first.
func (s *Store) TaskList(ctx context.Context, p *store.TaskListParams) ([]*domain.Task, error) {
	var args sqlArgs
	where := taskFilter(p, true, &args)
	query := `SELECT ` + taskColumns + ` FROM tasks` + where +
		` ORDER BY seq DESC LIMIT ` + args.add(limitOrAll(p.Limit)) + ` OFFSET ` + args.add(max(p.Offset, 0))
	rows, err := queryTasks(ctx, s.read, query, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	return tasksOf(rows), nil
}

// TaskCount counts tasks by state over the filter, every state present in
// the map (zero when none).
func (s *Store) TaskCount(ctx context.Context, p *store.TaskListParams) (map[domain.TaskState]int, error) {
	var args sqlArgs
	where := taskFilter(p, false, &args)
	rows, err := s.read.QueryContext(ctx, `SELECT state, count(*) FROM tasks`+where+` GROUP BY state`, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	counts := make(map[domain.TaskState]int, len(domain.TaskStates))
	for _, st := range domain.TaskStates {
		counts[st] = 0
	}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, interpretError(err)
		}
		counts[domain.TaskState(state)] = n
	}
	return counts, interpretError(rows.Err())
}

// cancelSet is the assignment that cancels a task: terminal now, the lease
// (if any) ended, the reason kept as its error.
const cancelSet = `state = 'cancelled', completed_at = $1, error = $2,
	lease_owner = '', lease_expires_at = 0`

// TaskCancel cancels one pending or running task.
func (s *Store) TaskCancel(ctx context.Context, p *store.TaskCancelParams) (*domain.Task, bool, error) {
	at := now(p.Now)
	var (
		task       *domain.Task
		wasRunning bool
	)
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM tasks WHERE id = $1`, p.ID).Scan(&state); err != nil {
			return err
		}
		if domain.TaskState(state).Terminal() {
			return domain.Errorf(domain.CodeTaskNotCancellable, "task %s is already %s", p.ID, state).
				With("task_id", p.ID).With("state", state)
		}
		r, err := scanTask(tx.QueryRowContext(ctx, `UPDATE tasks SET `+cancelSet+`
			WHERE id = $3 RETURNING `+taskColumns, micros(at), p.Reason, p.ID))
		task, wasRunning = r.task, state == string(domain.TaskRunning)
		return err
	})
	if err != nil {
		return nil, false, interpretError(err)
	}
	return task, wasRunning, nil
}

// TaskCancelMany cancels the pending (and, if asked, running) tasks matching
// the filter and returns their ids, sorted.
func (s *Store) TaskCancelMany(ctx context.Context, p *store.TaskCancelManyParams) ([]string, error) {
	if len(p.IDs) == 0 && p.Queue == "" && p.DeviceID == "" {
		return nil, domain.Errorf(domain.CodeValidation, "cancelling tasks needs ids, a queue or a device")
	}
	at := now(p.Now)
	states := `'pending'`
	if p.IncludeRunning {
		states += `, 'running'`
	}
	args := sqlArgs{micros(at), p.Reason} // $1, $2 of cancelSet
	query := `UPDATE tasks SET ` + cancelSet + ` WHERE state IN (` + states + `)`
	if len(p.IDs) > 0 {
		ids, err := jsonText(p.IDs)
		if err != nil {
			return nil, err
		}
		query += ` AND id IN (SELECT value FROM json_each(` + args.add(ids) + `))`
	}
	if p.Queue != "" {
		query += ` AND queue = ` + args.add(p.Queue)
	}
	if p.DeviceID != "" {
		d := args.add(p.DeviceID)
		query += ` AND (device_id = ` + d + ` OR lease_owner = ` + d + `)`
	}
	query += ` RETURNING id`

	return s.writeIDs(ctx, query, args...)
}

// writeIDs runs a write whose RETURNING lists task ids, and returns them
// sorted.
func (s *Store) writeIDs(ctx context.Context, query string, args ...any) ([]string, error) {
	var ids []string
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		ids, err = queryStrings(ctx, tx, query, args...)
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	slices.Sort(ids)
	return ids, nil
}

// queryStrings collects a one-column query's strings.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
