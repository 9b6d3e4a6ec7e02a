package scale

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Limits of a pool's settings.
const (
	MaxPoints       = 1000
	MaxConcurrency  = 10000
	MaxDrainTimeout = time.Hour
)

// Defaults of the engine's timing.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultStartTimeout = time.Minute
	DefaultCooldown     = time.Minute
)

// Options configure New.
type Options struct {
	// Providers by name ("local", "command").
	Providers map[string]Provider
	Logger    *slog.Logger
	// Wake tells waiting workers that work may have appeared in queues
	// (nil: any), as tasks handed back at a drain deadline; dispatch.Service.Wake.
	Wake func(queues []string)
	// StartTimeout is how long a launch not yet registered counts against
	// the desired size; default 1 minute.
	StartTimeout time.Duration
	// RemoveGrace is how long past its drain deadline a worker that still
	// has not left may take before the provider removes it anyway; default 10s.
	RemoveGrace time.Duration
	// Clock replaces the real clock, for tests.
	Clock func() time.Time
	// Scaled, if set, is told of every change of a pool's size after it
	// committed (the event stream's pool_scaled); it must not block.
	Scaled func(p *domain.Pool, e *domain.PoolEvent)
}

// Service is the pool engine. It is safe for concurrent use.
type Service struct {
	store     store.Store
	providers map[string]Provider
	log       *slog.Logger
	wake      func(queues []string)
	clock     func() time.Time
	startTTL  time.Duration
	grace     time.Duration
	kick      chan struct{}
	stopped   atomic.Bool
	scaled    func(p *domain.Pool, e *domain.PoolEvent)

	mu      sync.Mutex
	pending map[int64][]launch // launches not yet registered, by pool
}

// launch is a worker started and not yet seen registered.
type launch struct {
	name string
	at   time.Time
}

// New makes the engine over st.
func New(st store.Store, opts Options) *Service {
	s := &Service{
		store: st, providers: opts.Providers, log: opts.Logger, wake: opts.Wake, clock: opts.Clock,
		startTTL: cmp.Or(opts.StartTimeout, DefaultStartTimeout), grace: cmp.Or(opts.RemoveGrace, 10*time.Second),
		kick: make(chan struct{}, 1), pending: map[int64][]launch{}, scaled: opts.Scaled,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.providers == nil {
		s.providers = map[string]Provider{}
	}
	if s.wake == nil {
		s.wake = func([]string) {}
	}
	return s
}

func (s *Service) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// storeNow is the Now of store calls: the store's own clock unless a test
// clock is set.
func (s *Service) storeNow() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Time{}
}

// Stop makes every later Reconcile a no-op: a server shutting down stops
// its local workers, and must not start others in their place.
func (s *Service) Stop() { s.stopped.Store(true) }

// Kicked is signalled when a pool changed, so the reconciler runs at once
// rather than on its next tick.
func (s *Service) Kicked() <-chan struct{} { return s.kick }

func (s *Service) kickReconciler() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Providers lists the provider names this server knows.
func (s *Service) Providers() []string {
	names := make([]string, 0, len(s.providers))
	for n := range s.providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func invalid(field, format string, args ...any) *domain.Error {
	return domain.Errorf(domain.CodeValidation, format, args...).With("field", field)
}

// notFound is the error for an unknown pool id.
func notFound(id int64) error {
	return domain.Errorf(domain.CodeNotFound, "pool %d does not exist", id).With("pool_id", id)
}

func (s *Service) translate(err error, id int64) error {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return notFound(id)
	case errors.Is(err, domain.ErrConflict):
		return domain.Errorf(domain.CodeConflict, "a pool with this name or id exists already").With("field", "name")
	}
	return err
}

// validate checks a pool's settings and fills defaults.
func (s *Service) validate(p *domain.Pool) error {
	switch {
	case p.ID < 0:
		return invalid("id", "id must be positive")
	case !nameRE.MatchString(p.Name):
		return invalid("name", "name must be 1 to 64 letters, digits or _.- starting with a letter or digit")
	case p.MinPoints < 0:
		return invalid("min_points", "min_points must not be negative")
	case p.MaxPoints < 1 || p.MaxPoints > MaxPoints:
		return invalid("max_points", "max_points must be between 1 and %d", MaxPoints)
	case p.MinPoints > p.MaxPoints:
		return invalid("min_points", "min_points (%d) must not exceed max_points (%d)", p.MinPoints, p.MaxPoints)
	case p.Worker.Concurrency < 0 || p.Worker.Concurrency > MaxConcurrency:
		return invalid("worker.concurrency", "worker.concurrency must be between 1 and %d", MaxConcurrency)
	case len(p.Worker.Queues) > 100:
		return invalid("worker.queues", "at most 100 queues")
	case len(p.Worker.Labels) > 64:
		return invalid("worker.labels", "at most 64 labels")
	case p.DrainTimeout < 0 || p.DrainTimeout > MaxDrainTimeout:
		return invalid("drain_timeout", "drain_timeout must be between 0 and %s", MaxDrainTimeout)
	case p.Autoscale.TasksPerWorker < 0:
		return invalid("autoscale.tasks_per_worker", "tasks_per_worker must not be negative")
	case p.Autoscale.MaxPendingAge < 0 || p.Autoscale.Cooldown < 0:
		return invalid("autoscale", "autoscale durations must not be negative")
	}
	if err := checkPoints(p, p.Points); err != nil {
		return err
	}
	for _, q := range p.Worker.Queues {
		if q == "" || len(q) > 128 {
			return invalid("worker.queues", "a queue name must be 1 to 128 characters")
		}
	}
	if len(p.Worker.Queues) == 0 {
		p.Worker.Queues = []string{domain.DefaultQueue}
	}
	if p.Worker.Concurrency == 0 {
		p.Worker.Concurrency = 1
	}
	prov, ok := s.providers[p.Provider]
	if !ok {
		return invalid("provider", "provider '%s' is not one of %v", p.Provider, s.Providers()).With("providers", s.Providers())
	}
	if len(p.ProviderConfig) == 0 || string(p.ProviderConfig) == "null" {
		p.ProviderConfig = json.RawMessage(`{}`)
	}
	if err := prov.Validate(p.ProviderConfig); err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return err
		}
		return invalid("provider_config", "%v", err)
	}
	return nil
}

// checkPoints says whether points fits p's bounds.
func checkPoints(p *domain.Pool, points int) error {
	if points < p.MinPoints || points > p.MaxPoints {
		return domain.Errorf(domain.CodeValidation, "points %d is outside the pool's range %d..%d", points, p.MinPoints, p.MaxPoints).
			With("field", "points").With("min_points", p.MinPoints).With("max_points", p.MaxPoints)
	}
	return nil
}

// Create validates and stores a new pool; the reconciler then starts its
// workers. spec.ID, when set, is the id to give it (document 000 addresses
// pools by ids its operator knows).
func (s *Service) Create(ctx context.Context, spec *domain.Pool, actor string) (*domain.Pool, error) {
	p := *spec
	if err := s.validate(&p); err != nil {
		return nil, err
	}
	out, err := s.store.PoolInsert(ctx, &store.PoolInsertParams{Pool: &p, Actor: actor, Now: s.storeNow()})
	if err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return nil, domain.Errorf(domain.CodeConflict, "a pool named '%s' or with id %d exists already", p.Name, p.ID).With("field", "name")
		}
		return nil, err
	}
	s.log.Info("pool created", "pool_id", out.ID, "name", out.Name, "points", out.Points, "provider", out.Provider, "actor", actor)
	s.kickReconciler()
	return out, nil
}

// Get returns one pool.
func (s *Service) Get(ctx context.Context, id int64) (*domain.Pool, error) {
	p, err := s.store.PoolGet(ctx, id)
	return p, s.translate(err, id)
}

// List lists the pools by id.
func (s *Service) List(ctx context.Context) ([]*domain.Pool, error) {
	return s.store.PoolList(ctx, &store.PoolListParams{})
}

// Workers lists a pool's workers that have not left (online, draining).
func (s *Service) Workers(ctx context.Context, id int64) ([]*domain.Worker, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.PoolWorkerList(ctx, &store.PoolWorkerListParams{PoolID: id, Live: true})
}

// Events lists a pool's scaling history, newest first.
func (s *Service) Events(ctx context.Context, id int64, limit int) ([]*domain.PoolEvent, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.PoolEventList(ctx, &store.PoolEventListParams{PoolID: id, Limit: limit})
}

// Patch is a partial change of a pool; nil fields stay.
type Patch struct {
	Name           *string
	Points         *int
	MinPoints      *int
	MaxPoints      *int
	Worker         *domain.WorkerTemplate
	Provider       *string
	ProviderConfig json.RawMessage
	Autoscale      *domain.Autoscale
	DrainTimeout   *time.Duration
}

// Update changes a pool's settings and, if Points is set, its size (an
// event, as Scale). New bounds must hold the pool's size (the new one if
// Points is set). Workers already running keep the template they were
// started with.
func (s *Service) Update(ctx context.Context, id int64, patch Patch, actor string) (*domain.Pool, error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	next := *cur
	set := func(dst *int, v *int) {
		if v != nil {
			*dst = *v
		}
	}
	if patch.Name != nil {
		next.Name = *patch.Name
	}
	set(&next.Points, patch.Points)
	set(&next.MinPoints, patch.MinPoints)
	set(&next.MaxPoints, patch.MaxPoints)
	if patch.Worker != nil {
		next.Worker = *patch.Worker
	}
	if patch.Provider != nil {
		next.Provider = *patch.Provider
	}
	if patch.ProviderConfig != nil {
		next.ProviderConfig = patch.ProviderConfig
	}
	if patch.Autoscale != nil {
		next.Autoscale = *patch.Autoscale
	}
	if patch.DrainTimeout != nil {
		next.DrainTimeout = *patch.DrainTimeout
	}
	if err := s.validate(&next); err != nil {
		return nil, err
	}
	out, err := s.store.PoolUpdate(ctx, &store.PoolUpdateParams{Pool: &next, Now: s.storeNow()})
	if err != nil {
		return nil, s.translate(err, id)
	}
	if next.Points != out.Points {
		out, _, err = s.scale(ctx, out, next.Points, actor, "update")
		if err != nil {
			return nil, err
		}
	}
	s.kickReconciler()
	return out, nil
}

// Scale sets a pool's desired size, within its bounds, and records who
// asked. Asking for the size the pool already has changes nothing and
// records nothing (changed is false). The workers follow in the background.
func (s *Service) Scale(ctx context.Context, id int64, points int, actor, reason string) (p *domain.Pool, changed bool, err error) {
	cur, err := s.Get(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if err := checkPoints(cur, points); err != nil {
		return nil, false, err
	}
	return s.scale(ctx, cur, points, actor, reason)
}

func (s *Service) scale(ctx context.Context, cur *domain.Pool, points int, actor, reason string) (*domain.Pool, bool, error) {
	out, ev, err := s.store.PoolScale(ctx, &store.PoolScaleParams{ID: cur.ID, Points: points, Actor: actor, Reason: reason, Now: s.storeNow()})
	if err != nil {
		return nil, false, s.translate(err, cur.ID)
	}
	if ev != nil {
		s.log.Info("pool scaled", "pool_id", cur.ID, "from", ev.From, "to", ev.To, "actor", actor, "reason", reason)
		if s.scaled != nil {
			s.scaled(out, ev)
		}
		s.kickReconciler()
	}
	return out, ev != nil, nil
}

// Delete deletes a pool: its workers are drained and stopped by the
// reconciler, as workers of a pool that no longer exists.
func (s *Service) Delete(ctx context.Context, id int64, actor string) error {
	if err := s.store.PoolDelete(ctx, id); err != nil {
		return s.translate(err, id)
	}
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
	s.log.Info("pool deleted", "pool_id", id, "actor", actor)
	s.kickReconciler()
	return nil
}

// drainTimeout is p's drain deadline span.
func drainTimeout(p *domain.Pool) time.Duration {
	if p == nil || p.DrainTimeout <= 0 {
		return DefaultDrainTimeout
	}
	return p.DrainTimeout
}

// victims picks n workers to remove: idle ones first, then the least busy,
// then the most recently registered (the least warmed up).
func victims(ws []*domain.Worker, n int) []*domain.Worker {
	ws = slices.Clone(ws)
	slices.SortStableFunc(ws, func(a, b *domain.Worker) int {
		return cmp.Or(cmp.Compare(a.TasksActive, b.TasksActive), b.RegisteredAt.Compare(a.RegisteredAt), cmp.Compare(a.ID, b.ID))
	})
	return ws[:min(n, len(ws))]
}

// workerName is the id a launched worker asks for.
func workerName(poolID int64) string {
	return fmt.Sprintf("pool%d-%s", poolID, domain.NewSecret(4)[:6])
}

// Prospective is one worker per pool that may have workers (max_points >
// 0), as its template would start it, with no id: task admission counts
// them, so a task for a queue that only a pool scaled to zero serves is
// admitted and waits for the pool to grow (DESIGN.md §2).
func (s *Service) Prospective(ctx context.Context) ([]*domain.Worker, error) {
	pools, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*domain.Worker, 0, len(pools))
	for _, p := range pools {
		if p.MaxPoints == 0 {
			continue
		}
		types := []string{}
		for _, t := range domain.BuiltinTypes {
			if t != domain.TypeShell || p.Worker.AllowShell {
				types = append(types, t)
			}
		}
		out = append(out, &domain.Worker{Queues: p.Worker.Queues, Labels: p.Worker.Labels, TaskTypes: types,
			Concurrency: p.Worker.Concurrency, State: domain.WorkerOffline, PoolID: p.ID, Role: "compute"})
	}
	return out, nil
}
