package app

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/agentserver"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/settings"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/telemetry"
)

// observability is the event log, metric history, Prometheus metrics,
// control channel and run-time settings of one server, wired to the
// engine through its hooks.
type observability struct {
	bus      *event.Bus
	metrics  *telemetry.Metrics
	sampler  *telemetry.Sampler
	recorder *telemetry.Recorder
	control  *agentserver.Control
	settings *settings.Manager
	level    *slog.LevelVar // the least severe server log record stored in the cluster log
	logger   *slog.Logger   // the server's logger, teeing into the event log
	engine   *dispatch.Service
	relay    store.ControlRelay // nil: no other server shares the store
}

// newObservability builds the parts; the engine is attached later (it
// needs the hooks first).
func newObservability(st store.Store, log *slog.Logger, origin string) *observability {
	o := &observability{level: new(slog.LevelVar), control: agentserver.NewControl()}
	if relay, shared := st.(store.ControlRelay); shared {
		// Pings and stop orders reach workers connected to other servers.
		o.relay = relay
		o.control.SetRelay(relay.RelayControl)
	}
	o.bus = event.New(event.Options{Store: st, Logger: log, Origin: origin})
	o.metrics = telemetry.NewMetrics(st, o.bus.Dropped)
	o.bus.OnWrite = o.metrics.EventsWritten
	o.logger = slog.New(o.bus.Tee(log.Handler(), o.level))
	o.sampler = telemetry.NewSampler(telemetry.SamplerOptions{
		Store: st, Logger: log,
		Interval: func() time.Duration {
			if o.engine == nil {
				return 5 * time.Second
			}
			return o.engine.Config().HeartbeatInterval
		},
		Retention: func() telemetry.Retention {
			s := o.settings.Get()
			return telemetry.Retention{Metrics: s.Metrics.RetentionDuration(), Events: s.Logging.RetentionDuration(), MaxEvents: s.Logging.MaxEvents()}
		},
	})
	o.recorder = telemetry.NewRecorder(o.bus, o.sampler, o.metrics)
	return o
}

// hooks are the engine hooks: the recorder's, and stop orders for
// cancelled tasks sent down the control channel at once.
func (o *observability) hooks() dispatch.Hooks {
	h := o.recorder.Hooks()
	cancelled := h.TaskCancelled
	h.TaskCancelled = func(t *domain.Task) {
		cancelled(t)
		if dev := t.DeviceOf(); dev != "" && t.LeaseEpoch > 0 {
			o.control.Stop(dev, api.StopOrder{TaskID: t.ID, Epoch: t.LeaseEpoch, Reason: "cancelled"})
		}
	}
	changed := h.WorkerChanged
	h.WorkerChanged = func(w *domain.Worker) {
		changed(w)
		if w.State == domain.WorkerRemoved {
			o.control.Forget(w.ID)
		}
	}
	return h
}

// attach finishes the wiring once the engine exists: the settings start
// from the engine's configuration and the listener's address, then the
// persisted ones are applied over them.
func (o *observability) attach(ctx context.Context, engine *dispatch.Service, st store.Store, cfg ServerConfig) error {
	o.engine = engine
	ec := engine.Config()
	base := settings.Defaults()
	base.Server.Host, base.Server.Port = cfg.Host, cfg.Port
	base.Cluster = settings.Cluster{
		HeartbeatInterval: ec.HeartbeatInterval.Seconds(),
		OfflineThreshold:  ec.OfflineThreshold.Seconds(),
		TaskTimeout:       int(ec.DefaultTimeout / time.Second),
	}
	o.settings = settings.NewManager(st, base, o.apply)
	return o.settings.Load(ctx)
}

// apply makes settings take effect: engine timing, the default task
// timeout and the stored log's level at once; retention at the next prune.
func (o *observability) apply(prev, next settings.Settings) error {
	if prev.Cluster != next.Cluster || o.engine.Config().HeartbeatInterval != settings.Seconds(next.Cluster.HeartbeatInterval) {
		if err := o.engine.SetTiming(settings.Seconds(next.Cluster.HeartbeatInterval), settings.Seconds(next.Cluster.OfflineThreshold)); err != nil {
			return err
		}
		if err := o.engine.SetDefaultTimeout(time.Duration(next.Cluster.TaskTimeout) * time.Second); err != nil {
			return err
		}
	}
	if l, ok := domain.ParseLevel(next.Logging.Level); ok {
		o.level.Set(slogLevel(l))
	}
	return nil
}

func slogLevel(l domain.Level) slog.Level {
	switch l {
	case domain.LevelDebug:
		return slog.LevelDebug
	case domain.LevelWarning:
		return slog.LevelWarn
	case domain.LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// serverOptions is what the native API needs from here.
func (o *observability) serverOptions() server.Observe {
	return server.Observe{Bus: o.bus, Metrics: o.metrics, Settings: o.settings, Pinger: o.control}
}

// run runs the background loops until ctx ends: the event writer, the
// sampler's flushes and prunes, and the settings watch (changes made
// through other servers). Each flushes what it holds before returning.
func (o *observability) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { o.bus.Run(ctx) })
	wg.Go(func() { o.sampler.Run(ctx) })
	wg.Go(func() { o.settings.Watch(ctx, 10*time.Second) })
	if o.relay != nil {
		wg.Go(func() { o.relay.ListenControl(ctx, o.control.Relayed) })
	}
	wg.Wait()
}

// origin names this server in the events it records.
func origin(cfg ServerConfig) string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(cfg.Port)
}

// FlushObservability writes what the event log and the metric history
// hold in memory to the store now, instead of at their next interval:
// tests read history right after making it.
func (s *Server) FlushObservability(ctx context.Context) error {
	s.obs.bus.Flush(ctx)
	return s.obs.sampler.Flush(ctx)
}
