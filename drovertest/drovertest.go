// Package drovertest runs a real Drover server inside a test: on 127.0.0.1
// with free ports and a temporary SQLite store, stopped when the test ends.
// Programs that use the client or worker packages test against it.
package drovertest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-run/drover/client"
	"github.com/drover-run/drover/internal/app"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/worker"
)

// Server is a running test server.
type Server struct {
	*app.Server
	// Client is a client of the server's API.
	Client *client.Client
}

// Options tune a test server. Zero fields take fast test timings: workers
// heartbeat every 100 ms and leases expire after 600 ms of silence.
type Options struct {
	Store  string // default: a SQLite file in t.TempDir()
	Engine dispatch.Config
	Logger *slog.Logger
}

// NewServer starts a server for the duration of t.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Store == "" {
		opts.Store = "sqlite://" + filepath.Join(t.TempDir(), "drover.db")
	}
	e := &opts.Engine
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.NewServer(ctx, app.ServerConfig{
		Port: -1, AgentPort: -1, Store: opts.Store, Engine: opts.Engine, Logger: opts.Logger, Version: "test",
	})
	if err != nil {
		cancel()
		t.Fatalf("drovertest: starting server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("drovertest: server stopped with: %v", err)
		}
	})
	c, err := client.New(srv.APIURL())
	if err != nil {
		t.Fatalf("drovertest: %v", err)
	}
	return &Server{Server: srv, Client: c}
}

// StartWorker runs an in-process worker against s until the test ends.
// cfg.Server is filled in; it waits until the worker is registered.
func (s *Server) StartWorker(t testing.TB, cfg worker.Config) *worker.Worker {
	t.Helper()
	cfg.Server = s.AgentURL()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 2 * time.Second
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
	})
	Eventually(t, 10*time.Second, func() bool { return w.ID() != "" }, "worker to register")
	return w
}

// Eventually polls cond every 10 ms until it holds, failing t after limit.
// For end-to-end tests, where there is no event to wait on.
func Eventually(t testing.TB, limit time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
