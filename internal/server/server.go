// Package server is Drover's native REST API (document 001, under /api/v1,
// and its extensions) on the main port. It translates: HTTP requests into
// calls of the engine services (dispatch, insight, …) and their domain
// answers into the public wire types of package api, in the native
// envelope. It holds no store and no rule of its own.
package server

import (
	"log/slog"
	"net/http"
	"slices"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/queue"
	"github.com/drover-run/drover/internal/scale"
	"github.com/drover-run/drover/internal/workflow"
)

// Options configure a Server.
type Options struct {
	Engine *dispatch.Service
	// Insight answers the summaries, statistics and the cluster log.
	Insight *insight.Service
	Logger  *slog.Logger
	Version string
	// SchemaVersion is the store's schema (its highest migration), for /health.
	SchemaVersion int
	// Guard authenticates, rate-limits and authorizes requests given the
	// route table (app's security); nil lets every request through.
	Guard func(routes []httpapi.Route, errs httpapi.ErrorFunc) func(http.Handler) http.Handler
	// Keys manages API keys (/api/v1/keys); nil leaves those routes out.
	Keys *auth.Service
	// Observe wires the observability routes (observe.go).
	Observe Observe
	// Queues is the queue engine (/api/v1/queues, device suspend and
	// resume); nil leaves those routes out.
	Queues *queue.Service
	// Also are routes of other parts served on the main port beside the
	// native API — the dashboard, document 000's change_points — each in
	// its own format (Route.Errors), and left out of /openapi.json.
	Also []httpapi.Route
	// Pools is the pool engine (/api/v1/pools); nil leaves those routes out.
	Pools *scale.Service
	// Workflows is the workflow engine; nil leaves its routes out.
	Workflows *workflow.Engine
}

// Server serves the native API.
type Server struct {
	engine        *dispatch.Service
	insight       *insight.Service
	log           *slog.Logger
	version       string
	schemaVersion int
	router        *httpapi.Router
	handler       http.Handler
	keys          *auth.Service
	obs           Observe
	observe       observeState
	extra         []httpapi.Route
	queues        *queue.Service
	pools         *scale.Service
	// workflows is the workflow engine (workflows.go).
	workflows *workflow.Engine
}

// New builds the API.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{engine: opts.Engine, insight: opts.Insight, log: log, version: opts.Version, schemaVersion: opts.SchemaVersion,
		keys: opts.Keys, obs: opts.Observe, extra: opts.Also, pools: opts.Pools, workflows: opts.Workflows, queues: opts.Queues}
	routes := slices.Concat(s.Routes(), s.extra)
	var guard, instrument func(http.Handler) http.Handler
	if opts.Guard != nil {
		guard = opts.Guard(routes, envelope.Error)
	}
	if m := opts.Observe.Metrics; m != nil {
		instrument = m.Instrument
	}
	s.handler, s.router = httpapi.Build(routes, envelope.Error, log, instrument, guard)
	return s
}

// Routes is the native API's route table: every route, declared once.
// Authorization (auth.PolicyFor) and /openapi.json derive from it.
func (s *Server) Routes() []httpapi.Route {
	return slices.Concat(s.clusterRoutes(), s.deviceRoutes(), s.taskRoutes(), s.queueRoutes(), s.keyRoutes(), s.observeRoutes(), s.poolRoutes(), s.workflowRoutes())
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Router is the API's router, for tests (Undeclared) and the OpenAPI document.
func (s *Server) Router() *httpapi.Router { return s.router }
