// Package store defines the persistence interface every backend implements
// (sqlite, postgres) and nothing else. The conformance suite in storetest is
// the executable form of this contract: a change of semantics extends the
// suite first.
//
// Conventions:
//   - Methods are NounVerb(ctx, *NounVerbParams), sorted by noun.
//   - Methods whose outcome depends on the time take Now. A zero Now means the
//     backend's own clock (the database's now() on PostgreSQL), which is what
//     servers pass; tests pass a fixed Now to step time deterministically.
//   - Errors are domain.ErrNotFound, domain.ErrConflict or a *domain.Error
//     (a stale lease is an outcome, not an error); no driver type escapes a
//     backend.
//   - Every write is committed before the method returns: a nil error means
//     durable.
package store

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

// Store is the whole persistence interface.
type Store interface {
	TaskStore
	WorkerStore
	LogStore
	ProgressStore
	KVStore
	LeaderStore
	KeyStore
	SignatureStore
	ObservabilityStore
	PoolStore
	WorkflowStore
	QueueStore

	// Ping checks the store answers.
	Ping(ctx context.Context) error
	// Close releases the store; it waits for in-flight writes.
	Close() error
}

// TaskStore persists tasks and their leases.
type TaskStore interface {
	// TaskCancel moves one pending or running task to cancelled. It returns
	// the task as it is after the change and whether it was running; a task
	// already terminal gives a *domain.Error with CodeTaskNotCancellable, an
	// unknown id domain.ErrNotFound.
	TaskCancel(ctx context.Context, p *TaskCancelParams) (*domain.Task, bool, error)
	// TaskCancelMany cancels every pending (and, if IncludeRunning, running)
	// task matching the filter, returning the cancelled tasks' ids.
	TaskCancelMany(ctx context.Context, p *TaskCancelManyParams) ([]string, error)
	// TaskCount counts tasks by state over the filter (State in the filter is ignored).
	TaskCount(ctx context.Context, p *TaskListParams) (map[domain.TaskState]int, error)
	// TaskFinishMany records the results of attempts, in one transaction.
	// Each result is fenced: it applies only if the task is running with the
	// same epoch and owner, else its outcome is StaleLease and nothing changes.
	// A failed attempt with retries left goes back to pending, available after
	// p.Backoff(attempt, task.RetryBackoff); otherwise it ends failed. Each
	// applied result counts on WorkerID: TasksCompleted for a success,
	// TasksFailed for a failure (retried or not).
	TaskFinishMany(ctx context.Context, p *TaskFinishManyParams) ([]TaskFinishOutcome, error)
	// TaskGet returns one task, or domain.ErrNotFound.
	TaskGet(ctx context.Context, id string) (*domain.Task, error)
	// TaskInsertMany inserts tasks in one transaction. A task whose
	// IdempotencyKey is already taken by the same request (RequestHash) is
	// not inserted: its outcome carries the existing task and
	// Existing=true. A key taken by a different request (both hashes set,
	// unequal) stores nothing of the batch and is KeyConflict's error.
	// Outcomes are in input order.
	TaskInsertMany(ctx context.Context, p *TaskInsertManyParams) ([]TaskInsertOutcome, error)
	// TaskLease leases up to Max pending tasks that Worker may run, highest
	// priority first, then earliest available, then oldest. Each leased task
	// becomes running with Attempt+1, LeaseEpoch+1, LeaseOwner=Worker.ID,
	// LeaseExpiresAt=Now+TTL and StartedAt=Now. Two concurrent calls never
	// lease the same task.
	TaskLease(ctx context.Context, p *TaskLeaseParams) ([]*domain.Task, error)
	// TaskList lists tasks matching the filter, newest first.
	TaskList(ctx context.Context, p *TaskListParams) ([]*domain.Task, error)
	// TaskReleaseWorker ends every lease WorkerID holds, as if each had
	// expired now: back to pending without counting a failed attempt, or
	// cancelled when Cancel is set. It returns the affected task ids.
	TaskReleaseWorker(ctx context.Context, p *TaskReleaseWorkerParams) ([]string, error)
	// TaskRescueExpired handles every running task whose lease expired before
	// Now: back to pending (new epoch on next lease, available after Backoff)
	// while Attempt <= MaxRetries + LostRetries, else failed with a
	// lease-expired error.
	TaskRescueExpired(ctx context.Context, p *TaskRescueExpiredParams) ([]*domain.Task, error)
	// TaskNextAvailable is the earliest AvailableAt among pending tasks in the
	// given queues that is after Now, or the zero time if there is none; the
	// dispatcher sleeps until then instead of polling.
	TaskNextAvailable(ctx context.Context, p *TaskNextAvailableParams) (time.Time, error)
}

// WorkerStore persists workers.
type WorkerStore interface {
	// WorkerDelete marks a worker removed (its credential is void from then
	// on); an unknown id is domain.ErrNotFound.
	WorkerDelete(ctx context.Context, id string) error
	// WorkerGet returns one worker (removed ones too), or domain.ErrNotFound.
	WorkerGet(ctx context.Context, id string) (*domain.Worker, error)
	// WorkerGetByCredential returns the non-removed worker whose credential
	// hashes to hash, or domain.ErrNotFound.
	WorkerGetByCredential(ctx context.Context, hash string) (*domain.Worker, error)
	// WorkerHeartbeatMany records the heartbeats of many workers, in one
	// transaction and as few statements as the backend can: for each, last
	// seen, resources, and state online unless the worker is draining; it
	// renews to Now+TTL every lease of Held the worker still holds (one
	// heartbeat renews them all; a lease it does not list — its answer never
	// reached the worker — is left to expire), and reports, in the order
	// given, those of Held that are no longer its valid leases (cancelled,
	// expired and re-leased, finished, unknown), each with the reason:
	// ReasonCancelled when the task is cancelled, ReasonLeaseLost otherwise.
	// It returns one result per heartbeat, in order. A heartbeat of an
	// unknown or removed worker, or whose CredentialHash is set and no longer
	// the worker's, has Err domain.ErrNotFound and changes nothing; the
	// others still apply. One worker may be listed more than once: its
	// heartbeats apply in turn. The error is the whole batch's failure.
	WorkerHeartbeatMany(ctx context.Context, p *WorkerHeartbeatManyParams) ([]WorkerHeartbeatResult, error)
	// WorkerJoin registers a worker under an id the store chooses, in one
	// transaction, so that servers sharing the store never hand out one id
	// twice. A worker proving who it was (ReturningID and the hash of the
	// credential it was issued, of a worker not removed) keeps that id.
	// Otherwise it gets the first of Name, Name-2, Name-3, … that no worker
	// has, or that an offline worker has (a device coming back after a
	// restart); a removed worker's id stays retired. Taking over an id
	// replaces the description, credential and state, as WorkerRegister does.
	WorkerJoin(ctx context.Context, p *WorkerJoinParams) (*domain.Worker, error)
	// WorkerList lists non-removed workers matching the filter, by id.
	WorkerList(ctx context.Context, p *WorkerListParams) ([]*domain.Worker, error)
	// WorkerMarkOffline moves every online or draining worker not seen since
	// Before to offline and returns them.
	WorkerMarkOffline(ctx context.Context, p *WorkerMarkOfflineParams) ([]*domain.Worker, error)
	// WorkerRegister inserts a worker, or re-registers an existing one (same
	// ID) replacing its description, credential and state.
	WorkerRegister(ctx context.Context, p *WorkerRegisterParams) (*domain.Worker, error)
	// WorkerSetState sets a worker's state (draining, offline); an unknown or
	// removed worker is domain.ErrNotFound.
	WorkerSetState(ctx context.Context, p *WorkerSetStateParams) error
}

// LogStore persists tasks' log lines.
type LogStore interface {
	// LogAppend stores one worker's lines (several tasks at once), assigning
	// each its Seq. Each line is fenced by its lease, in the same
	// transaction: it is kept only if its task is running under WorkerID
	// and the line's epoch, so a zombie cannot write into its successor's
	// log. Dropped lines (stale lease, finished or unknown task) are not an
	// error; it returns how many lines it kept.
	LogAppend(ctx context.Context, p *LogAppendParams) (kept int, err error)
	// LogList returns a task's lines with Seq > AfterSeq, oldest first: the
	// first Limit of them, or with Tail the last Tail of them (a bounded
	// read of a long log's end). An unknown task is domain.ErrNotFound.
	LogList(ctx context.Context, p *LogListParams) ([]domain.LogLine, error)
}

// KVStore keeps small documents by key: the cluster configuration and other
// settings a server must find again after a restart.
type KVStore interface {
	// KVGet returns the value at key, or domain.ErrNotFound.
	KVGet(ctx context.Context, key string) (json.RawMessage, error)
	// KVPut stores value at key.
	KVPut(ctx context.Context, key string, value json.RawMessage) error
}

// LeaderStore elects, among the servers sharing a store, the one that runs a
// singleton duty (the reaper's sweeps; later cron and autoscaling). A
// leadership is a row: its holder keeps it by renewing it before it expires,
// and anyone may take it once it has expired. Expiry is judged by the
// store's clock (the database's now() on PostgreSQL) in the statement that
// takes or renews the row, never by a server's own clock.
type LeaderStore interface {
	// LeaderAttempt takes or renews the leadership Name for Holder, until
	// Now+TTL: it succeeds when no one holds it, when Holder already holds
	// it, or when the holder's leadership expired at or before Now. The term
	// grows by one each time the leadership is taken rather than renewed
	// (a new holder, or Holder again after its leadership expired). It
	// returns the leadership as it is after the attempt: held by Holder if
	// the attempt succeeded, else by whoever holds it.
	LeaderAttempt(ctx context.Context, p *LeaderAttemptParams) (*Leadership, error)
	// LeaderResign gives up the leadership Name if Holder holds it, so that
	// a successor need not wait for it to expire. Resigning what one does
	// not hold changes nothing and is not an error.
	LeaderResign(ctx context.Context, p *LeaderResignParams) error
}

// ControlRelay is implemented by stores that several servers may share
// (PostgreSQL): it carries control-channel messages (pings, stop orders) to
// whichever server a worker's control poll is connected to. A message is a
// small JSON document delivered to every listening server, the sender
// included, at most once and never stored: a message sent while no server
// listens is lost, as a ping to a disconnected worker is.
type ControlRelay interface {
	RelayControl(ctx context.Context, msg []byte) error
	ListenControl(ctx context.Context, deliver func(msg []byte)) error
}

// WorkNotifier is implemented by stores that several servers may share
// (PostgreSQL). Writes that make tasks available — inserts, and requeues by
// a failed attempt, an expired lease or a released worker — notify in the
// same transaction, once per transaction however many tasks it holds; every
// other server sharing the store hears it, so that workers long-polling
// one server learn at once of work submitted through another.
type WorkNotifier interface {
	// ListenWork calls wake whenever another server sharing the store may
	// have made work available, with the queues that got it (nil: any
	// queue, e.g. for a task pinned to a worker), until ctx ends; then it
	// returns nil. It keeps its own connection, reconnects with backoff
	// when it is lost, and calls wake(nil) after each reconnect, since
	// notifications sent meanwhile were missed. wake must not block.
	ListenWork(ctx context.Context, wake func(queues []string)) error
}

// LeaderAttemptParams names the leadership and who wants it.
type LeaderAttemptParams struct {
	Name   string // the duty, e.g. "maintenance"
	Holder string // the server attempting; unique among the servers
	TTL    time.Duration
	Now    time.Time
}

// LeaderResignParams names the leadership to give up and its holder.
type LeaderResignParams struct {
	Name   string
	Holder string
	Now    time.Time
}

// Leadership is the state of one leadership row.
type Leadership struct {
	Name      string
	Holder    string    // "" after a resignation, until someone takes it
	Term      int64     // grows by one each time the leadership is taken
	ElectedAt time.Time // when the current term began
	ExpiresAt time.Time // the holder leads until then unless it renews
}

// TaskCancelParams names the task to cancel.
type TaskCancelParams struct {
	ID     string
	Reason string // kept as the task's Error
	Now    time.Time
}

// TaskCancelManyParams selects the tasks to cancel. Empty fields do not filter;
// at least one of IDs, Queue, DeviceID must be set.
type TaskCancelManyParams struct {
	IDs            []string
	Queue          string
	DeviceID       string // tasks pinned to or running on this worker
	IncludeRunning bool
	Reason         string
	Now            time.Time
}

// TaskListParams filters tasks. Empty fields do not filter.
type TaskListParams struct {
	State    domain.TaskState
	Type     string
	Queue    string
	DeviceID string // pinned to, running on, or last run on
	Since    time.Time
	Limit    int // 0 means no limit
	Offset   int
}

// TaskInsertManyParams carries the tasks to insert, fully formed by the
// caller (ids, times, state pending).
type TaskInsertManyParams struct {
	Tasks []*domain.Task
}

// TaskInsertOutcome is the fate of one inserted task.
type TaskInsertOutcome struct {
	Task     *domain.Task
	Existing bool // the idempotency key was taken; Task is the earlier task
}

// TaskLeaseParams asks for tasks for one worker.
type TaskLeaseParams struct {
	Worker *domain.Worker // queues, task types, resources, labels, id (pins)
	Max    int
	TTL    time.Duration
	Now    time.Time
}

// TaskFinishManyParams carries attempt results.
type TaskFinishManyParams struct {
	WorkerID string
	Results  []TaskFinish
	Backoff  func(attempt int, base time.Duration) time.Duration
	Now      time.Time
}

// TaskFinish is one attempt's result (domain.AttemptResult).
type TaskFinish = domain.AttemptResult

// TaskFinishOutcome says what a result did (domain.AttemptOutcome).
type TaskFinishOutcome = domain.AttemptOutcome

// TaskReleaseWorkerParams ends one worker's leases.
type TaskReleaseWorkerParams struct {
	WorkerID string
	Cancel   bool
	Reason   string
	Now      time.Time
}

// TaskRescueExpiredParams drives the reaper.
type TaskRescueExpiredParams struct {
	Backoff func(attempt int, base time.Duration) time.Duration
	// LostRetries is how many more attempts a task gets for losing its
	// worker than for failing: a lost worker is not the task's fault, but a
	// task that takes down every worker it runs on must still end.
	LostRetries int
	Limit       int
	Now         time.Time
}

// TaskNextAvailableParams asks when delayed work in some queues comes due.
type TaskNextAvailableParams struct {
	Queues []string
	Now    time.Time
}

// WorkerHeartbeatManyParams is a batch of heartbeats, recorded at Now.
type WorkerHeartbeatManyParams struct {
	Heartbeats []Heartbeat
	TTL        time.Duration // every lease a worker holds is renewed to Now+TTL
	Now        time.Time
}

// Heartbeat is one worker's heartbeat.
type Heartbeat struct {
	ID string
	// CredentialHash, when set, makes the heartbeat apply only while it is
	// the worker's credential: a credential replaced by a later
	// registration under the same id, or a removed worker's, renews nothing.
	CredentialHash string
	Resources      domain.Resources
	Held           []domain.TaskRef // the leases the worker believes it holds
}

// WorkerHeartbeatResult is the worker after a heartbeat and the leases it
// named but no longer holds, or Err when the heartbeat did not apply.
type WorkerHeartbeatResult struct {
	Worker *domain.Worker
	Lost   []LostLease
	Err    error
}

// HeartbeatRounds splits a batch of heartbeats into rounds, each listing a
// worker at most once, in order, so that a round can be one set-based
// statement. Each round holds indexes into hbs; almost always there is one.
func HeartbeatRounds(hbs []Heartbeat) [][]int {
	var rounds [][]int
	seen := map[string]int{} // worker id -> rounds it is in so far
	for i, hb := range hbs {
		r := seen[hb.ID]
		seen[hb.ID] = r + 1
		if r == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[r] = append(rounds[r], i)
	}
	return rounds
}

// LostLease is a lease a worker believes it holds but does not.
type LostLease struct {
	Ref    domain.TaskRef
	Reason LostReason
}

// LostReason says why a lease is lost; the worker protocol sends it as is.
type LostReason string

const (
	ReasonCancelled LostReason = "cancelled"  // the task was cancelled
	ReasonLeaseLost LostReason = "lease_lost" // expired, finished, re-leased or unknown
)

// JoinIDs is how many ids WorkerJoin tries for one name before giving up.
const JoinIDs = 9999

// JoinID is the nth id (from 1) WorkerJoin tries for name: name, name-2,
// name-3, ….
func JoinID(name string, n int) string {
	if n <= 1 {
		return name
	}
	return name + "-" + strconv.Itoa(n)
}

// WorkerJoinParams carries a worker joining under a name; the store picks
// its id.
type WorkerJoinParams struct {
	Worker *domain.Worker // Worker.ID is ignored; Worker.Name is the id's base
	// ReturningID and ReturningCredentialHash, both set, claim an earlier
	// registration: the claim holds if that worker is not removed and its
	// credential hash matches.
	ReturningID             string
	ReturningCredentialHash string
	Now                     time.Time
}

// WorkerListParams filters workers. Empty fields do not filter.
type WorkerListParams struct {
	State domain.WorkerState
	Role  string
	Queue string
	Limit int
}

// WorkerMarkOfflineParams drives offline detection.
type WorkerMarkOfflineParams struct {
	Before time.Time
	Now    time.Time
}

// WorkerRegisterParams carries a worker as the caller formed it.
type WorkerRegisterParams struct {
	Worker *domain.Worker
	Now    time.Time
}

// WorkerSetStateParams changes a worker's state.
type WorkerSetStateParams struct {
	ID    string
	State domain.WorkerState
	Now   time.Time
}

// LogListParams reads a task's log.
type LogListParams struct {
	TaskID   string
	AfterSeq int64
	Limit    int // the first Limit lines; 0 means no limit
	Tail     int // when > 0, the last Tail lines instead (Limit is ignored)
}

// LogAppendParams carries one worker's lines, each written under a lease.
type LogAppendParams struct {
	WorkerID string
	Lines    []domain.LogLine
	Epochs   []int64 // Lines[i] was written under the lease epoch Epochs[i]
}

// KeyConflict is the error of task i of a batch whose idempotency key is
// held by holder, or nil when holder was made by the same request (or a
// fingerprint is missing, so none can be compared).
func KeyConflict(i int, t, holder *domain.Task) error {
	if t.RequestHash == "" || holder.RequestHash == "" || t.RequestHash == holder.RequestHash {
		return nil
	}
	return domain.Errorf(domain.CodeIdempotencyConflict,
		"idempotency key '%s' was used by an earlier, different request (task %s)", t.IdempotencyKey, holder.ID).
		With("idempotency_key", t.IdempotencyKey).With("task_id", holder.ID).With("index", i)
}

// PriorityLiterals are the task priorities as SQL integer literals, lowest
// first: both backends look up the next delayed task once per priority, so
// that each lookup is one seek in an index ordered by priority first.
func PriorityLiterals() []string {
	var out []string
	for p := domain.PriorityLow; p <= domain.PriorityCritical; p++ {
		out = append(out, strconv.Itoa(int(p)))
	}
	return out
}
