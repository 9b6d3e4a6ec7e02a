// Package queue is the engine of queues and of the worker views over them:
// listing queues with their counts and the age of their oldest pending
// task, pausing and resuming a queue, suspending and resuming a worker,
// stopping workers, and the job queries of document 003 (NetPulse). It
// takes and returns domain types; the native API and the NetPulse dialect
// translate.
//
// # Queues
//
// A queue exists as soon as a task or a worker names it; its only stored
// state is a pause. FifoQ is the default; pinned_{host} holds the work for
// one target host and is served by the workers started with --pin-host.
//
//	running ──Pause──▶ paused ──Resume──▶ running
//
// A paused queue admits tasks but leases none (the lease statement checks
// it, so a pause holds on every server and across restarts).
//
// # Workers
//
// Document 003's worker statuses derive from stored facts (domain.StatusOf):
// dead when offline, suspended when suspended, busy while it holds a lease,
// else idle. A suspended worker finishes what it runs and leases nothing
// until resumed, across re-registrations too. Stopping a worker (StopWorkers)
// drains it and hands its leases back to their queues at once
// (dispatch.Service.StopWorker): no task is lost.
package queue

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Service is the queue engine. It is safe for concurrent use.
type Service struct {
	log    *slog.Logger
	store  store.Store
	engine *dispatch.Service
	clock  func() time.Time
	fleet  fleetSnapshot
}

// Options configure New.
type Options struct {
	// Clock replaces the real clock, for tests; store calls then get
	// explicit times from it.
	Clock func() time.Time
	// Logger receives the audit trail of pauses, suspensions, stops and
	// cancels (component=audit); nil discards it.
	Logger *slog.Logger
}

// New makes the queue engine over st and the task engine.
func New(st store.Store, engine *dispatch.Service, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{log: log, store: st, engine: engine, clock: opts.Clock}
}

// storeNow is zero (the store's own clock) unless a test clock is set.
func (s *Service) storeNow() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Time{}
}

// List reports every known queue — one that has tasks, workers or a pause —
// by name, FifoQ always among them.
func (s *Service) List(ctx context.Context) ([]*domain.Queue, error) {
	stats, err := s.store.TaskQueueStats(ctx)
	if err != nil {
		return nil, err
	}
	pauses, err := s.store.QueuePauseList(ctx)
	if err != nil {
		return nil, err
	}
	workers, err := s.store.WorkerStatusList(ctx, &store.WorkerStatusListParams{})
	if err != nil {
		return nil, err
	}
	byName := map[string]*domain.Queue{}
	get := func(name string) *domain.Queue {
		q := byName[name]
		if q == nil {
			q = &domain.Queue{Name: name, Host: domain.HostOfQueue(name), Counts: map[domain.TaskState]int64{}}
			for _, st := range domain.TaskStates {
				q.Counts[st] = 0
			}
			byName[name] = q
		}
		return q
	}
	get(domain.DefaultQueue)
	for _, st := range stats {
		q := get(st.Queue)
		q.Counts[st.State] += st.Count
		if st.State == domain.TaskPending && !st.OldestPending.IsZero() &&
			(q.OldestPending.IsZero() || st.OldestPending.Before(q.OldestPending)) {
			q.OldestPending = st.OldestPending
		}
	}
	for _, p := range pauses {
		q := get(p.Queue)
		q.Paused, q.PausedAt = true, p.PausedAt
	}
	for _, ws := range workers {
		w := ws.Worker
		for _, name := range uniq(w.Queues) {
			q := get(name)
			q.Workers++
			if w.State.Live() {
				q.LiveWorkers++
			}
		}
	}
	out := make([]*domain.Queue, 0, len(byName))
	for _, q := range byName {
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b *domain.Queue) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Get reports one queue; a queue no task, worker or pause names is NOT_FOUND.
func (s *Service) Get(ctx context.Context, name string) (*domain.Queue, error) {
	qs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(qs, func(q *domain.Queue) bool { return q.Name == name })
	if i < 0 {
		return nil, domain.Errorf(domain.CodeNotFound, "queue '%s' does not exist: no task, worker or pause names it", name).With("queue", name)
	}
	return qs[i], nil
}

// Pause stops the queue's tasks from being leased until Resume. Pausing a
// queue nothing names yet is allowed: its first tasks will wait.
func (s *Service) Pause(ctx context.Context, actor domain.Actor, name string) (*domain.Queue, error) {
	return s.setPaused(ctx, actor, name, true)
}

// Resume lets a paused queue's tasks be leased again.
func (s *Service) Resume(ctx context.Context, actor domain.Actor, name string) (*domain.Queue, error) {
	return s.setPaused(ctx, actor, name, false)
}

func (s *Service) setPaused(ctx context.Context, actor domain.Actor, name string, paused bool) (*domain.Queue, error) {
	if !domain.ValidQueueName(name) {
		return nil, domain.Errorf(domain.CodeValidation, "queue must be 1 to 128 letters, digits or _.:@/-").With("field", "queue")
	}
	if err := s.store.QueueSetPaused(ctx, &store.QueueSetPausedParams{Name: name, Paused: paused, Now: s.storeNow()}); err != nil {
		return nil, err
	}
	s.audit(actor, map[bool]string{true: "queue paused", false: "queue resumed"}[paused], "queue", name)
	if !paused {
		s.engine.Wake([]string{name}) // its waiting tasks are leasable again
	}
	return s.Get(ctx, name)
}

// audit records who changed what, as the engine's other audit lines do.
func (s *Service) audit(actor domain.Actor, msg string, attrs ...any) {
	s.log.Info(msg, append([]any{"component", "audit", "by", actor.String(), "remote_addr", actor.Addr}, attrs...)...)
}

func uniq(qs []string) []string {
	out := slices.Clone(qs)
	slices.Sort(out)
	return slices.Compact(out)
}
