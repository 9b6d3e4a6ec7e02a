// Package app is the composition root: it builds a server (store, engine,
// listeners) or a dev cluster from a typed configuration, runs it, and shuts
// it down in a written order. Nothing else wires packages together.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/agentserver"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/leader"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/telemetry"
)

// ServerConfig is everything `drover server` takes. Zero fields take the
// defaults shown.
type ServerConfig struct {
	Host      string // listen address of every listener; default 127.0.0.1
	Port      int    // native API, dashboard and SSE; default 8081; -1 picks a free port
	AgentPort int    // worker protocol; default 8080; -1 picks a free port
	Store     string // sqlite:///path/drover.db or postgres://…; default sqlite://drover-data/drover.db
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
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = 8081
	}
	if c.AgentPort == 0 {
		c.AgentPort = 8080
	}
	if c.Store == "" {
		c.Store = "sqlite://drover-data/drover.db"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LeaderTTL <= 0 {
		c.LeaderTTL = 5 * time.Second
	}
	return c
}

// Validate fails fast on settings that cannot work.
func (c ServerConfig) Validate() error {
	c = c.withDefaults()
	for name, p := range map[string]int{"--port": c.Port, "--agent-port": c.AgentPort} {
		if p < -1 || p > 65535 {
			return fmt.Errorf("%s %d is not a port", name, p)
		}
	}
	if c.Port > 0 && c.Port == c.AgentPort {
		return fmt.Errorf("--port and --agent-port are both %d", c.Port)
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
	cfg      ServerConfig
	log      *slog.Logger
	store    store.Store
	engine   *dispatch.Service
	leader   *leader.Elector
	api      *http.Server
	agent    *http.Server
	apiLn    net.Listener
	agentLn  net.Listener
	shutdown sync.Once
	sec      *security
	obs      *observability
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
	obs := newObservability(st, log, origin(cfg))
	log = obs.logger // from here on, what the server logs is also the cluster's log
	engine, err := dispatch.New(telemetry.InstrumentStore(st, obs.metrics), dispatch.Options{Config: cfg.Engine, Logger: log, Hooks: obs.hooks()})
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := obs.attach(ctx, engine, st, cfg); err != nil {
		st.Close()
		return nil, err
	}
	sec, err := newSecurity(ctx, cfg.Security, st, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, store: st, engine: engine, sec: sec, obs: obs,
		leader: leader.New(st, leader.Config{TTL: cfg.LeaderTTL, Logger: log})}
	apiHandler := server.New(server.Options{Engine: engine, Store: st, Logger: log, Version: cfg.Version,
		Middleware: sec.apiMiddleware(), Keys: sec.keys, Observe: obs.serverOptions()}).Handler()
	agentHandler := agentserver.New(agentserver.Options{Engine: engine, Store: st, Logger: log,
		AuthorizeRegister: sec.authorizeRegister(st), Middleware: sec.agentMiddleware(), Control: obs.control}).Handler()
	if s.apiLn, err = listen(cfg.Host, cfg.Port); err != nil {
		st.Close()
		return nil, fmt.Errorf("API listener: %w", err)
	}
	s.apiLn = limitListener(s.apiLn, obs.settings.Get().Server.MaxConnections)
	if s.agentLn, err = listen(cfg.Host, cfg.AgentPort); err != nil {
		s.apiLn.Close()
		st.Close()
		return nil, fmt.Errorf("agent listener: %w", err)
	}
	s.api = newHTTPServer(apiHandler, log)
	s.agent = newHTTPServer(agentHandler, log)
	return s, nil
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
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// APIURL is the native API's base URL.
func (s *Server) APIURL() string { return s.sec.scheme + "://" + s.apiLn.Addr().String() }

// AgentURL is the worker protocol's base URL.
func (s *Server) AgentURL() string { return s.sec.scheme + "://" + s.agentLn.Addr().String() }

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
	s.api.BaseContext, s.agent.BaseContext = base, base
	errc := make(chan error, 2)
	var servers, background sync.WaitGroup
	serve := func(srv *http.Server, ln net.Listener) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	servers.Go(func() { serve(s.api, s.sec.listen(s.apiLn)) })
	servers.Go(func() { serve(s.agent, s.sec.listen(s.agentLn)) })

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	background.Go(func() { s.leader.Run(bgCtx) })
	background.Go(func() { s.engine.RunReaper(bgCtx, s.leader) })
	background.Go(func() { s.obs.run(bgCtx) })
	if n, ok := s.store.(store.WorkNotifier); ok {
		// Tasks submitted through other servers wake this one's waiting workers.
		background.Go(func() { n.ListenWork(bgCtx, s.engine.Wake) })
	}
	s.log.Info("drover server started", "api", s.APIURL(), "agent", s.AgentURL(), "store", redact(s.cfg.Store), "holder", s.leader.Holder(),
		"auth", s.cfg.Auth, "rate_limit", s.cfg.RateLimit, "tls", s.sec.tls != nil)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.log.Info("drover server stopping")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop()
	errs := []error{runErr, s.api.Shutdown(shutCtx), s.agent.Shutdown(shutCtx)}
	servers.Wait()
	stopBackground()
	background.Wait()
	errs = append(errs, s.store.Close())
	s.log.Info("drover server stopped")
	return errors.Join(errs...)
}
