// Package server is Drover's native REST API (document 001, under /api/v1)
// on the main port. It is the one place that converts between domain types
// and the public wire types in package api; the engine behind it is
// dispatch, the data it reads is the store.
package server

import (
	"log/slog"
	"net/http"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/web"
)

// Options configure a Server.
type Options struct {
	Engine  *dispatch.Service
	Store   store.Store
	Logger  *slog.Logger
	Version string
	// Middleware wraps every route: authentication and rate limits plug in
	// here (and must let /health and /ready through).
	Middleware func(http.Handler) http.Handler
	// Keys manages API keys (/api/v1/keys); nil leaves those routes out.
	Keys *auth.Service
	// Observe wires the observability routes (observe.go).
	Observe Observe
}

// Server serves the native API.
type Server struct {
	engine  *dispatch.Service
	store   store.Store
	log     *slog.Logger
	version string
	router  *web.Router
	handler http.Handler
	keys    *auth.Service
	obs     Observe
	observe observeState
}

// New builds the API's routes.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{engine: opts.Engine, store: opts.Store, log: log, version: opts.Version, router: web.NewRouter(), keys: opts.Keys, obs: opts.Observe}
	s.routes()
	var h http.Handler = s.router
	if m := opts.Observe.Metrics; m != nil {
		h = m.Instrument(h)
	}
	if opts.Middleware != nil {
		h = opts.Middleware(h)
	}
	s.handler = web.WithRequestID(web.Recover(log, h))
	return s
}

func (s *Server) routes() {
	r := s.router
	r.Handle("GET", "/health", s.health)
	r.Handle("GET", "/ready", s.ready)

	r.Handle("GET", "/api/v1/cluster/status", s.clusterStatus)
	r.Handle("GET", "/api/v1/cluster/health", s.clusterHealth)

	r.Handle("GET", "/api/v1/devices", s.listDevices)
	r.Handle("GET", "/api/v1/devices/{id}", s.getDevice)
	r.Handle("DELETE", "/api/v1/devices/{id}", s.removeDevice)

	r.Handle("POST", "/api/v1/tasks", s.submitTask)
	r.Handle("GET", "/api/v1/tasks", s.listTasks)
	r.Handle("POST", "/api/v1/tasks/batch", s.submitBatch)
	r.Handle("GET", "/api/v1/tasks/{id}", s.getTask)
	r.Handle("DELETE", "/api/v1/tasks/{id}", s.cancelTask)
	r.Handle("POST", "/api/v1/tasks/{id}/retry", s.retryTask)
	r.Handle("GET", "/api/v1/tasks/{id}/logs", s.taskLogs)

	s.keyRoutes()
	s.observeRoutes()
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Router exposes the routes, for tests and for other issues' additions.
func (s *Server) Router() *web.Router { return s.router }
