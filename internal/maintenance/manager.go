package maintenance

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Service is one leader duty. Run works until ctx ends — leadership lost
// or shutdown — and then returns nil; an error return is logged and the
// service restarted after a backoff.
type Service interface {
	Name() string
	Run(ctx context.Context) error
}

// Leader reports whether this server leads now (leader.Elector).
type Leader interface {
	IsLeader() bool
}

// Manager starts and stops the services with leadership.
type Manager struct {
	log      *slog.Logger
	services []Service
	// Poll is how often leadership is checked; default 100ms.
	Poll time.Duration
}

// NewManager makes a manager of services.
func NewManager(log *slog.Logger, services ...Service) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{log: log, services: services, Poll: 100 * time.Millisecond}
}

// Services lists the managed services.
func (m *Manager) Services() []Service { return m.services }

// Run starts every service while leader says this server leads, stops
// them when it stops leading, and returns once ctx has ended and every
// service has returned. A nil leader always leads.
func (m *Manager) Run(ctx context.Context, leader Leader) {
	tick := time.NewTicker(m.Poll)
	defer tick.Stop()
	var (
		stop func()
		wg   sync.WaitGroup
	)
	for {
		leads := leader == nil || leader.IsLeader()
		switch {
		case leads && stop == nil:
			var lctx context.Context
			lctx, stop = context.WithCancel(ctx)
			m.log.Info("leader: maintenance services start", "services", len(m.services))
			for _, s := range m.services {
				wg.Go(func() { m.supervise(lctx, s) })
			}
		case !leads && stop != nil:
			m.log.Info("no longer leader: maintenance services stop")
			stop()
			wg.Wait()
			stop = nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			wg.Wait()
			return
		}
	}
}

// supervise runs s until ctx ends, restarting it after errors and panics.
func (m *Manager) supervise(ctx context.Context, s Service) {
	backoff := time.Second
	for {
		err := run(ctx, s)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = fmt.Errorf("returned while still leader")
		}
		m.log.Error("maintenance service failed; restarting", "service", s.Name(), "err", err, "after", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func run(ctx context.Context, s Service) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return s.Run(ctx)
}

// Every calls f every interval (read afresh each time, so a setting can
// change it) until ctx ends; f's errors are logged. It is the loop most
// services are.
func Every(ctx context.Context, log *slog.Logger, name string, interval func() time.Duration, f func(context.Context) error) error {
	return Loop(ctx, log, name, interval(), interval, nil, f)
}

// Loop calls f first after first, then whenever wake delivers or interval
// (read afresh each time) has passed since the last call, until ctx ends;
// f's errors are logged. A nil wake never delivers.
func Loop(ctx context.Context, log *slog.Logger, name string, first time.Duration, interval func() time.Duration,
	wake <-chan struct{}, f func(context.Context) error) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-wake:
		case <-ctx.Done():
			return nil
		}
		if err := f(ctx); err != nil && ctx.Err() == nil {
			log.Error("maintenance pass failed", "service", name, "err", err)
		}
		timer.Reset(interval()) // Go 1.23+: Reset drains a fired timer
	}
}

// fixed is an interval that does not change.
func fixed(d time.Duration) func() time.Duration { return func() time.Duration { return d } }
