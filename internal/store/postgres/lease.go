package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// This file holds the lease life cycle: lease, extend, finish, release,
// rescue. Every statement that ends a lease is fenced on
// (lease_epoch, lease_owner, state = 'running'), and every one that locks
// several tasks it may have to wait for locks them in id order, so two
// batches never deadlock. Leasing and rescuing skip locked rows instead: a
// task someone else is changing is not theirs to take.

// leaseSQL is placement and leasing in one statement. Candidates come from
// one lateral subquery per queue the worker listens on, and one for tasks
// pinned to it; each reads a partial index whose order is the lease order
// (tasks_pending_by_queue, tasks_pending_by_pin) with an equality on its
// first column, takes up to $10 eligible rows it can lock (SKIP LOCKED: rows
// another leaser holds are passed over, not waited for) and stops. The best
// $10 of the candidates are leased; the rest are released at commit.
//
// The shape matters more than it looks. With one index over all pending
// tasks and the queue as a filter, the planner trusted stale statistics (a
// backlog that was empty at the last ANALYZE), chose a bitmap scan and
// sorted every pending row on each lease: 60 ms a lease with 30,000 pending.
// An equality on the index's first column and ORDER BY its remaining columns
// leaves it one sensible plan: walk the index and stop at the limit.
//
// The placement filter mirrors domain.Worker.CanRun. Paused queues
// (queue_pauses) give no candidates, and a suspended or draining worker
// leases nothing: checked in the statement that leases, so they hold on
// every server at once.
const leaseSQL = `
WITH candidates AS (
	SELECT p.id, p.priority, p.available_at FROM (
		SELECT id, priority, available_at FROM tasks
		WHERE state = 'pending' AND device_id <> '' AND device_id = $2
			AND available_at <= coalesce($1::timestamptz, now()) AND ` + placementSQL + `
			AND NOT EXISTS (SELECT 1 FROM queue_pauses qp WHERE qp.queue = tasks.queue) AND ` + workerGateSQL + `
		ORDER BY priority DESC, available_at, id
		LIMIT $10
		FOR UPDATE SKIP LOCKED
	) p
	UNION ALL
	SELECT q.id, q.priority, q.available_at FROM (
		SELECT u.queue FROM unnest($4::text[]) AS u(queue)
		WHERE NOT EXISTS (SELECT 1 FROM queue_pauses qp WHERE qp.queue = u.queue)
	) AS w(queue)
	CROSS JOIN LATERAL (
		SELECT id, priority, available_at FROM tasks
		WHERE state = 'pending' AND device_id = '' AND queue = w.queue
			AND available_at <= coalesce($1::timestamptz, now()) AND ` + placementSQL + ` AND ` + workerGateSQL + `
		ORDER BY priority DESC, available_at, id
		LIMIT $10
		FOR UPDATE SKIP LOCKED
	) q
),
c AS (
	SELECT id FROM candidates ORDER BY priority DESC, available_at, id LIMIT $10
)
UPDATE tasks t SET state = 'running',
	attempt = t.attempt + 1,
	lease_epoch = t.lease_epoch + 1,
	lease_owner = $2,
	lease_expires_at = coalesce($1::timestamptz, now()) + $11::interval,
	started_at = coalesce($1::timestamptz, now()),
	last_device_id = $2
FROM c WHERE t.id = c.id
RETURNING ` + taskColumns

// workerGateSQL stops a suspended or draining worker ($2) from leasing. It
// is uncorrelated, so it is evaluated once per statement (an InitPlan), and
// when it fails no candidate row is read or locked.
const workerGateSQL = `NOT EXISTS (SELECT 1 FROM workers wk WHERE wk.id = $2
				AND (wk.suspended_at IS NOT NULL OR wk.state = 'draining'))`

// placementSQL is domain.Worker.Satisfies and Handles over a pending task.
const placementSQL = `type = ANY($3::text[])
			AND (min_cpu_cores <= 0 OR min_cpu_cores <= $5)
			AND (min_memory_gb <= 0 OR min_memory_gb <= $6 + 0.05) -- the rounding hair of Worker.Satisfies
			AND platform IN ('', $7)
			AND role IN ('', $8)
			AND (req_labels IS NULL OR req_labels <@ $9::jsonb)`

// TaskLease leases up to p.Max tasks p.Worker can run, in one statement.
func (s *Store) TaskLease(ctx context.Context, p *store.TaskLeaseParams) ([]*domain.Task, error) {
	w := p.Worker
	if w == nil || w.ID == "" {
		// An empty id would match every unpinned task's empty device_id.
		return nil, domain.Errorf(domain.CodeValidation, "leasing needs a worker with an id")
	}
	if p.Max <= 0 || len(w.TaskTypes) == 0 {
		return nil, nil
	}
	workerLabels := w.Labels
	if workerLabels == nil {
		workerLabels = map[string]string{} // contains only tasks without labels
	}
	labels, err := json.Marshal(workerLabels)
	if err != nil {
		return nil, translate(err)
	}
	tasks, err := s.queryTasks(ctx, leaseSQL, timeArg(p.Now), w.ID, w.TaskTypes, uniqueQueues(w.Queues),
		w.Resources.CPUCores, w.Resources.MemoryTotalGB, w.Platform.OS, w.Role, string(labels),
		p.Max, p.TTL)
	if err != nil {
		return nil, err
	}
	// UPDATE … RETURNING comes in no particular order; callers get lease order.
	slices.SortFunc(tasks, func(a, b *domain.Task) int {
		return cmp.Or(
			cmp.Compare(b.Priority, a.Priority),
			a.AvailableAt.Compare(b.AvailableAt),
			cmp.Compare(a.ID, b.ID))
	})
	return tasks, nil
}

// uniqueQueues is qs sorted without repeats, so no queue is read twice.
func uniqueQueues(qs []string) []string {
	out := slices.Clone(qs)
	slices.Sort(out)
	return slices.Compact(out)
}

// finishSQL applies a batch of results. $1 is Now, $2 the reporting worker;
// the arrays hold one result each. retry_us is set for a failed attempt that
// goes back to pending (its backoff, in microseconds) and NULL otherwise.
// The worker's counters change in the same statement, so in the same
// transaction, as the tasks they count.
const finishSQL = `
WITH r AS (
	SELECT * FROM unnest($3::text[], $4::bigint[], $5::bool[], $6::text[], $7::text[], $8::text[], $9::bigint[])
		AS r(id, epoch, ok, result, usage, error, retry_us)
),
locked AS (
	-- Lock each reported task by primary key, then check the fence on the
	-- locked, latest version. The fence is not in the lookup's WHERE on
	-- purpose: given lease_owner there, the planner trusted the partial owner
	-- index (tiny, by its statistics) and walked all its entries per result;
	-- under load those are mostly rows that already finished and await
	-- vacuum, and a finish took seconds. OFFSET 0 keeps the planner from
	-- pushing the fence back into the lookup. Rows are locked in id order, so
	-- two batches cannot deadlock.
	SELECT t.id, t.lease_epoch AS epoch FROM (SELECT id, epoch FROM r ORDER BY id) r
	CROSS JOIN LATERAL (
		SELECT t.id, t.lease_epoch, t.lease_owner, t.state FROM tasks t WHERE t.id = r.id OFFSET 0 FOR UPDATE
	) t
	WHERE t.lease_epoch = r.epoch AND t.lease_owner = $2 AND t.state = 'running'
),
done AS (
	-- The rows are locked and were checked on their latest version by
	-- locked: nothing can change them before commit. Joining only on the
	-- primary key keeps this a lookup per result.
	UPDATE tasks t SET
		state = CASE WHEN r.ok THEN 'completed' WHEN r.retry_us IS NULL THEN 'failed' ELSE 'pending' END,
		lease_owner = '',
		lease_expires_at = NULL,
		available_at = CASE WHEN NOT r.ok AND r.retry_us IS NOT NULL
			THEN coalesce($1::timestamptz, now()) + r.retry_us * interval '1 microsecond'
			ELSE t.available_at END,
		completed_at = CASE WHEN r.ok OR r.retry_us IS NULL THEN coalesce($1::timestamptz, now()) END,
		result = r.result::json,
		resource_usage = r.usage::json,
		error = r.error
	FROM locked JOIN r ON r.id = locked.id AND r.epoch = locked.epoch
	WHERE t.id = locked.id
	RETURNING r.ok, ` + taskColumns + `
),
counted AS (
	UPDATE workers SET
		tasks_completed = tasks_completed + (SELECT count(*) FROM done WHERE ok),
		tasks_failed = tasks_failed + (SELECT count(*) FROM done WHERE NOT ok)
	WHERE id = $2 AND EXISTS (SELECT 1 FROM done)
)
SELECT * FROM done`

// TaskFinishMany records a batch of results. When every result is a success
// (the hot path) it is one statement. A failure needs the task's attempt and
// backoff base to compute its retry delay with p.Backoff, a Go function, so a
// batch with failures first reads and locks those tasks, then applies the
// same statement, in one transaction.
func (s *Store) TaskFinishMany(ctx context.Context, p *store.TaskFinishManyParams) ([]store.TaskFinishOutcome, error) {
	results := uniqueResults(p.Results)
	if len(results) == 0 {
		return staleOutcomes(p.Results, nil), nil
	}
	var done map[string]*domain.Task
	finish := func(q querier, retries map[string]time.Duration) error {
		args, err := finishArgs(p, results, retries)
		if err != nil {
			return err
		}
		done, err = finishQuery(ctx, q, args)
		return err
	}
	var err error
	if anyFailed(results) {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			retries, err := retryDelays(ctx, tx, p, results)
			if err != nil {
				return err
			}
			if err := finish(tx, retries); err != nil {
				return err
			}
			if anyPending(maps.Values(done)) {
				return s.notifyWork(ctx, tx, maps.Values(done))
			}
			return nil
		})
	} else {
		err = finish(s.pool, nil)
	}
	if err != nil {
		return nil, translate(err)
	}
	return staleOutcomes(p.Results, done), nil
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// uniqueResults is the results sorted by task id, so rows lock in id order,
// keeping only the first result for each lease: a second report on the same
// lease in one batch is stale by the time it would apply.
func uniqueResults(results []store.TaskFinish) []store.TaskFinish {
	out := slices.Clone(results)
	slices.SortStableFunc(out, func(a, b store.TaskFinish) int {
		return cmp.Or(cmp.Compare(a.Ref.TaskID, b.Ref.TaskID), cmp.Compare(a.Ref.Epoch, b.Ref.Epoch))
	})
	return slices.CompactFunc(out, func(a, b store.TaskFinish) bool { return a.Ref == b.Ref })
}

// anyPending reports whether any of tasks went back to pending: work that
// other servers' waiting workers should hear of.
func anyPending(tasks iter.Seq[*domain.Task]) bool {
	for t := range tasks {
		if t.State == domain.TaskPending {
			return true
		}
	}
	return false
}

func anyFailed(results []store.TaskFinish) bool {
	return slices.ContainsFunc(results, func(r store.TaskFinish) bool { return !r.Succeeded })
}

// retryDelays locks the still-leased tasks of the failed results and returns,
// for each that has retries left, its backoff.
func retryDelays(ctx context.Context, tx pgx.Tx, p *store.TaskFinishManyParams, results []store.TaskFinish) (map[string]time.Duration, error) {
	var ids []string
	var epochs []int64
	for _, r := range results {
		if !r.Succeeded {
			ids, epochs = append(ids, r.Ref.TaskID), append(epochs, r.Ref.Epoch)
		}
	}
	rows, err := tx.Query(ctx, `
SELECT t.id, t.attempt, t.max_retries, t.retry_backoff
FROM tasks t JOIN unnest($2::text[], $3::bigint[]) AS r(id, epoch) ON t.id = r.id
WHERE t.lease_epoch = r.epoch AND t.lease_owner = $1 AND t.state = 'running'
ORDER BY t.id
FOR UPDATE OF t`, p.WorkerID, ids, epochs)
	if err != nil {
		return nil, err
	}
	_, retries, err := collectRetries(rows, p.Backoff, 0)
	return retries, err
}

// collectRetries reads (id, attempt, max_retries, retry_backoff) rows. It
// returns the ids in row order and the backoff of each task that has retries
// left: attempt n may be followed by another while n <= max_retries.
func collectRetries(rows pgx.Rows, backoff func(int, time.Duration) time.Duration, extra int) ([]string, map[string]time.Duration, error) {
	var ids []string
	retries := map[string]time.Duration{}
	var (
		id                  string
		attempt, maxRetries int
		base                time.Duration
	)
	_, err := pgx.ForEachRow(rows, []any{&id, &attempt, &maxRetries, &base}, func() error {
		ids = append(ids, id)
		if attempt <= maxRetries+extra {
			retries[id] = delay(backoff, attempt, base)
		}
		return nil
	})
	return ids, retries, err
}

// delay is backoff(attempt, base), or no delay without a backoff function.
func delay(backoff func(int, time.Duration) time.Duration, attempt int, base time.Duration) time.Duration {
	if backoff == nil {
		return 0
	}
	return max(backoff(attempt, base), 0)
}

// finishArgs lays out the results as finishSQL's arrays.
func finishArgs(p *store.TaskFinishManyParams, results []store.TaskFinish, retries map[string]time.Duration) ([]any, error) {
	n := len(results)
	var (
		ids      = make([]string, n)
		epochs   = make([]int64, n)
		oks      = make([]bool, n)
		outputs  = make([]*string, n)
		usages   = make([]*string, n)
		errs     = make([]string, n)
		retryUSs = make([]*int64, n)
	)
	for i, r := range results {
		var err error
		ids[i], epochs[i], oks[i] = r.Ref.TaskID, r.Ref.Epoch, r.Succeeded
		if outputs[i], err = jsonArg(r.Result, r.Result == nil); err != nil {
			return nil, err
		}
		if usages[i], err = jsonArg(r.ResourceUsage, r.ResourceUsage == nil); err != nil {
			return nil, err
		}
		if r.Result != nil && !r.Succeeded {
			errs[i] = r.Result.Error
		}
		if d, ok := retries[r.Ref.TaskID]; ok && !r.Succeeded {
			us := d.Microseconds()
			retryUSs[i] = &us
		}
	}
	return []any{timeArg(p.Now), p.WorkerID, ids, epochs, oks, outputs, usages, errs, retryUSs}, nil
}

// finishQuery runs finishSQL and returns the tasks it changed, by id.
func finishQuery(ctx context.Context, q querier, args []any) (map[string]*domain.Task, error) {
	rows, err := q.Query(ctx, finishSQL, args...)
	if err != nil {
		return nil, err
	}
	var ok bool
	tasks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*domain.Task, error) {
		return scanTask(prefixedRow{row, []any{&ok}})
	})
	if err != nil {
		return nil, err
	}
	done := make(map[string]*domain.Task, len(tasks))
	for _, t := range tasks {
		done[t.ID] = t
	}
	return done, nil
}

// staleOutcomes gives each result, in input order, its outcome: the changed
// task if its lease was held, else stale. Of two results for one lease, only
// the first can have applied.
func staleOutcomes(results []store.TaskFinish, done map[string]*domain.Task) []store.TaskFinishOutcome {
	out := make([]store.TaskFinishOutcome, len(results))
	for i, r := range results {
		t, ok := done[r.Ref.TaskID]
		if !ok || t.LeaseEpoch != r.Ref.Epoch {
			out[i] = store.TaskFinishOutcome{Ref: r.Ref, StaleLease: true}
			continue
		}
		out[i] = store.TaskFinishOutcome{Ref: r.Ref, State: t.State, Task: t}
		delete(done, r.Ref.TaskID)
	}
	return out
}

// releaseSQL ends every lease a worker holds, as if each had expired now,
// except that it never fails a task and never delays it: the worker handed
// the task back, the task did not fail. So the attempt is not counted either:
// the next lease runs the same attempt again (under a new epoch).
const releaseSQL = `
WITH c AS (
	SELECT id FROM tasks WHERE lease_owner = $2 AND state = 'running' ORDER BY id FOR UPDATE
)
UPDATE tasks t SET
	state = CASE WHEN $3 THEN 'cancelled' ELSE 'pending' END,
	attempt = CASE WHEN $3 THEN t.attempt ELSE t.attempt - 1 END,
	lease_owner = '',
	lease_expires_at = NULL,
	available_at = CASE WHEN $3 THEN t.available_at ELSE coalesce($1::timestamptz, now()) END,
	completed_at = CASE WHEN $3 THEN coalesce($1::timestamptz, now()) END,
	error = $4
FROM c WHERE t.id = c.id AND t.lease_owner = $2 AND t.state = 'running'
RETURNING t.id`

// TaskReleaseWorker ends one worker's leases in one statement; tasks handed
// back are announced to other servers in the same transaction.
func (s *Store) TaskReleaseWorker(ctx context.Context, p *store.TaskReleaseWorkerParams) ([]string, error) {
	if p.WorkerID == "" {
		return nil, nil
	}
	var ids []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, releaseSQL, timeArg(p.Now), p.WorkerID, p.Cancel, p.Reason)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(ids) == 0 || p.Cancel {
			return err
		}
		return s.notifyWork(ctx, tx, nil) // any queue: rare, and only the ids are at hand
	})
	if err != nil {
		return nil, translate(err)
	}
	slices.Sort(ids)
	return ids, nil
}

// leaseExpiredError is the Error of a task whose lease ran out.
const leaseExpiredError = "lease expired: the worker stopped renewing it"

// rescueSQL requeues or fails expired tasks; the ids and retry delays come
// from the expired tasks locked just before, in the same transaction.
const rescueSQL = `
UPDATE tasks t SET
	state = CASE WHEN r.retry_us IS NULL THEN 'failed' ELSE 'pending' END,
	lease_owner = '',
	lease_expires_at = NULL,
	available_at = CASE WHEN r.retry_us IS NULL THEN t.available_at
		ELSE coalesce($1::timestamptz, now()) + r.retry_us * interval '1 microsecond' END,
	completed_at = CASE WHEN r.retry_us IS NULL THEN coalesce($1::timestamptz, now()) END,
	error = $2
FROM unnest($3::text[], $4::bigint[]) AS r(id, retry_us)
WHERE t.id = r.id AND t.state = 'running'
RETURNING ` + taskColumns

// TaskRescueExpired requeues or fails tasks whose lease expired before Now.
// It is the reaper's sweep, not a hot path: one transaction of two
// statements, since each retry delay comes from p.Backoff. Tasks locked by
// someone else (a result arriving just now) are skipped; if still expired,
// the next sweep takes them.
func (s *Store) TaskRescueExpired(ctx context.Context, p *store.TaskRescueExpiredParams) ([]*domain.Task, error) {
	var rescued []*domain.Task
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT id, attempt, max_retries, retry_backoff FROM tasks
WHERE state = 'running' AND lease_expires_at < coalesce($1::timestamptz, now())
ORDER BY lease_expires_at, id
LIMIT $2
FOR UPDATE SKIP LOCKED`, timeArg(p.Now), limitArg(p.Limit))
		if err != nil {
			return err
		}
		ids, retries, err := collectRetries(rows, p.Backoff, p.LostRetries)
		if err != nil || len(ids) == 0 {
			return err
		}
		retryUSs := make([]*int64, len(ids))
		for i, id := range ids {
			if d, ok := retries[id]; ok {
				us := d.Microseconds()
				retryUSs[i] = &us
			}
		}
		rows, err = tx.Query(ctx, rescueSQL, timeArg(p.Now), leaseExpiredError, ids, retryUSs)
		if err != nil {
			return err
		}
		rescued, err = pgx.CollectRows(rows, scanTask)
		if err != nil || !anyPending(slices.Values(rescued)) {
			return err
		}
		return s.notifyWork(ctx, tx, slices.Values(rescued))
	})
	if err != nil {
		return nil, translate(err)
	}
	slices.SortFunc(rescued, func(a, b *domain.Task) int { return cmp.Compare(a.ID, b.ID) })
	return rescued, nil
}

// limitArg is a LIMIT argument: NULL (no limit) for zero or less.
func limitArg(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

// nextAvailableSQL is the earliest time after $1 a pending task of the
// queues $2 comes due. Every long poll that finds nothing asks it. The
// unpinned tasks' index is ordered by priority before available_at, so the
// earliest is looked up per queue and priority, one index seek each: a min
// over the queue walked every pending task of it (16 ms a poll with a
// backlog of 30,000).
var nextAvailableSQL = `SELECT min(next) FROM (
	SELECT (SELECT min(t.available_at) FROM tasks t WHERE t.state = 'pending' AND t.device_id = ''
			AND t.queue = q.queue AND t.priority = p.priority AND t.available_at > coalesce($1::timestamptz, now())) AS next
		FROM unnest($2::text[]) AS q(queue), unnest(ARRAY[` + strings.Join(store.PriorityLiterals(), ", ") + `]) AS p(priority)
	UNION ALL
	SELECT min(available_at) FROM tasks WHERE state = 'pending' AND device_id <> ''
		AND available_at > coalesce($1::timestamptz, now()) AND queue = ANY($2)
) n`

// TaskNextAvailable returns the earliest future AvailableAt of pending tasks
// in the queues (any queue when none is named), or the zero time.
func (s *Store) TaskNextAvailable(ctx context.Context, p *store.TaskNextAvailableParams) (time.Time, error) {
	if len(p.Queues) > 0 {
		var next *time.Time
		err := s.pool.QueryRow(ctx, nextAvailableSQL, timeArg(p.Now), uniqueQueues(p.Queues)).Scan(&next)
		return timeOf(next), translate(err)
	}
	w := &where{args: []any{timeArg(p.Now)}}
	w.add("state = 'pending'")
	w.add("available_at > coalesce($1::timestamptz, now())")
	if len(p.Queues) > 0 {
		w.add("queue = ANY(?)", p.Queues)
	}
	var next *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(available_at) FROM tasks`+w.sql(), w.args...).Scan(&next); err != nil {
		return time.Time{}, translate(err)
	}
	return timeOf(next), nil
}
