package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// workerColumns is every column of workers, then the running-task count
// (TasksActive), in the order scanWorker reads them; the table is aliased w.
const workerColumns = `w.id, w.name, w.hostname, w.role, w.platform, w.resources, w.info,
	w.queues, w.labels, w.task_types, w.concurrency, w.pid, w.version, w.credential_hash,
	w.state, w.registered_at, w.last_seen, w.tasks_completed, w.tasks_failed, w.pool_id,
	(SELECT count(*) FROM tasks t WHERE t.state = 'running' AND t.lease_owner = w.id)`

// workerReturning is workerColumns for a RETURNING clause, which cannot
// name the table by an alias.
var workerReturning = strings.ReplaceAll(workerColumns, "w.", "workers.")

func scanWorker(sc scanner) (*domain.Worker, error) {
	var (
		w                                               domain.Worker
		platform, resources, info, queues, labels, typs sql.NullString
		state                                           string
		registered, lastSeen                            int64
	)
	err := sc.Scan(&w.ID, &w.Name, &w.Hostname, &w.Role, &platform, &resources, &info,
		&queues, &labels, &typs, &w.Concurrency, &w.PID, &w.Version, &w.CredentialHash,
		&state, &registered, &lastSeen, &w.TasksCompleted, &w.TasksFailed, &w.PoolID, &w.TasksActive)
	if err != nil {
		return nil, err
	}
	w.State = domain.WorkerState(state)
	w.RegisteredAt, w.LastSeen = fromMicros(registered), fromMicros(lastSeen)
	for _, f := range []struct {
		col sql.NullString
		v   any
	}{{platform, &w.Platform}, {resources, &w.Resources}, {info, &w.Info}, {queues, &w.Queues}, {labels, &w.Labels}, {typs, &w.TaskTypes}} {
		if err := decodeJSON(f.col, f.v); err != nil {
			return nil, fmt.Errorf("sqlite: worker %s: %w", w.ID, err)
		}
	}
	return &w, nil
}

func queryWorkers(ctx context.Context, q querier, query string, args ...any) ([]*domain.Worker, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*domain.Worker
	for rows.Next() {
		w, err := scanWorker(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WorkerRegister inserts a worker or re-registers it, replacing its
// description, credential and state; its counters and first registration
// time stay.
func (s *Store) WorkerRegister(ctx context.Context, p *store.WorkerRegisterParams) (*domain.Worker, error) {
	w := p.Worker
	if w == nil || w.ID == "" {
		return nil, domain.Errorf(domain.CodeValidation, "registering needs a worker id")
	}
	args, err := registerArgs(w, now(p.Now))
	if err != nil {
		return nil, err
	}
	var out *domain.Worker
	err = s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		out, err = scanWorker(tx.QueryRowContext(ctx, registerSQL+` RETURNING `+workerReturning, args...))
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

// registerSQL inserts a worker or replaces the description, credential and
// state of the one with its id ($1); a WHERE may follow, to take over only
// some rows. Its arguments are registerArgs's.
const registerSQL = `INSERT INTO workers (id, name, hostname, role,
		platform, resources, info, queues, labels, task_types, concurrency, pid, version,
		credential_hash, state, registered_at, last_seen, pool_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
	ON CONFLICT (id) DO UPDATE SET name = excluded.name, hostname = excluded.hostname,
		role = excluded.role, platform = excluded.platform, resources = excluded.resources,
		info = excluded.info, queues = excluded.queues, labels = excluded.labels,
		task_types = excluded.task_types, concurrency = excluded.concurrency, pid = excluded.pid,
		version = excluded.version, credential_hash = excluded.credential_hash,
		state = excluded.state, last_seen = excluded.last_seen, pool_id = excluded.pool_id`

// claimSQL re-registers the worker $1 if it is not removed and its
// credential hash is $19; its other arguments are registerArgs's.
const claimSQL = `UPDATE workers SET name = $2, hostname = $3, role = $4, platform = $5,
		resources = $6, info = $7, queues = $8, labels = $9, task_types = $10, concurrency = $11,
		pid = $12, version = $13, credential_hash = $14, state = $15,
		registered_at = coalesce(registered_at, $16), last_seen = $17, pool_id = $18
	WHERE id = $1 AND credential_hash = $19 AND state <> 'removed'`

// registerArgs are the arguments of registerSQL for w at time at.
func registerArgs(w *domain.Worker, at time.Time) (sqlArgs, error) {
	state, registered := w.State, w.RegisteredAt
	if state == "" {
		state = domain.WorkerOnline
	}
	if registered.IsZero() {
		registered = at
	}
	args := sqlArgs{w.ID, w.Name, w.Hostname, w.Role}
	for _, v := range []any{w.Platform, w.Resources, w.Info, nonNil(w.Queues), nonNilMap(w.Labels), nonNil(w.TaskTypes)} {
		text, err := jsonText(v)
		if err != nil {
			return nil, err
		}
		args = append(args, text)
	}
	return append(args, w.Concurrency, w.PID, w.Version, w.CredentialHash, string(state), micros(registered), micros(at), w.PoolID), nil
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// WorkerGet returns one worker, removed ones too.
func (s *Store) WorkerGet(ctx context.Context, id string) (*domain.Worker, error) {
	w, err := scanWorker(s.read.QueryRowContext(ctx, `SELECT `+workerColumns+` FROM workers w WHERE w.id = $1`, id))
	return w, interpretError(err)
}

// WorkerGetByCredential returns the live (not removed) worker whose
// credential hashes to hash.
func (s *Store) WorkerGetByCredential(ctx context.Context, hash string) (*domain.Worker, error) {
	if hash == "" {
		return nil, domain.ErrNotFound
	}
	w, err := scanWorker(s.hotRead[workerByCredentialSQL].QueryRowContext(ctx, hash))
	return w, interpretError(err)
}

var workerByCredentialSQL = `SELECT ` + workerColumns + ` FROM workers w
	WHERE w.credential_hash = $1 AND w.state <> 'removed'`

// WorkerHeartbeatMany records a batch of heartbeats in one write request
// (so in one transaction of the group commit), ahead of the queued writes
// (committer.doFirst), and each round of them
// (store.HeartbeatRounds; one, unless a worker is listed twice) in one
// statement for the workers and one for their leases: a crowd of workers
// heartbeating costs the single writer a few statements per commit, not a
// few per worker.
func (s *Store) WorkerHeartbeatMany(ctx context.Context, p *store.WorkerHeartbeatManyParams) ([]store.WorkerHeartbeatResult, error) {
	rounds := store.HeartbeatRounds(p.Heartbeats)
	beats := make([]string, len(rounds)) // per round: the workers' ids, resources and credential hashes
	for r, round := range rounds {
		rows := make([][3]any, len(round))
		for j, i := range round {
			hb := &p.Heartbeats[i]
			rows[j] = [3]any{hb.ID, hb.Resources, hb.CredentialHash}
		}
		var err error
		if beats[r], err = jsonText(rows); err != nil {
			return nil, err
		}
	}
	at := now(p.Now)
	var out []store.WorkerHeartbeatResult
	err := s.committer.doFirst(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = make([]store.WorkerHeartbeatResult, len(p.Heartbeats))
		for r, round := range rounds {
			if err := s.heartbeatRound(ctx, tx, p, round, beats[r], at, out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

// heartbeatRound records the heartbeats of round (indexes into
// p.Heartbeats, each worker once; beats is their JSON) into out.
func (s *Store) heartbeatRound(ctx context.Context, tx *sql.Tx, p *store.WorkerHeartbeatManyParams, round []int, beats string, at time.Time, out []store.WorkerHeartbeatResult) error {
	hb, err := s.stmt(ctx, tx, heartbeatWorkersSQL)
	if err != nil {
		return err
	}
	rows, err := hb.QueryContext(ctx, micros(at), beats)
	if err != nil {
		return err
	}
	found := map[string]*domain.Worker{}
	for rows.Next() {
		w, err := scanWorker(rows)
		if err != nil {
			rows.Close()
			return err
		}
		found[w.ID] = w
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	// The leases of the workers found: those they list, and the recent ones.
	var owners []string
	var held [][3]any
	for _, i := range round {
		hb := &p.Heartbeats[i]
		w := found[hb.ID]
		if w == nil {
			out[i].Err = domain.ErrNotFound
			continue
		}
		out[i].Worker = w
		owners = append(owners, hb.ID)
		for _, r := range hb.Held {
			held = append(held, [3]any{hb.ID, r.TaskID, r.Epoch})
		}
	}
	if len(owners) == 0 {
		return nil
	}
	return s.renewLeases(ctx, tx, p, round, owners, held, at, out)
}

// heartbeatWorkersSQL records at $1 the heartbeats of $2, a JSON array of
// [worker id, resources, credential hash] (an empty hash matches any).
var heartbeatWorkersSQL = `UPDATE workers SET last_seen = $1, resources = b.resources,
		state = CASE workers.state WHEN 'draining' THEN 'draining' ELSE 'online' END
	FROM (SELECT value ->> 0 AS worker_id, value -> 1 AS resources, value ->> 2 AS credential FROM json_each($2)) AS b
	WHERE workers.id = b.worker_id AND workers.state <> 'removed'
		AND (b.credential = '' OR workers.credential_hash = b.credential)
	RETURNING ` + workerReturning

// renewLeasesSQL renews to $1 the leases of the workers $2 (a JSON array of
// ids) that they list in $3 (a JSON array of [worker id, task id, epoch]),
// and those granted since $4 (one TTL ago), whose answer may still be on its
// way to the worker. An older lease a worker does not list is not renewed:
// its answer never reached the worker (the server died after the commit,
// the connection broke), so nothing runs it, and it must expire and go back
// to the queue rather than stay running as long as the worker lives.
// INDEXED BY: with the owners in a JSON list, the planner would rather scan
// every running task by state.
const renewLeasesSQL = `UPDATE tasks INDEXED BY tasks_running_by_owner SET lease_expires_at = $1
	WHERE state = 'running' AND lease_owner IN (SELECT value FROM json_each($2))
	AND ((lease_owner, id, lease_epoch) IN (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($3))
		OR started_at > $4)
	RETURNING lease_owner, id, lease_epoch`

// renewLeases renews the leases of owners (renewLeasesSQL) and records in
// out, for each heartbeat of round, the leases it lists that its worker no
// longer holds, with their reasons.
func (s *Store) renewLeases(ctx context.Context, tx *sql.Tx, p *store.WorkerHeartbeatManyParams, round []int, owners []string, held [][3]any, at time.Time, out []store.WorkerHeartbeatResult) error {
	ownersJSON, err := jsonText(owners)
	if err != nil {
		return err
	}
	heldJSON, err := jsonText(held)
	if err != nil {
		return err
	}
	renew, err := s.stmt(ctx, tx, renewLeasesSQL)
	if err != nil {
		return err
	}
	rows, err := renew.QueryContext(ctx, micros(at.Add(p.TTL)), ownersJSON, heldJSON, micros(at.Add(-p.TTL)))
	if err != nil {
		return err
	}
	type lease struct{ owner, task string }
	holds := map[lease]int64{} // -> epoch, of the leases the workers really hold
	for rows.Next() {
		var l lease
		var epoch int64
		if err := rows.Scan(&l.owner, &l.task, &epoch); err != nil {
			rows.Close()
			return err
		}
		holds[l] = epoch
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	var gone []string
	for _, i := range round {
		hb := &p.Heartbeats[i]
		if out[i].Err != nil {
			continue
		}
		for _, ref := range hb.Held {
			if epoch, ok := holds[lease{hb.ID, ref.TaskID}]; !ok || epoch != ref.Epoch {
				out[i].Lost = append(out[i].Lost, store.LostLease{Ref: ref, Reason: store.ReasonLeaseLost})
				gone = append(gone, ref.TaskID)
			}
		}
	}
	if len(gone) == 0 {
		return nil
	}
	// Tell a cancelled task from one otherwise lost, by one read in the same transaction.
	list, err := jsonText(gone)
	if err != nil {
		return err
	}
	rows, err = tx.QueryContext(ctx, `SELECT id FROM tasks WHERE state = 'cancelled'
		AND id IN (SELECT value FROM json_each($1))`, list)
	if err != nil {
		return err
	}
	cancelled := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		cancelled[id] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, i := range round {
		for j := range out[i].Lost {
			if cancelled[out[i].Lost[j].Ref.TaskID] {
				out[i].Lost[j].Reason = store.ReasonCancelled
			}
		}
	}
	return nil
}

// WorkerJoin registers a worker under the id it proves it had, or the first
// free (or offline) one of Name, Name-2, …; the write transaction makes the
// choice and the insert one step.
func (s *Store) WorkerJoin(ctx context.Context, p *store.WorkerJoinParams) (*domain.Worker, error) {
	w := p.Worker
	if w == nil || w.Name == "" {
		return nil, domain.Errorf(domain.CodeValidation, "joining needs a worker with a name")
	}
	args, err := registerArgs(w, now(p.Now))
	if err != nil {
		return nil, err
	}
	var out *domain.Worker
	err = s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		if p.ReturningID != "" && p.ReturningCredentialHash != "" {
			args[0] = p.ReturningID
			out, err = scanWorker(tx.QueryRowContext(ctx, claimSQL+` RETURNING `+workerReturning,
				append(slices.Clip(args), p.ReturningCredentialHash)...))
			if err != sql.ErrNoRows {
				return err
			}
		}
		for n := 1; n <= store.JoinIDs; n++ {
			args[0] = store.JoinID(w.Name, n)
			out, err = scanWorker(tx.QueryRowContext(ctx, registerSQL+`
				WHERE workers.state = 'offline' RETURNING `+workerReturning, args...))
			if err != sql.ErrNoRows {
				return err
			}
		}
		return domain.Errorf(domain.CodeValidation, "no free device id for name '%s'", w.Name)
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

// WorkerList lists non-removed workers matching the filter, by id.
func (s *Store) WorkerList(ctx context.Context, p *store.WorkerListParams) ([]*domain.Worker, error) {
	var args sqlArgs
	query := `SELECT ` + workerColumns + ` FROM workers w WHERE w.state <> 'removed'`
	if p.State != "" {
		query += ` AND w.state = ` + args.add(string(p.State))
	}
	if p.Role != "" {
		query += ` AND w.role = ` + args.add(p.Role)
	}
	if p.Queue != "" {
		query += ` AND EXISTS (SELECT 1 FROM json_each(w.queues) q WHERE q.value = ` + args.add(p.Queue) + `)`
	}
	query += ` ORDER BY w.id LIMIT ` + args.add(limitOrAll(p.Limit))
	ws, err := queryWorkers(ctx, s.read, query, args...)
	return ws, interpretError(err)
}

// WorkerMarkOffline moves live workers not seen since Before to offline.
func (s *Store) WorkerMarkOffline(ctx context.Context, p *store.WorkerMarkOfflineParams) ([]*domain.Worker, error) {
	var out []*domain.Worker
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		out, err = queryWorkers(ctx, tx, `UPDATE workers SET state = 'offline'
			WHERE state IN ('online', 'draining') AND last_seen < $1 RETURNING `+workerReturning,
			micros(p.Before))
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	sortWorkers(out)
	return out, nil
}

// WorkerSetState sets a worker's state; a removed worker stays removed
// (ErrNotFound, as for an unknown one).
func (s *Store) WorkerSetState(ctx context.Context, p *store.WorkerSetStateParams) error {
	return s.updateWorker(ctx, `UPDATE workers SET state = $1 WHERE id = $2 AND state <> 'removed'`, string(p.State), p.ID)
}

// WorkerDelete marks a worker removed, voiding its credential.
func (s *Store) WorkerDelete(ctx context.Context, id string) error {
	return s.updateWorker(ctx, `UPDATE workers SET state = 'removed' WHERE id = $1`, id)
}

// updateWorker runs an update of one worker; no row is domain.ErrNotFound.
func (s *Store) updateWorker(ctx context.Context, query string, args ...any) error {
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, domain.ErrNotFound)
		}
		return nil
	})
	return interpretError(err)
}

func sortWorkers(ws []*domain.Worker) {
	slices.SortFunc(ws, func(a, b *domain.Worker) int { return strings.Compare(a.ID, b.ID) })
}
