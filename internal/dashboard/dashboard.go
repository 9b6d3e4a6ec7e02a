// Package dashboard is Drover's web dashboard on the main port: pages
// rendered on the server with html/template, kept live by a Server-Sent
// Events stream fed by the cluster's event bus, every asset embedded.
//
// It is an HTTP package like the native API: it reads and acts only through
// the engine services (dispatch, insight, queue, workflow, scale, auth),
// never the store. With
// authentication on, a visitor logs in once with an API key; the key stays
// on the server (session.go), and every engine call is made as that key's
// principal, so the dashboard can do exactly what the key could do through
// the API. Every action is a POST carrying a per-session CSRF token.
package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/queue"
	"github.com/drover-run/drover/internal/scale"
	"github.com/drover-run/drover/internal/workflow"
)

// Pinger probes a worker over its control channel.
type Pinger interface {
	Ping(ctx context.Context, workerID string, timeout time.Duration) (time.Duration, error)
}

// Options configure a Dashboard.
type Options struct {
	Engine  *dispatch.Service
	Insight *insight.Service
	// Queues, Workflows and Pools are the other engines; each nil one
	// leaves its pages (and device drains, for Queues) out.
	Queues    *queue.Service
	Workflows *workflow.Engine
	Pools     *scale.Service
	// Bus feeds the live updates; nil: pages are static until reloaded.
	Bus *event.Bus
	// Keys authenticates logins and manages keys (the Keys page).
	Keys *auth.Service
	// Auth requires a login with an API key.
	Auth   bool
	Pinger Pinger
	Logger *slog.Logger
	// Version is shown in the footer.
	Version string
	// Throttle is the least time between two live refreshes of one part of
	// a page; default 500ms. Events arriving faster are coalesced, so a
	// busy cluster costs an open tab a bounded number of requests.
	Throttle time.Duration
	// MaxStreams bounds the open live streams; default 256.
	MaxStreams int
}

// Dashboard serves the pages.
type Dashboard struct {
	opts     Options
	log      *slog.Logger
	sessions *sessions
	views    *views
	streams  atomic.Int64
	csrf     *http.CrossOriginProtection
	aggs     *aggregates
}

// New builds the dashboard.
func New(opts Options) (*Dashboard, error) {
	if opts.Engine == nil || opts.Insight == nil {
		return nil, errors.New("dashboard: Engine and Insight are required")
	}
	if opts.Auth && opts.Keys == nil {
		return nil, errors.New("dashboard: Auth needs Keys")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Throttle <= 0 {
		opts.Throttle = 500 * time.Millisecond
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 256
	}
	v, err := newViews()
	if err != nil {
		return nil, err
	}
	return &Dashboard{opts: opts, log: opts.Logger.With("component", "dashboard"), sessions: newSessions(),
		views: v, csrf: http.NewCrossOriginProtection(), aggs: newAggregates(opts.Bus, time.Second)}, nil
}

// Routes are the dashboard's routes, for server.Options.Also. They are
// declared Public: the API's guard, which wants a key on every request,
// lets them through, and the dashboard checks its own session instead
// (each handler below states the scope it needs).
func (d *Dashboard) Routes() []httpapi.Route {
	page := func(path string, need auth.Scope, h handler) httpapi.Route {
		return httpapi.Route{Method: "GET", Path: path, Access: httpapi.Public, Tag: "dashboard", Summary: "Dashboard page",
			Raw: "text/html", Errors: d.renderError, Handler: d.wrap(need, h)}
	}
	action := func(path string, need auth.Scope, h handler) httpapi.Route {
		return httpapi.Route{Method: "POST", Path: path, Access: httpapi.Public, Tag: "dashboard", Summary: "Dashboard action",
			Raw: "text/html", Status: http.StatusSeeOther, Also: []int{http.StatusOK}, Errors: d.renderError, Handler: d.wrap(need, d.checked(h))}
	}
	routes := []httpapi.Route{
		page("/{$}", auth.ScopeRead, d.overview),
		page("/ui/{$}", auth.ScopeRead, d.overview),
		page("/ui/tasks", auth.ScopeRead, d.tasks),
		page("/ui/tasks/new", auth.ScopeWrite, d.newTask),
		page("/ui/tasks/{id}", auth.ScopeRead, d.task),
		page("/ui/devices", auth.ScopeRead, d.devices),
		page("/ui/devices/{id}", auth.ScopeRead, d.device),
		page("/ui/logs", auth.ScopeRead, d.logs),
		page("/ui/keys", auth.ScopeAdmin, d.keys),
		page("/ui/live", auth.ScopeRead, d.live),
		page("/ui/tasks/{id}/live", auth.ScopeRead, d.taskLive),
		{Method: "GET", Path: "/ui/", Access: httpapi.Public, Tag: "dashboard", Summary: "Dashboard: no such page",
			Raw: "text/html", Errors: d.renderError, Handler: d.notFound},
		{Method: "GET", Path: "/ui/assets/{file}", Access: httpapi.Public, Tag: "dashboard", Summary: "Dashboard asset",
			Raw: "application/octet-stream", Errors: d.renderError, Handler: d.asset},
		{Method: "GET", Path: "/ui/login", Access: httpapi.Public, Tag: "dashboard", Summary: "Dashboard login",
			Raw: "text/html", Errors: d.renderError, Handler: d.loginForm},
		{Method: "POST", Path: "/ui/login", Access: httpapi.Public, Tag: "dashboard", Summary: "Dashboard login",
			Raw: "text/html", Status: http.StatusSeeOther, Also: []int{http.StatusOK}, Errors: d.renderError, Handler: d.login},
		action("/ui/logout", "", d.logout),
		action("/ui/tasks", auth.ScopeWrite, d.submit),
		action("/ui/tasks/{id}/cancel", auth.ScopeWrite, d.cancel),
		action("/ui/tasks/{id}/retry", auth.ScopeWrite, d.retry),
		action("/ui/devices/{id}/ping", auth.ScopeWrite, d.ping),
		action("/ui/devices/{id}/remove", auth.ScopeAdmin, d.remove),
		action("/ui/keys", auth.ScopeAdmin, d.createKey),
		action("/ui/keys/{id}/rotate", auth.ScopeAdmin, d.rotateKey),
		action("/ui/keys/{id}/revoke", auth.ScopeAdmin, d.revokeKey),
	}
	// The API's scopes for the same acts: pausing queues and suspending
	// workers is admin, as is resizing pools; runs are write.
	if d.opts.Queues != nil {
		routes = append(routes,
			page("/ui/queues", auth.ScopeRead, d.queues),
			action("/ui/queues/{name}/pause", auth.ScopeAdmin, d.pauseQueue),
			action("/ui/queues/{name}/resume", auth.ScopeAdmin, d.resumeQueue),
			action("/ui/devices/{id}/drain", auth.ScopeAdmin, d.drain),
			action("/ui/devices/{id}/undrain", auth.ScopeAdmin, d.undrain))
	}
	if d.opts.Workflows != nil {
		routes = append(routes,
			page("/ui/workflows", auth.ScopeRead, d.workflows),
			page("/ui/workflows/{id}", auth.ScopeRead, d.workflow),
			page("/ui/runs/{id}", auth.ScopeRead, d.run),
			action("/ui/workflows/{id}/run", auth.ScopeWrite, d.runWorkflow),
			action("/ui/runs/{id}/restart", auth.ScopeWrite, d.restartRun),
			action("/ui/runs/{id}/kill", auth.ScopeWrite, d.killRun))
	}
	if d.opts.Pools != nil {
		routes = append(routes,
			page("/ui/pools", auth.ScopeRead, d.pools),
			page("/ui/pools/{id}", auth.ScopeRead, d.pool))
	}
	return routes
}

// notFound answers the dashboard's unknown paths with its own page.
func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request) error {
	return domain.Errorf(domain.CodeNotFound, "there is no page here")
}
