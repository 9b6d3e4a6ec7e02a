// Package drovertest runs a real Drover server inside a test: every
// listener on 127.0.0.1 on a free port, a temporary SQLite store (or the
// store a test names), fast timings, and a stop when the test ends. Tests of
// programs built on the client and worker packages run against it, and so
// do Drover's own client and CLI tests, so they cannot drift from the
// server.
//
// Its API names only public and standard types: a test sets the server up
// with Options and reaches it over HTTP, through Server.Client, URLs and
// in-process workers (StartWorker), as any program would.
package drovertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/app"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/worker"
)

// Options set up a test server. The zero value is a server without auth
// on a fresh SQLite file, with timings fast enough that leases expire and
// workers go offline within a second.
type Options struct {
	// Store is the store's URL, sqlite:///path/drover.db or postgres://….
	// Default: a SQLite file in t.TempDir(), so every server starts empty.
	Store string
	// HeartbeatInterval is how often workers heartbeat. Default 100ms.
	HeartbeatInterval time.Duration
	// LeaseTTL is how long a lease outlives its holder's last heartbeat.
	// Default 6 × HeartbeatInterval.
	LeaseTTL time.Duration
	// OfflineThreshold is the silence after which a worker is offline.
	// Default 10 × HeartbeatInterval.
	OfflineThreshold time.Duration
	// SweepInterval is how often expired leases are rescued and silent
	// workers marked offline. Default 50ms.
	SweepInterval time.Duration
	// Logger receives the server's logs. Default: discarded.
	Logger *slog.Logger

	// Auth requires an API key on the native API and a join token to
	// register a worker. Server.Client then carries the admin key, and
	// StartWorker makes a join token for each worker it starts.
	Auth bool
	// APIKey is the admin key seeded when Auth is on. Default: a random one
	// (Server.APIKey returns it).
	APIKey string
	// SecretKey seals the secrets of signed-mode keys, at least 32
	// characters. Default: a random one, so a test can create signed keys.
	SecretKey string

	// Keeper and NetPulse serve the Keeper and NetPulse dialects, each on a
	// free port: Server.URL("keeper"), Server.URL("netpulse") ("" while the
	// server has no such listener).
	Keeper, NetPulse bool
}

// Server is a running test server. It stops when the test that made it
// ends.
type Server struct {
	// Client is a client of the server's API; it carries the admin key
	// when Options.Auth is on.
	Client *client.Client

	t      testing.TB
	cfg    app.ServerConfig
	apiKey string

	mu      sync.Mutex
	srv     *app.Server // nil while stopped
	cancel  context.CancelFunc
	done    chan error
	workers int
}

// NewServer starts a server for the duration of t. It fails t if the
// server cannot start.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	cfg := app.ServerConfig{
		Port: -1, AgentPort: -1, Store: opts.Store, Logger: opts.Logger, Version: "test",
		Engine: dispatch.Config{HeartbeatInterval: opts.HeartbeatInterval, LeaseTTL: opts.LeaseTTL,
			OfflineThreshold: opts.OfflineThreshold, ReaperInterval: opts.SweepInterval},
		Security: app.Security{Auth: opts.Auth, APIKey: opts.APIKey, SecretKey: opts.SecretKey},
	}
	if cfg.Store == "" {
		cfg.Store = "sqlite://" + filepath.Join(t.TempDir(), "drover.db")
	}
	e := &cfg.Engine
	if e.HeartbeatInterval == 0 {
		e.HeartbeatInterval = 100 * time.Millisecond
	}
	if e.LeaseTTL == 0 {
		e.LeaseTTL = 6 * e.HeartbeatInterval
	}
	if e.OfflineThreshold == 0 {
		e.OfflineThreshold = 10 * e.HeartbeatInterval
	}
	if e.ReaperInterval == 0 {
		e.ReaperInterval = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Auth && cfg.APIKey == "" {
		cfg.APIKey = "drovertest-" + randomHex(16)
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = randomHex(32)
	}
	if opts.Keeper {
		cfg.KeeperPort = -1
	}
	if opts.NetPulse {
		cfg.NetPulsePort = -1
	}
	s := &Server{t: t, cfg: cfg}
	if cfg.Auth {
		s.apiKey = cfg.APIKey
	}
	s.start(t)
	// Later starts (Restart) bind the same ports, so URLs and clients made
	// now stay good.
	for name, p := range map[string]*int{"api": &s.cfg.Port, "agent": &s.cfg.AgentPort, "keeper": &s.cfg.KeeperPort, "netpulse": &s.cfg.NetPulsePort} {
		if base := s.URL(name); base != "" {
			*p = port(t, base)
		}
	}
	t.Cleanup(s.Stop)
	var copts []client.Option
	if s.apiKey != "" {
		copts = append(copts, client.WithAPIKey(s.apiKey))
	}
	c, err := client.New(s.APIURL(), copts...)
	if err != nil {
		t.Fatalf("drovertest: %v", err)
	}
	s.Client = c
	return s
}

// start builds and runs the server from s.cfg.
func (s *Server) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.NewServer(ctx, s.cfg)
	if err != nil {
		cancel()
		t.Fatalf("drovertest: starting server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	s.mu.Lock()
	s.srv, s.cancel, s.done = srv, cancel, done
	s.mu.Unlock()
}

// port is the port of a listener's base URL.
func port(t testing.TB, base string) int {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("drovertest: %v", err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("drovertest: listener URL %q: %v", base, err)
	}
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// running returns the running server, failing the test when it is stopped.
func (s *Server) running() *app.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		s.t.Fatalf("drovertest: the server is stopped")
	}
	return s.srv
}

// URL is the base URL of a listener: "api" (the native API, dashboard and
// event stream), "agent" (the worker protocol), "keeper" or "netpulse"
// (when Options turned them on); "" for a listener the server lacks.
func (s *Server) URL(listener string) string {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		return srv.URL(listener)
	}
	// Stopped: the ports are kept for Restart.
	p := map[string]int{"api": s.cfg.Port, "agent": s.cfg.AgentPort, "keeper": s.cfg.KeeperPort, "netpulse": s.cfg.NetPulsePort}[listener]
	if p <= 0 {
		return ""
	}
	return "http://127.0.0.1:" + strconv.Itoa(p)
}

// APIURL is the native API's base URL, such as http://127.0.0.1:40123:
// what client.New and the CLI's --api-url take.
func (s *Server) APIURL() string { return s.URL("api") }

// AgentURL is the worker protocol's base URL: what worker.Config.Server
// takes.
func (s *Server) AgentURL() string { return s.URL("agent") }

// APIKey is the admin key when Options.Auth is on, else "".
func (s *Server) APIKey() string { return s.apiKey }

// Flush writes what the server holds in memory for its history and
// cluster log (metric samples, events) to the store now, instead of at
// their next interval, so a test can read history right after making it.
func (s *Server) Flush(ctx context.Context) error {
	return s.running().FlushObservability(ctx)
}

// Stop shuts the server down as a signal would, and waits for it. Workers
// keep running and retry until Restart. Stop on a stopped server does
// nothing; the test's end stops the server anyway.
func (s *Server) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.srv, s.cancel, s.done = nil, nil, nil
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	// A connection a client dialed but never sent a request on (the
	// transport dials one for a request, then hands it an idle one that
	// freed up first) counts as active for 5s in http.Server.Shutdown, so
	// the shutdown would wait that out. Test clients mostly use the default
	// transport: closing its idle connections lets the server stop at once.
	if tr, ok := http.DefaultTransport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	cancel()
	if err := <-done; err != nil {
		s.t.Errorf("drovertest: server stopped with: %v", err)
	}
}

// Restart stops the server if it runs and starts it again over the same
// store and on the same ports, so clients and workers carry on.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// StartWorker runs an in-process worker against the server until the test
// ends, and returns once it has registered. cfg.Server is filled in; so is
// cfg.Token when the server has auth (a fresh join token), cfg.Name (w1,
// w2, … in the order started) and cfg.Logger (discarding) when empty.
// DrainTimeout defaults to 2s; cfg.HTTPClient to a client whose
// connections close when the test ends.
func (s *Server) StartWorker(t testing.TB, cfg worker.Config) *worker.Worker {
	t.Helper()
	cfg.Server = s.AgentURL()
	s.mu.Lock()
	s.workers++
	n := s.workers
	s.mu.Unlock()
	if cfg.Name == "" {
		cfg.Name = "w" + strconv.Itoa(n)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 2 * time.Second
	}
	if s.cfg.Auth && cfg.Token == "" {
		join, err := s.Client.Keys.Create(context.Background(), api.CreateKeyRequest{Name: "drovertest " + cfg.Name, Join: true})
		if err != nil {
			t.Fatalf("drovertest: join token for worker %s: %v", cfg.Name, err)
		}
		cfg.Token = join.Token
	}
	// The worker's own connections would hold the server's shutdown as
	// the test clients' would (see Stop): give it a transport to close.
	var own *http.Transport
	if cfg.HTTPClient == nil {
		own = http.DefaultTransport.(*http.Transport).Clone()
		own.ForceAttemptHTTP2, own.MaxIdleConnsPerHost = false, 16
		cfg.HTTPClient = &http.Client{Transport: own}
	}
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatalf("drovertest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("drovertest: worker stopped with: %v", err)
		}
		if own != nil {
			own.CloseIdleConnections()
		}
	})
	Eventually(t, 10*time.Second, func() bool { return w.ID() != "" }, "worker "+cfg.Name+" to register")
	return w
}

// Eventually polls cond every 10ms until it holds, failing t after limit.
// It is for end-to-end tests, where there is no event to wait on.
func Eventually(t testing.TB, limit time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("drovertest: timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
