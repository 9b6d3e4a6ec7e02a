package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// The engine's defaults: what a zero Config field means, and what the
// flags of `drover server` show.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultLeaseHeartbeats   = 4 // a lease outlives its worker's last heartbeat by this many intervals
	DefaultOfflineHeartbeats = 6 // a worker silent for this many intervals is offline
	DefaultReaperInterval    = time.Second
	DefaultMaxLeaseWait      = 30 * time.Second
	DefaultTimeout           = time.Hour
	DefaultRetryBackoff      = time.Second
	DefaultRetryBackoffCap   = 100 * time.Second
	DefaultLostRetries       = 3
	DefaultFleetCacheTTL     = time.Second
)

// Config holds the engine's timing. Zero fields take the defaults above.
type Config struct {
	HeartbeatInterval time.Duration // how often workers heartbeat; default 5s
	LeaseTTL          time.Duration // a lease lives this long past its last renewal; default 4 heartbeats
	OfflineThreshold  time.Duration // a worker silent this long is offline; default 6 heartbeats
	ReaperInterval    time.Duration // how often expired leases and silent workers are swept; default 1s
	MaxLeaseWait      time.Duration // longest a lease long-poll is held; default 30s
	DefaultTimeout    time.Duration // a task's timeout when it names none; default 1h
	RetryBackoff      time.Duration // base of the retry backoff when a task names none; default 1s
	RetryBackoffCap   time.Duration // longest wait between attempts; default 100s
	DefaultMaxRetries int           // retries of a task that names none; default 0
	LostRetries       int           // extra attempts for tasks whose worker was lost; default 3, -1 for none
	FleetCacheTTL     time.Duration // how stale the fleet snapshot used for admission may be; default 1s
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&c.LeaseTTL, DefaultLeaseHeartbeats*c.HeartbeatInterval)
	def(&c.OfflineThreshold, DefaultOfflineHeartbeats*c.HeartbeatInterval)
	def(&c.ReaperInterval, DefaultReaperInterval)
	def(&c.MaxLeaseWait, DefaultMaxLeaseWait)
	def(&c.DefaultTimeout, DefaultTimeout)
	def(&c.RetryBackoff, DefaultRetryBackoff)
	def(&c.RetryBackoffCap, DefaultRetryBackoffCap)
	def(&c.FleetCacheTTL, DefaultFleetCacheTTL)
	switch {
	case c.LostRetries == 0:
		c.LostRetries = DefaultLostRetries
	case c.LostRetries < 0:
		c.LostRetries = 0
	}
	return c
}

// Validate reports settings that cannot work together.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.LeaseTTL <= c.HeartbeatInterval {
		return fmt.Errorf("lease TTL (%s) must exceed the heartbeat interval (%s), or every lease expires between heartbeats", c.LeaseTTL, c.HeartbeatInterval)
	}
	if c.OfflineThreshold <= c.HeartbeatInterval {
		return fmt.Errorf("offline threshold (%s) must exceed the heartbeat interval (%s)", c.OfflineThreshold, c.HeartbeatInterval)
	}
	return nil
}

// Service is the task engine. It is safe for concurrent use.
type Service struct {
	store   store.Store
	log     *slog.Logger
	clock   func() time.Time // nil: real time, and the store's own clock for store writes
	wake    *waker
	fleet   *fleetCache
	hooks   Hooks
	order   hookOrder // the order hooks run in: see order.go
	secrets func(ctx context.Context, t *domain.Task) (json.RawMessage, error)
	cfgMu   sync.RWMutex
	cfg     Config
	start   time.Time
	random  func(n int64) int64

	progress progressLimiter

	heartbeats *coalescer[store.Heartbeat, store.WorkerHeartbeatResult] // heartbeats arriving together, as one store call

	durMu     sync.Mutex
	durations map[string]time.Duration // moving average of successful run time, per task type
}

// Hooks are called after state changes commit, in the order the engine's
// store calls began (order.go), so an effect's hook follows its cause's;
// they get copies, may run on another call's goroutine after the call
// returned, and must not block. They let the event stream and metrics
// observe the engine without it knowing them, and may wake a leader duty
// early. Nothing that must happen may hang on
// one: a crash between the commit and the hook skips it (docs/guarantees.md,
// G17), so follow-up work is reconciled from stored state instead.
type Hooks struct {
	TaskSubmitted func(*domain.Task)
	TaskStarted   func(*domain.Task)
	TaskFinished  func(*domain.Task) // completed, failed, or requeued for retry (State says which)
	TaskCancelled func(*domain.Task)
	WorkerChanged func(*domain.Worker)
	// TaskProgress sees every progress report stored: at most one per task
	// per ProgressInterval.
	TaskProgress func(*ProgressReport)
	// WorkerHeartbeat sees every heartbeat's worker (resources, counters):
	// the metric history samples it.
	WorkerHeartbeat func(*domain.Worker)
}

// Options configure New.
type Options struct {
	Config Config
	Logger *slog.Logger
	Hooks  Hooks
	// Clock replaces the real clock, for tests. When set, store calls get
	// explicit times from it too.
	Clock func() time.Time
	// Secrets resolves the secret references of an engine-made task's
	// payload (a workflow step's connections) as the task is handed to its
	// worker, so that the secret is never stored in the task, nor shown by
	// the API. nil leaves payloads as they are.
	Secrets func(ctx context.Context, t *domain.Task) (json.RawMessage, error)
}

// SecretRef marks a secret reference in a payload: ${connection:NAME}.
const SecretRef = "${connection:"

// New makes an engine over st.
func New(st store.Store, opts Options) (*Service, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		store:     st,
		log:       log,
		clock:     opts.Clock,
		wake:      newWaker(),
		hooks:     opts.Hooks,
		secrets:   opts.Secrets,
		cfg:       opts.Config.withDefaults(),
		random:    rand.Int64N,
		durations: map[string]time.Duration{},
	}
	s.start = s.now()
	s.heartbeats = newCoalescer(maxHeartbeatBatch, heartbeatBatchTimeout, s.heartbeatBatch)
	s.fleet = &fleetCache{store: st, ttl: s.cfg.FleetCacheTTL, now: s.now}
	return s, nil
}

// Config returns the engine's current timing.
func (s *Service) Config() Config {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.cfg
}

// SetTiming changes the heartbeat interval and offline threshold at run time
// (PUT /api/v1/config); workers learn the new interval on their next heartbeat.
func (s *Service) SetTiming(heartbeat, offline time.Duration) error {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	next := s.cfg
	next.HeartbeatInterval, next.OfflineThreshold = heartbeat, offline
	if next.LeaseTTL <= heartbeat {
		next.LeaseTTL = DefaultLeaseHeartbeats * heartbeat
	}
	if err := next.Validate(); err != nil {
		return err
	}
	s.cfg = next
	return nil
}

// SetDefaultTimeout changes the timeout of tasks that name none, for tasks
// submitted from now on (PUT /api/v1/config cluster.task_timeout).
func (s *Service) SetDefaultTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("default task timeout %s must be positive", d)
	}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	s.cfg.DefaultTimeout = d
	return nil
}

// StartedAt is when the engine was made: the server's start, for uptime.
func (s *Service) StartedAt() time.Time { return s.start }

// Wake tells the workers waiting on queues that work may have appeared
// there; nil means every waiting worker. Other servers' writes reach this
// one through it (store.WorkNotifier, PostgreSQL LISTEN/NOTIFY). It wakes
// every waiter of those queues: a notification names the queues, not the
// tasks, so it cannot pick one waiter per task as local writes do.
func (s *Service) Wake(queues []string) {
	if queues == nil {
		s.wake.all()
		return
	}
	keys := make([]string, len(queues))
	for i, q := range queues {
		keys[i] = queueKey(q)
	}
	s.wake.keys(keys...)
}

// now is the engine's clock.
func (s *Service) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// storeNow is the Now to pass to store calls: zero (the store's own clock,
// the database's on PostgreSQL) unless a test clock is injected.
func (s *Service) storeNow() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Time{}
}

// backoff is the wait before attempt+1 after attempt failed: exponential in
// the attempt, capped, with full jitter so retries of a burst of failures
// spread out instead of arriving in waves.
func (s *Service) backoff(attempt int, base time.Duration) time.Duration {
	if base <= 0 {
		base = s.Config().RetryBackoff
	}
	limit := s.Config().RetryBackoffCap
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if d <= 0 {
		return 0
	}
	return time.Duration(s.random(int64(d)) + 1)
}

// notFound turns the store's ErrNotFound into the API error for kind.
func notFound(err error, code domain.Code, what, id string) error {
	if errors.Is(err, domain.ErrNotFound) {
		e := domain.Errorf(code, "%s '%s' does not exist", what, id)
		if code == domain.CodeDeviceNotFound {
			return e.With("device_id", id)
		}
		return e.With("task_id", id)
	}
	return err
}

// ctxDone reports whether ctx has ended.
func ctxDone(ctx context.Context) bool { return ctx.Err() != nil }

// observeDuration folds one successful attempt into its type's moving average.
func (s *Service) observeDuration(t *domain.Task) {
	d := t.ExecutionTime()
	if t.State != domain.TaskCompleted || d <= 0 {
		return
	}
	s.durMu.Lock()
	defer s.durMu.Unlock()
	if avg, ok := s.durations[t.Type]; ok {
		d = avg + (d-avg)/8
	}
	s.durations[t.Type] = d
}

// EstimatedDuration is the typical run time of a task type here, if any
// task of it has completed since the server started.
func (s *Service) EstimatedDuration(typ string) (time.Duration, bool) {
	s.durMu.Lock()
	defer s.durMu.Unlock()
	d, ok := s.durations[typ]
	return d, ok
}
