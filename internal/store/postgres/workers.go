package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// workerColumns is the column list of statements returning workers, in
// scanWorker's order; they alias workers as w. TasksActive is derived from the
// running tasks (the tasks_running_owner index), never stored, so it cannot
// drift from them.
const workerColumns = `w.id, w.name, w.hostname, w.role, w.platform, w.resources, w.info,
	w.queues, w.labels, w.task_types, w.concurrency, w.pid, w.version, w.credential_hash,
	w.state, w.registered_at, w.last_seen, w.tasks_completed, w.tasks_failed, w.pool_id,
	(SELECT count(*) FROM tasks t WHERE t.lease_owner = w.id AND t.state = 'running')`

func scanWorker(row pgx.CollectableRow) (*domain.Worker, error) {
	var (
		w                                domain.Worker
		platform, resources, info, label []byte
		state                            string
		registered, lastSeen             time.Time
	)
	err := row.Scan(&w.ID, &w.Name, &w.Hostname, &w.Role, &platform, &resources, &info,
		&w.Queues, &label, &w.TaskTypes, &w.Concurrency, &w.PID, &w.Version, &w.CredentialHash,
		&state, &registered, &lastSeen, &w.TasksCompleted, &w.TasksFailed, &w.PoolID, &w.TasksActive)
	if err != nil {
		return nil, err
	}
	w.State = domain.WorkerState(state)
	w.RegisteredAt, w.LastSeen = registered.UTC(), lastSeen.UTC()
	for name, doc := range map[string]struct {
		data []byte
		v    any
	}{"platform": {platform, &w.Platform}, "resources": {resources, &w.Resources}, "info": {info, &w.Info}, "labels": {label, &w.Labels}} {
		if err := unmarshalNullable(doc.data, doc.v); err != nil {
			return nil, fmt.Errorf("worker %s: %s: %w", w.ID, name, err)
		}
	}
	return &w, nil
}

// registerWorkerSQL inserts a worker, or replaces the description,
// credential and state of the one with its id ($2); a WHERE on w (the row
// there) may follow, to take over only some rows, then a RETURNING.
const registerWorkerSQL = `
INSERT INTO workers AS w (id, name, hostname, role, platform, resources, info,
	queues, labels, task_types, concurrency, pid, version, credential_hash,
	state, registered_at, last_seen, pool_id)
VALUES ($2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb,
	$9, $10::jsonb, $11, $12, $13, $14, $15,
	$16, coalesce($17::timestamptz, $1::timestamptz, now()), coalesce($1::timestamptz, $18::timestamptz, now()), $19)
ON CONFLICT (id) DO UPDATE SET
	name = excluded.name, hostname = excluded.hostname, role = excluded.role,
	platform = excluded.platform, resources = excluded.resources, info = excluded.info,
	queues = excluded.queues, labels = excluded.labels, task_types = excluded.task_types,
	concurrency = excluded.concurrency, pid = excluded.pid, version = excluded.version,
	credential_hash = excluded.credential_hash, state = excluded.state, last_seen = excluded.last_seen,
	pool_id = excluded.pool_id`

// claimWorkerSQL re-registers worker $2 if it is not removed and its
// credential hash is $20; the other arguments are registerWorkerSQL's.
const claimWorkerSQL = `
UPDATE workers w SET name = $3, hostname = $4, role = $5, platform = $6::jsonb,
	resources = $7::jsonb, info = $8::jsonb, queues = $9, labels = $10::jsonb,
	task_types = $11, concurrency = $12, pid = $13, version = $14, credential_hash = $15,
	state = $16, registered_at = coalesce(w.registered_at, $17::timestamptz),
	last_seen = coalesce($1::timestamptz, $18::timestamptz, now()), pool_id = $19
WHERE w.id = $2 AND w.credential_hash = $20 AND w.state <> 'removed'
RETURNING ` + workerColumns

// WorkerRegister inserts or re-registers a worker in one statement. A
// re-registration keeps the first RegisteredAt and the counters.
func (s *Store) WorkerRegister(ctx context.Context, p *store.WorkerRegisterParams) (*domain.Worker, error) {
	w := p.Worker
	if w == nil || w.ID == "" {
		return nil, domain.Errorf(domain.CodeValidation, "registering needs a worker with an id")
	}
	args, err := registerArgs(p.Worker, p.Now)
	if err != nil {
		return nil, err
	}
	return s.queryWorker(ctx, registerWorkerSQL+` RETURNING `+workerColumns, args...)
}

// registerArgs are registerWorkerSQL's arguments for w at now.
func registerArgs(w *domain.Worker, now time.Time) ([]any, error) {
	docs, err := marshalAll(w.Platform, w.Resources, w.Info)
	if err != nil {
		return nil, translate(err)
	}
	labels, err := jsonArg(w.Labels, w.Labels == nil)
	if err != nil {
		return nil, translate(err)
	}
	state := cmp.Or(w.State, domain.WorkerOnline)
	return []any{timeArg(now),
		w.ID, w.Name, w.Hostname, w.Role, docs[0], docs[1], docs[2],
		w.Queues, labels, w.TaskTypes, w.Concurrency, w.PID, w.Version, w.CredentialHash,
		string(state), timeArg(w.RegisteredAt), timeArg(w.LastSeen), w.PoolID}, nil
}

// WorkerJoin registers a worker under the id it proves it had, or the first
// of Name, Name-2, … that is free or offline. Each candidate is one
// INSERT … ON CONFLICT DO UPDATE … WHERE state = 'offline': the database
// decides atomically whether the id is taken, so two servers joining the
// same name at once get different ids (the second waits on the first's row
// and then sees it online).
func (s *Store) WorkerJoin(ctx context.Context, p *store.WorkerJoinParams) (*domain.Worker, error) {
	w := p.Worker
	if w == nil || w.Name == "" {
		return nil, domain.Errorf(domain.CodeValidation, "joining needs a worker with a name")
	}
	args, err := registerArgs(w, p.Now)
	if err != nil {
		return nil, err
	}
	if p.ReturningID != "" && p.ReturningCredentialHash != "" {
		args[1] = p.ReturningID
		got, err := s.queryWorker(ctx, claimWorkerSQL, append(slices.Clip(args), p.ReturningCredentialHash)...)
		if !errors.Is(err, domain.ErrNotFound) {
			return got, err
		}
	}
	join := registerWorkerSQL + ` WHERE w.state = 'offline' RETURNING ` + workerColumns
	for n := 1; n <= store.JoinIDs; n++ {
		args[1] = store.JoinID(w.Name, n)
		got, err := s.queryWorker(ctx, join, args...)
		if !errors.Is(err, domain.ErrNotFound) {
			return got, err
		}
	}
	return nil, domain.Errorf(domain.CodeValidation, "no free device id for name '%s'", w.Name)
}

// marshalAll encodes each value as JSON text.
func marshalAll(vs ...any) ([]string, error) {
	out := make([]string, len(vs))
	for i, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[i] = string(b)
	}
	return out, nil
}

// heartbeatSQL records at $1 the heartbeats of the workers $2 (with
// resources $3 and credential hashes $4, an empty one matching any),
// renews for $5 the leases they name ($6 owner, $7 task, $8 epoch) and
// answers, of those, the ones no longer held, in one statement. It returns
// no row for an unknown or removed worker (or one whose credential was
// replaced): then none of its leases is renewed either. A lease that
// expired but was not yet rescued is still held: until the reaper moves the
// task, no one else can have it, so renewing it is safe.
const heartbeatSQL = `
WITH beat AS (
	SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS b(worker_id, resources, credential)
),
-- Rows locked in id order, so two batches sharing workers cannot deadlock.
locked AS (
	SELECT w.id FROM workers w WHERE w.id IN (SELECT worker_id FROM beat) ORDER BY w.id FOR NO KEY UPDATE
),
hb AS (
	UPDATE workers w SET last_seen = coalesce($1::timestamptz, now()), resources = b.resources::jsonb,
		state = CASE WHEN w.state = 'draining' THEN 'draining' ELSE 'online' END
	FROM beat b, locked l
	WHERE w.id = b.worker_id AND w.id = l.id AND w.state <> 'removed' AND (b.credential = '' OR w.credential_hash = b.credential)
	RETURNING ` + workerColumns + `
),
held AS (
	SELECT * FROM unnest($6::text[], $7::text[], $8::bigint[]) WITH ORDINALITY AS h(worker_id, task_id, epoch, ord)
),
owned AS (
	-- SKIP LOCKED: a lease that a result is finishing right now needs no
	-- renewal, and waiting for that transaction would stall the heartbeat
	-- behind it (and the next finishes behind the heartbeat).
	-- The leases each worker lists, and those granted within one TTL, whose
	-- answer may still be on its way to it. An older one it does not list
	-- never reached it (the server died after the commit, the connection
	-- broke): it runs nowhere and must expire, not stay running as long as
	-- the worker lives.
	SELECT t.id FROM tasks t WHERE t.state = 'running' AND t.lease_owner IN (SELECT id FROM hb)
	AND ((t.lease_owner, t.id, t.lease_epoch) IN (SELECT worker_id, task_id, epoch FROM held)
		OR t.started_at > coalesce($1::timestamptz, now()) - $5::interval)
	FOR UPDATE SKIP LOCKED
),
renewed AS (
	UPDATE tasks t SET lease_expires_at = coalesce($1::timestamptz, now()) + $5::interval
	FROM owned WHERE t.id = owned.id
),
-- What a worker holds is judged on the statement's snapshot, by primary
-- key: a lease being finished concurrently is still held, not lost.
lost AS (
	SELECT h.worker_id, h.task_id, h.epoch, h.ord, coalesce(t.state = 'cancelled', false) AS cancelled
	FROM held h LEFT JOIN LATERAL (SELECT lease_epoch, lease_owner, state FROM tasks t WHERE t.id = h.task_id OFFSET 0) t ON true
	WHERE t.state IS NULL OR NOT (t.lease_epoch = h.epoch AND t.lease_owner = h.worker_id AND t.state = 'running')
)
SELECT l.task_id, l.epoch, l.cancelled, hb.* FROM hb LEFT JOIN lost l ON l.worker_id = hb.id ORDER BY l.ord`

// WorkerHeartbeatMany records a batch of heartbeats in one transaction,
// each round of them (store.HeartbeatRounds; one, unless a worker is listed
// twice) in one statement.
func (s *Store) WorkerHeartbeatMany(ctx context.Context, p *store.WorkerHeartbeatManyParams) ([]store.WorkerHeartbeatResult, error) {
	rounds := store.HeartbeatRounds(p.Heartbeats)
	var out []store.WorkerHeartbeatResult
	run := func(q querier) error {
		out = make([]store.WorkerHeartbeatResult, len(p.Heartbeats))
		for _, round := range rounds {
			if err := heartbeatRound(ctx, q, p, round, out); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if len(rounds) == 1 {
		err = run(s.pool)
	} else {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return run(tx) })
	}
	if err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// heartbeatRound records the heartbeats of round (indexes into
// p.Heartbeats, each worker once) into out, in one statement.
func heartbeatRound(ctx context.Context, q querier, p *store.WorkerHeartbeatManyParams, round []int, out []store.WorkerHeartbeatResult) error {
	ids := make([]string, len(round))
	resources := make([]string, len(round))
	creds := make([]string, len(round))
	var owners, tasks []string
	var epochs []int64
	for j, i := range round {
		hb := &p.Heartbeats[i]
		res, err := json.Marshal(hb.Resources)
		if err != nil {
			return err
		}
		ids[j], resources[j], creds[j] = hb.ID, string(res), hb.CredentialHash
		for _, r := range hb.Held {
			owners, tasks, epochs = append(owners, hb.ID), append(tasks, r.TaskID), append(epochs, r.Epoch)
		}
	}
	rows, err := q.Query(ctx, heartbeatSQL, timeArg(p.Now), ids, resources, creds, p.TTL, owners, tasks, epochs)
	if err != nil {
		return err
	}
	byID := make(map[string]*store.WorkerHeartbeatResult, len(round))
	for _, i := range round {
		byID[p.Heartbeats[i].ID] = &out[i]
	}
	var (
		task      *string
		epoch     *int64
		cancelled *bool
	)
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		w, err := scanWorker(prefixedRow{row, []any{&task, &epoch, &cancelled}})
		if err != nil {
			return struct{}{}, err
		}
		res := byID[w.ID]
		if res == nil {
			return struct{}{}, fmt.Errorf("postgres: heartbeat of unlisted worker %q", w.ID)
		}
		res.Worker = w
		if task != nil {
			reason := store.ReasonLeaseLost
			if *cancelled {
				reason = store.ReasonCancelled
			}
			res.Lost = append(res.Lost, store.LostLease{Ref: domain.TaskRef{TaskID: *task, Epoch: *epoch}, Reason: reason})
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}
	for _, i := range round {
		if out[i].Worker == nil {
			out[i].Err = domain.ErrNotFound
		}
	}
	return nil
}

// WorkerGet returns one worker, removed or not.
func (s *Store) WorkerGet(ctx context.Context, id string) (*domain.Worker, error) {
	return s.queryWorker(ctx, `SELECT `+workerColumns+` FROM workers w WHERE w.id = $1`, id)
}

// WorkerGetByCredential returns the live worker whose credential hashes to hash.
func (s *Store) WorkerGetByCredential(ctx context.Context, hash string) (*domain.Worker, error) {
	if hash == "" {
		// Never match a worker registered without a credential.
		return nil, domain.ErrNotFound
	}
	return s.queryWorker(ctx, `SELECT `+workerColumns+` FROM workers w
WHERE w.credential_hash = $1 AND w.state <> 'removed' ORDER BY w.id LIMIT 1`, hash)
}

// WorkerList lists non-removed workers, by id.
func (s *Store) WorkerList(ctx context.Context, p *store.WorkerListParams) ([]*domain.Worker, error) {
	w := &where{}
	w.add("w.state <> 'removed'")
	if p.State != "" {
		w.add("w.state = ?", string(p.State))
	}
	if p.Role != "" {
		w.add("w.role = ?", p.Role)
	}
	if p.Queue != "" {
		w.add("? = ANY(w.queues)", p.Queue)
	}
	sql := `SELECT ` + workerColumns + ` FROM workers w` + w.sql() + ` ORDER BY w.id` + w.page(p.Limit, 0)
	return s.queryWorkers(ctx, sql, w.args...)
}

// WorkerMarkOffline moves the live workers not seen since p.Before to
// offline, in one statement.
func (s *Store) WorkerMarkOffline(ctx context.Context, p *store.WorkerMarkOfflineParams) ([]*domain.Worker, error) {
	workers, err := s.queryWorkers(ctx, `
UPDATE workers w SET state = 'offline'
WHERE w.state IN ('online', 'draining') AND w.last_seen < $1
RETURNING `+workerColumns, p.Before)
	if err != nil {
		return nil, err
	}
	sortWorkers(workers)
	return workers, nil
}

// WorkerSetState sets a non-removed worker's state.
func (s *Store) WorkerSetState(ctx context.Context, p *store.WorkerSetStateParams) error {
	n, err := s.exec(ctx, `UPDATE workers SET state = $2 WHERE id = $1 AND state <> 'removed'`, p.ID, string(p.State))
	if err == nil && n == 0 {
		return domain.ErrNotFound
	}
	return err
}

// WorkerDelete marks a worker removed; removing it again changes nothing.
func (s *Store) WorkerDelete(ctx context.Context, id string) error {
	n, err := s.exec(ctx, `UPDATE workers SET state = 'removed' WHERE id = $1`, id)
	if err == nil && n == 0 {
		return domain.ErrNotFound
	}
	return err
}

func (s *Store) queryWorker(ctx context.Context, sql string, args ...any) (*domain.Worker, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	w, err := pgx.CollectExactlyOneRow(rows, scanWorker)
	return w, translate(err)
}

func (s *Store) queryWorkers(ctx context.Context, sql string, args ...any) ([]*domain.Worker, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	workers, err := pgx.CollectRows(rows, scanWorker)
	return workers, translate(err)
}

func sortWorkers(ws []*domain.Worker) {
	slices.SortFunc(ws, func(a, b *domain.Worker) int { return cmp.Compare(a.ID, b.ID) })
}
