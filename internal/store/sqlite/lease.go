package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Leases. A task is running exactly while lease_owner is set; lease_epoch,
// bumped by every lease, fences every later write about that attempt: the
// write's WHERE names the epoch and owner it believes in, and no row changes
// when they are stale.

// TaskLease leases up to Max pending tasks Worker may run, in lease order:
// priority, then available_at, then insertion.
//
// The candidates come from one subquery per queue the worker listens on and
// one for tasks pinned to it, each reading a partial index in lease order
// and stopping after Max matches; the update takes the best Max of them. So
// a lease reads about Max rows per queue however long the backlog, as long
// as most pending tasks are ones the worker can run. (Tasks it cannot run,
// for want of a handler or a label, are read and skipped.)
func (s *Store) TaskLease(ctx context.Context, p *store.TaskLeaseParams) ([]*domain.Task, error) {
	if p.Worker == nil || p.Worker.ID == "" {
		return nil, domain.Errorf(domain.CodeValidation, "leasing needs a worker")
	}
	if p.Max <= 0 || len(p.Worker.TaskTypes) == 0 {
		return nil, nil // a worker without handlers can run nothing
	}
	at := now(p.Now)
	query, args, err := leaseQuery(p.Worker, p.Max, at, at.Add(p.TTL))
	if err != nil {
		return nil, err
	}
	var rows []taskRow
	err = s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		var q querier = tx
		if hot, ok := s.hot[query]; ok {
			q = stmtQuerier{tx.StmtContext(ctx, hot)}
		}
		rows, err = queryTasks(ctx, q, query, args...)
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	// RETURNING gives rows in no promised order.
	slices.SortFunc(rows, func(a, b taskRow) int {
		return cmp.Or(
			cmp.Compare(b.task.Priority, a.task.Priority),
			a.task.AvailableAt.Compare(b.task.AvailableAt),
			cmp.Compare(a.seq, b.seq))
	})
	return tasksOf(rows), nil
}

// leaseQuery builds the lease statement for w. Its text depends only on how
// many queues w listens on. Paused queues (queue_pauses) give no candidates,
// and a suspended or draining worker leases nothing: checked here, in the
// statement that leases, so they hold on every server at once.
func leaseQuery(w *domain.Worker, limit int, at, expires time.Time) (string, sqlArgs, error) {
	var args sqlArgs
	placement, err := placementFilter(w, &args)
	if err != nil {
		return "", nil, err
	}
	nowArg, limitArg, workerArg := args.add(micros(at)), "CAST("+args.add(limit)+" AS INTEGER)", args.add(w.ID)

	candidate := func(match string) string {
		return `SELECT * FROM (SELECT t.seq, t.priority, t.available_at FROM tasks t
			WHERE t.state = 'pending' AND ` + match + ` AND t.available_at <= ` + nowArg + ` AND ` + placement + `
				AND NOT EXISTS (SELECT 1 FROM queue_pauses qp WHERE qp.queue = t.queue)
			ORDER BY t.priority DESC, t.available_at, t.seq LIMIT ` + limitArg + `)`
	}
	// The literal device_id terms let SQLite match the partial indexes.
	// The worker's id and the limit go in through CASTs: as bare
	// parameters, the planner reads their bound values (the id to match
	// the partial indexes' device_id terms, the limit to size the sort),
	// which marks the prepared statement as planned for those values, and
	// SQLite re-prepared it on every lease (BenchmarkLease1: 2.2 -> 1.1 ms).
	parts := []string{candidate(`t.device_id <> '' AND t.device_id = CAST(` + workerArg + ` AS TEXT)`)}
	for _, q := range uniqueQueues(w.Queues) {
		parts = append(parts, candidate(`t.device_id = '' AND t.queue = `+args.add(q)))
	}
	query := `WITH candidates AS (` + strings.Join(parts, "\nUNION ALL\n") + `)
		UPDATE tasks SET state = 'running', attempt = attempt + 1, lease_epoch = lease_epoch + 1,
			lease_owner = ` + workerArg + `, last_device_id = ` + workerArg + `,
			lease_expires_at = ` + args.add(micros(expires)) + `, started_at = ` + nowArg + `
		WHERE seq IN (SELECT seq FROM candidates ORDER BY priority DESC, available_at, seq LIMIT ` + limitArg + `)
			AND NOT EXISTS (SELECT 1 FROM workers wk WHERE wk.id = ` + workerArg + `
				AND (wk.suspended_at <> 0 OR wk.state = 'draining'))
		RETURNING ` + taskColumns
	return query, args, nil
}

// placementFilter is domain.Worker.Satisfies and Handles in SQL, over the
// task aliased t.
func placementFilter(w *domain.Worker, args *sqlArgs) (string, error) {
	types, err := jsonText(w.TaskTypes)
	if err != nil {
		return "", err
	}
	labels, err := jsonText(w.Labels)
	if err != nil {
		return "", err
	}
	conds := []string{
		`t.type IN (SELECT value FROM json_each(` + args.add(types) + `))`,
		`t.req_cpu_cores <= ` + args.add(w.Resources.CPUCores),
		// Memory is reported in GB with decimals; allow a rounding hair, as Satisfies does.
		`t.req_memory_gb <= ` + args.add(w.Resources.MemoryTotalGB+0.05),
		`t.req_platform IN ('', ` + args.add(w.Platform.OS) + `)`,
		`t.req_role IN ('', ` + args.add(w.Role) + `)`,
		`(t.req_labels IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(t.req_labels) r
			WHERE r.value IS NOT (SELECT l.value FROM json_each(` + args.add(labels) + `) l WHERE l.key = r.key)))`,
	}
	return strings.Join(conds, " AND "), nil
}

func uniqueQueues(qs []string) []string {
	out := slices.Clone(qs)
	slices.Sort(out)
	return slices.Compact(out)
}

// TaskFinishMany records attempt results, each fenced by epoch and owner, and
// counts them on the worker: TasksCompleted for a success, TasksFailed for a
// failure (retried or not).
func (s *Store) TaskFinishMany(ctx context.Context, p *store.TaskFinishManyParams) ([]store.TaskFinishOutcome, error) {
	at := now(p.Now)
	var out []store.TaskFinishOutcome
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		f, err := s.newFinisher(ctx, tx)
		if err != nil {
			return err
		}
		defer f.close()
		out = make([]store.TaskFinishOutcome, len(p.Results))
		var completed, failed int
		for i, res := range p.Results {
			if out[i], err = f.finish(ctx, p, res, at); err != nil {
				return err
			}
			switch {
			case out[i].StaleLease:
			case res.Succeeded:
				completed++
			default:
				failed++
			}
		}
		if completed+failed == 0 {
			return nil
		}
		count, err := s.stmt(ctx, tx, countResultsSQL)
		if err != nil {
			return err
		}
		defer count.Close()
		_, err = count.ExecContext(ctx, completed, failed, p.WorkerID)
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

// fenced is the condition under which a write about an attempt applies.
const fenced = `id = $1 AND state = 'running' AND lease_epoch = $2 AND lease_owner = $3`

// finisher applies results with statements prepared once per call.
type finisher struct {
	attempt *sql.Stmt // the fenced attempt's retry budget, for a failure
	update  *sql.Stmt // the fenced update
}

// The statements of a finish, prepared once (stmt.go): many workers with a
// slot or two each report a result or two a call, and parsing them afresh
// each time was a tenth of the server's CPU with 10,000 such workers.
const (
	finishAttemptSQL = `SELECT attempt, max_retries, retry_backoff_us FROM tasks WHERE ` + fenced
	// $4 state; $5 available_at (NULL: unchanged); $6 completed_at; $7-$9 result, usage, error.
	finishUpdateSQL = `UPDATE tasks SET state = $4,
			available_at = coalesce($5, available_at), completed_at = $6,
			result = $7, resource_usage = $8, error = $9, lease_owner = '', lease_expires_at = 0
		WHERE ` + fenced + ` RETURNING ` + taskColumns
	countResultsSQL = `UPDATE workers SET tasks_completed = tasks_completed + $1,
			tasks_failed = tasks_failed + $2 WHERE id = $3`
)

func (s *Store) newFinisher(ctx context.Context, tx *sql.Tx) (*finisher, error) {
	attempt, err := s.stmt(ctx, tx, finishAttemptSQL)
	if err != nil {
		return nil, err
	}
	update, err := s.stmt(ctx, tx, finishUpdateSQL)
	if err != nil {
		attempt.Close()
		return nil, err
	}
	return &finisher{attempt: attempt, update: update}, nil
}

func (f *finisher) close() {
	f.attempt.Close()
	f.update.Close()
}

// finish applies one result, or reports it stale. A success is one fenced
// update; a failure first reads the attempt's retry budget.
func (f *finisher) finish(ctx context.Context, p *store.TaskFinishManyParams, res store.TaskFinish, at time.Time) (store.TaskFinishOutcome, error) {
	stale := store.TaskFinishOutcome{Ref: res.Ref, StaleLease: true}
	fence := []any{res.Ref.TaskID, res.Ref.Epoch, p.WorkerID}
	state, availableAt, completedAt, errText := domain.TaskCompleted, any(nil), micros(at), ""
	if !res.Succeeded {
		var attempt, maxRetries int
		var backoffUS int64
		err := f.attempt.QueryRowContext(ctx, fence...).Scan(&attempt, &maxRetries, &backoffUS)
		if err == sql.ErrNoRows {
			return stale, nil
		}
		if err != nil {
			return stale, err
		}
		state, errText = domain.TaskFailed, failureText(res.Result)
		if attempt <= maxRetries {
			delay := backoff(p.Backoff, attempt, time.Duration(backoffUS)*time.Microsecond)
			state, availableAt, completedAt = domain.TaskPending, micros(at.Add(delay)), 0
		}
	}
	result, err := jsonOrNull(res.Result, res.Result == nil)
	if err != nil {
		return stale, err
	}
	usage, err := jsonOrNull(res.ResourceUsage, res.ResourceUsage == nil)
	if err != nil {
		return stale, err
	}
	r, err := scanTask(f.update.QueryRowContext(ctx, append(fence, string(state), availableAt, completedAt, result, usage, errText)...))
	if err == sql.ErrNoRows {
		return stale, nil
	}
	if err != nil {
		return stale, err
	}
	return store.TaskFinishOutcome{Ref: res.Ref, State: state, Task: r.task}, nil
}

// failureText is the error kept on a task whose attempt failed.
func failureText(r *domain.Result) string {
	switch {
	case r == nil:
		return "attempt failed"
	case r.Error != "":
		return r.Error
	case r.ExitCode != 0:
		return "exit code " + strconv.Itoa(r.ExitCode)
	}
	return "attempt failed"
}

// backoff is the delay before retrying after attempt; without a policy, none.
func backoff(policy func(int, time.Duration) time.Duration, attempt int, base time.Duration) time.Duration {
	if policy == nil {
		return 0
	}
	return max(policy(attempt, base), 0)
}

// TaskRescueExpired returns tasks whose lease expired before Now to pending
// (after Backoff) while Attempt <= MaxRetries + LostRetries, else fails them.
func (s *Store) TaskRescueExpired(ctx context.Context, p *store.TaskRescueExpiredParams) ([]*domain.Task, error) {
	at := now(p.Now)
	var rescued []*domain.Task
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		expired, err := queryTasks(ctx, tx, `SELECT `+taskColumns+` FROM tasks
			WHERE state = 'running' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2`,
			micros(at), limitOrAll(p.Limit))
		if err != nil {
			return err
		}
		rescued = make([]*domain.Task, 0, len(expired))
		for _, e := range expired {
			t, err := rescueTask(ctx, tx, p, e.task, at)
			if err != nil {
				return err
			}
			rescued = append(rescued, t)
		}
		return nil
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return rescued, nil
}

// errLeaseExpired is the error kept on a task whose worker stopped answering.
const errLeaseExpired = "lease expired: the worker stopped renewing it"

func rescueTask(ctx context.Context, tx *sql.Tx, p *store.TaskRescueExpiredParams, t *domain.Task, at time.Time) (*domain.Task, error) {
	state, availableAt, completedAt := domain.TaskFailed, micros(t.AvailableAt), micros(at)
	if t.Attempt <= t.MaxRetries+max(p.LostRetries, 0) {
		delay := backoff(p.Backoff, t.Attempt, t.RetryBackoff)
		state, availableAt, completedAt = domain.TaskPending, micros(at.Add(delay)), 0
	}
	r, err := scanTask(tx.QueryRowContext(ctx, `UPDATE tasks SET state = $4, available_at = $5, completed_at = $6,
			error = $7, lease_owner = '', lease_expires_at = 0
		WHERE `+fenced+` RETURNING `+taskColumns,
		t.ID, t.LeaseEpoch, t.LeaseOwner, string(state), availableAt, completedAt, errLeaseExpired))
	return r.task, err
}

// TaskReleaseWorker ends every lease the worker holds: back to pending, the
// attempt not counted against the retry budget, or cancelled.
func (s *Store) TaskReleaseWorker(ctx context.Context, p *store.TaskReleaseWorkerParams) ([]string, error) {
	at := micros(now(p.Now))
	query := `UPDATE tasks SET state = 'pending', attempt = attempt - 1, available_at = $2,
		lease_owner = '', lease_expires_at = 0
		WHERE state = 'running' AND lease_owner = $1 RETURNING id`
	args := []any{p.WorkerID, at}
	if p.Cancel {
		query = `UPDATE tasks SET state = 'cancelled', completed_at = $2, error = $3,
			lease_owner = '', lease_expires_at = 0
			WHERE state = 'running' AND lease_owner = $1 RETURNING id`
		args = append(args, p.Reason)
	}
	return s.writeIDs(ctx, query, args...)
}

// nextAvailableSQL is the earliest time after $1 a task of the queues $2
// (JSON) comes due. Every long poll that finds nothing asks it, so it is a
// hot read (stmt.go). The unpinned tasks' index is ordered by priority
// before available_at, so the earliest is looked up per queue and priority,
// one index seek each: a min over the whole queue walked every pending task
// of it, on every empty poll (a twentieth of the server's CPU with 10,000
// workers and a backlog of a thousand). Pinned tasks are read from their own
// index, which the planner passed over for the queue's, walking the
// unpinned backlog too.
var nextAvailableSQL = `SELECT min(next) FROM (
		SELECT (SELECT min(available_at) FROM tasks WHERE state = 'pending' AND device_id = ''
				AND queue = q.value AND priority = p.column1 AND available_at > $1) AS next
			FROM json_each($2) q, (VALUES (` + strings.Join(store.PriorityLiterals(), "), (") + `)) p
		UNION ALL
		SELECT min(available_at) FROM tasks INDEXED BY tasks_pending_by_pin WHERE state = 'pending' AND device_id <> ''
			AND available_at > $1 AND queue IN (SELECT value FROM json_each($2)))`

// TaskNextAvailable is the earliest AvailableAt after Now among pending tasks
// in the queues, or the zero time.
func (s *Store) TaskNextAvailable(ctx context.Context, p *store.TaskNextAvailableParams) (time.Time, error) {
	if len(p.Queues) == 0 {
		return time.Time{}, nil
	}
	queues, err := jsonText(p.Queues)
	if err != nil {
		return time.Time{}, err
	}
	// Unpinned and pinned tasks live in different partial indexes; the
	// literal device_id terms let SQLite use them.
	var next sql.NullInt64
	err = s.hotRead[nextAvailableSQL].QueryRowContext(ctx, micros(now(p.Now)), queues).Scan(&next)
	if err != nil {
		return time.Time{}, interpretError(err)
	}
	return fromMicros(next.Int64), nil
}
