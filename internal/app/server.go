// Package app is the composition root: it builds a server (store, engine,
// listeners) or a dev cluster from a typed configuration, runs it, and shuts
// it down in a written order. Nothing else wires packages together.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/agentserver"
	"github.com/drover-run/drover/internal/dashboard"
	"github.com/drover-run/drover/internal/dialect/elastic"
	"github.com/drover-run/drover/internal/dialect/keeper"
	"github.com/drover-run/drover/internal/dialect/netpulse"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/leader"
	"github.com/drover-run/drover/internal/maintenance"
	"github.com/drover-run/drover/internal/queue"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/telemetry"
	"github.com/drover-run/drover/internal/workflow"
)

// The server's defaults beyond the ports (api.Default*Port) and the
// engine's timing (dispatch.Default*).
const (
	DefaultHost      = "127.0.0.1" // loopback: serving other machines is a choice
	DefaultDataDir   = "drover-data"
	DefaultStore     = "sqlite://" + DefaultDataDir + "/drover.db"
	DefaultLeaderTTL = 5 * time.Second
)

// ServerConfig is everything `drover server` takes. Zero fields take the
// defaults shown.
type ServerConfig struct {
	Host      string // listen address of every listener; default 127.0.0.1
	Port      int    // native API, dashboard and SSE; default 8081; -1 picks a free port
	AgentPort int    // worker protocol; default 8080; -1 picks a free port
	// KeeperPort and NetPulsePort serve the Keeper (document 002) and
	// NetPulse (003) dialects; 0 turns a dialect's listener off (the zero
	// value, unlike Port's: a dialect is opt-in), -1 picks a free port.
	// The CLI's flags default to 7700 and 9000.
	KeeperPort   int
	NetPulsePort int
	Store        string // sqlite:///path/drover.db or postgres://…; default sqlite://drover-data/drover.db
	// SQLiteSync is SQLite's synchronous pragma: NORMAL (default) keeps
	// every acknowledged write across a kill -9 of the server; FULL also
	// across power loss, at a cost in write throughput.
	SQLiteSync string
	Engine     dispatch.Config
	// LeaderTTL is how long the leadership of the singleton duties outlives
	// its holder's last renewal; it is renewed every third of it. Default 5s.
	LeaderTTL time.Duration
	Version   string
	Logger    *slog.Logger
	// Security: keys, signing, rate limits, TLS (security.go).
	Security
	Pools PoolsConfig // pools.go
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.Host == "" {
		c.Host = DefaultHost
	}
	if c.Port == 0 {
		c.Port = api.DefaultPort
	}
	if c.AgentPort == 0 {
		c.AgentPort = api.DefaultAgentPort
	}
	if c.Store == "" {
		c.Store = DefaultStore
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LeaderTTL <= 0 {
		c.LeaderTTL = DefaultLeaderTTL
	}
	return c
}

// Validate fails fast on settings that cannot work.
func (c ServerConfig) Validate() error {
	c = c.withDefaults()
	ports := map[string]int{"--port": c.Port, "--agent-port": c.AgentPort, "--keeper-port": c.KeeperPort, "--netpulse-port": c.NetPulsePort}
	taken := map[int]string{}
	for _, name := range slices.Sorted(maps.Keys(ports)) {
		p := ports[name]
		if p < -1 || p > 65535 {
			return fmt.Errorf("%s %d is not a port", name, p)
		}
		if other, dup := taken[p]; dup && p > 0 {
			return fmt.Errorf("%s and %s are both %d", other, name, p)
		}
		taken[p] = name
	}
	switch c.SQLiteSync {
	case "", "NORMAL", "FULL", "normal", "full":
	default:
		return fmt.Errorf("--sqlite-sync %q: use NORMAL or FULL", c.SQLiteSync)
	}
	if err := c.Security.validate(c.Host); err != nil {
		return err
	}
	return c.Engine.Validate()
}

// Server is a running control plane.
type Server struct {
	cfg         ServerConfig
	log         *slog.Logger
	store       store.Store
	engine      *dispatch.Service
	leader      *leader.Elector
	maintenance *maintenance.Manager
	workflows   *workflow.Engine
	listeners   []*listener
	sec         *security
	obs         *observability
	pools       *pools
}

// listener is one entry of the server's listener list: a port and the
// route table served on it. Adding a dialect is adding an entry.
type listener struct {
	name    string
	port    int // 0: off; -1: a free port
	handler http.Handler
	ln      net.Listener
	srv     *http.Server
}

// NewServer opens the store, builds the engine and binds the listeners. It
// returns once the server could serve; Run serves.
func NewServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	st, err := OpenStore(ctx, cfg.Store, cfg.SQLiteSync, log)
	if err != nil {
		return nil, err
	}
	s, err := build(ctx, cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// build assembles the server over an open store: engines, listeners and
// leader duties.
func build(ctx context.Context, cfg ServerConfig, st store.Store) (*Server, error) {
	obs := newObservability(st, cfg.Logger, origin(cfg))
	log := obs.logger // from here on, what the server logs is also the cluster's log
	var wf *workflow.Engine
	hooks := wakeWorkflows(obs.hooks(), func() { wf.Wake() })
	secrets := func(ctx context.Context, t *domain.Task) (json.RawMessage, error) { return wf.ResolveSecrets(ctx, t) }
	engine, err := dispatch.New(telemetry.InstrumentStore(st, obs.metrics), dispatch.Options{Config: cfg.Engine, Logger: log, Hooks: hooks, Secrets: secrets})
	if err != nil {
		return nil, err
	}
	if err := obs.attach(ctx, engine, st, cfg); err != nil {
		return nil, err
	}
	sec, err := newSecurity(ctx, cfg.Security, st, log)
	if err != nil {
		return nil, err
	}
	wf = newWorkflows(st, engine, cfg.Security, log)
	s := &Server{cfg: cfg, log: log, store: st, engine: engine, sec: sec, obs: obs, workflows: wf,
		leader: leader.New(st, leader.Config{TTL: cfg.LeaderTTL, Logger: log})}
	obs.metrics.Leadership(s.leader.Since)
	s.pools = newPools(s, cfg)
	s.maintenance = maintenance.NewManager(log.With("component", "maintenance"), append([]maintenance.Service{
		&maintenance.Reaper{Engine: engine, Log: log},
		&maintenance.Offline{Engine: engine, Log: log},
		&maintenance.History{Sampler: obs.sampler, Log: log},
		&maintenance.Signatures{Auth: sec.keys, Log: log},
		&maintenance.Advance{Engine: wf, Logger: log},
		&maintenance.Cron{Engine: wf, Logger: log},
	}, s.pools.services(s, cfg)...)...)

	ins := insight.New(st, engine.Now, engine.StartedAt())
	queues := queue.New(st, engine, queue.Options{Logger: log})
	dash, err := dashboard.New(dashboard.Options{Engine: engine, Insight: ins, Queues: queues, Workflows: wf, Pools: s.pools.svc,
		Bus: obs.bus, Keys: sec.keys, Auth: cfg.Auth, Pinger: obs.control, Logger: log, Version: cfg.Version})
	if err != nil {
		return nil, err
	}
	native := server.New(server.Options{Engine: engine, Insight: ins, Logger: log, Version: cfg.Version,
		SchemaVersion: schemaVersion(st), Guard: sec.guard, Keys: sec.keys, Observe: obs.serverOptions(), Workflows: wf,
		Pools: s.pools.svc, Queues: queues, Also: slices.Concat(dash.Routes(), elastic.Routes(elastic.Deps{Pools: s.pools.svc}))})
	agent := agentserver.New(agentserver.Options{Engine: engine, Logger: log,
		AuthorizeRegister: sec.authorizeRegister(st), Middleware: sec.agentMiddleware(), Instrument: obs.metrics.InstrumentAgent, Control: obs.control})
	s.listeners = []*listener{
		{name: "api", port: cfg.Port, handler: native.Handler()},
		{name: "agent", port: cfg.AgentPort, handler: agent.Handler()},
		{name: "keeper", port: cfg.KeeperPort, handler: s.dialect(keeper.Routes(keeper.Deps{Workflows: wf}), keeper.WriteError)},
		{name: "netpulse", port: cfg.NetPulsePort, handler: s.dialect(netpulse.Routes(netpulse.Deps{Queues: queues, Metrics: obs.metrics.Handler()}), netpulse.WriteError)},
	}
	for _, l := range s.listeners {
		if l.port == 0 {
			continue
		}
		if l.ln, err = listen(cfg.Host, l.port); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("%s listener: %w", l.name, err)
		}
		l.srv = newHTTPServer(l.handler, log)
		if l.name == "api" {
			guard := guardConns(l.ln, obs.settings.Get().Server.MaxConnections)
			l.ln, l.srv.ConnState = guard, guard.track
		}
	}
	return s, nil
}

// closeListeners releases the bound ports.
func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		if l.ln != nil {
			l.ln.Close()
		}
	}
}

// dialect builds a dialect's handler from its route table, guarded like
// the native API but answering in its own format.
func (s *Server) dialect(routes []httpapi.Route, errs httpapi.ErrorFunc) http.Handler {
	h, _ := httpapi.Build(routes, errs, s.log, s.obs.metrics.Instrument, s.sec.guard(routes, errs))
	return h
}

func listen(host string, port int) (net.Listener, error) {
	if port < 0 {
		port = 0
	}
	return net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
}

// newHTTPServer bounds every phase of a request so slow or hostile clients
// cannot hold connections open (slowloris). WriteTimeout stays 0: lease
// long-polls and event streams legitimately answer late; handlers bound
// their own waits.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    httpapi.HardMaxHeaderBytes, // httpapi.MaxHeaderBytes is the budget answered in the envelope
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// URL is the base URL of the named listener ("api", "agent", "keeper",
// "netpulse"), or "" when it is off.
func (s *Server) URL(name string) string {
	for _, l := range s.listeners {
		if l.name == name && l.ln != nil {
			return s.sec.scheme + "://" + l.ln.Addr().String()
		}
	}
	return ""
}

// APIURL is the native API's base URL.
func (s *Server) APIURL() string { return s.URL("api") }

// AgentURL is the worker protocol's base URL.
func (s *Server) AgentURL() string { return s.URL("agent") }

// Engine is the server's task engine.
func (s *Server) Engine() *dispatch.Service { return s.engine }

// Store is the server's store.
func (s *Server) Store() store.Store { return s.store }

// Leader is the server's elector for the singleton duties.
func (s *Server) Leader() *leader.Elector { return s.leader }

// Run serves until ctx ends, then shuts down in order: stop accepting and
// let in-flight requests finish (long-polls are released at once); then
// stop the background loops — the reaper, the work listener, and the
// elector, which resigns the leadership so another server takes over at
// once; close the store last so every acknowledged write is flushed.
func (s *Server) Run(ctx context.Context) error {
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	// Requests' contexts derive from runCtx, so stopping it releases lease
	// long-polls at once instead of letting Shutdown wait them out.
	base := func(net.Listener) context.Context { return runCtx }
	errc := make(chan error, len(s.listeners))
	var servers, background sync.WaitGroup
	addrs := []any{}
	for _, l := range s.listeners {
		if l.srv == nil {
			continue
		}
		l.srv.BaseContext = base
		servers.Go(func() {
			if err := l.srv.Serve(s.sec.listen(l.ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", l.name, err)
			}
		})
		addrs = append(addrs, l.name, s.URL(l.name))
	}

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	background.Go(func() { s.leader.Run(bgCtx) })
	background.Go(func() { s.maintenance.Run(bgCtx, s.leader) })
	background.Go(func() { s.obs.run(bgCtx) })
	if n, ok := s.store.(store.WorkNotifier); ok {
		// Tasks submitted through other servers wake this one's waiting workers.
		background.Go(func() { n.ListenWork(bgCtx, s.engine.Wake) })
	}
	s.log.Info("drover server started", append(addrs, "store", redact(s.cfg.Store), "holder", s.leader.Holder(),
		"auth", s.cfg.Auth, "rate_limit", s.cfg.RateLimit, "tls", s.sec.tls != nil)...)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.log.Info("drover server stopping")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop()
	s.pools.stop(shutCtx)
	errs := []error{runErr}
	for _, l := range s.listeners {
		if l.srv != nil {
			errs = append(errs, l.srv.Shutdown(shutCtx))
		}
	}
	servers.Wait()
	stopBackground()
	background.Wait()
	errs = append(errs, s.store.Close())
	s.log.Info("drover server stopped")
	return errors.Join(errs...)
}
