package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/drover-run/drover/internal/domain"
)

// Access says who may call a route when authentication is on.
type Access string

const (
	// Public routes need no key and are not rate-limited: health checks.
	Public Access = "public"
	Read   Access = "read"
	Write  Access = "write"
	Admin  Access = "admin"
)

// Route is the one declaration of a route. The router serves it, the
// authorization policy reads its Access, and the OpenAPI document is
// rendered from the rest, so the three cannot drift apart.
type Route struct {
	Method string // "GET", "POST", …
	Path   string // a net/http ServeMux path pattern: "/api/v1/tasks/{id}"
	// Access is who may call it; empty means Read for GET and HEAD, Write
	// for every other method.
	Access Access

	// ID is the OpenAPI operationId; empty: the handler's method name.
	ID      string
	Summary string
	Tag     string
	Params  []Param
	// Request and Response are zero values of the body's type and of the
	// answer's data type, or nil (no body; an untyped object).
	Request, Response any
	// Partial: the body may hold any subset of Request's fields.
	Partial bool
	// BodyOptional: the body may be left out.
	BodyOptional bool
	// Status is the success status; 0 means 200. Also lists the other
	// success statuses it may answer (200 for an idempotent replay of a
	// 201). The router checks every 2xx it answers is one of them.
	Status int
	Also   []int
	// Raw is the content type when the answer is not the listener's JSON
	// envelope (an event stream, Prometheus text).
	Raw string
	// Errors overrides the listener's error format for this route (a
	// dialect route on another dialect's listener); nil: the listener's.
	Errors ErrorFunc

	Handler func(w http.ResponseWriter, r *http.Request) error
}

// Pattern is the route's ServeMux pattern, "METHOD path".
func (rt *Route) Pattern() string { return rt.Method + " " + rt.Path }

// SuccessStatus is the declared success status.
func (rt *Route) SuccessStatus() int {
	if rt.Status == 0 {
		return http.StatusOK
	}
	return rt.Status
}

// Declares reports whether status is one of the route's success statuses.
func (rt *Route) Declares(status int) bool {
	return status == rt.SuccessStatus() || slices.Contains(rt.Also, status)
}

// EffectiveAccess resolves the empty Access by method.
func (rt *Route) EffectiveAccess() Access {
	if rt.Access != "" {
		return rt.Access
	}
	switch rt.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return Read
	}
	return Write
}

// Param documents a query or header parameter.
type Param struct {
	Name, In, Type, Desc string
	Enum                 []string
}

// Query documents a query parameter of type typ ("string", "integer", "boolean").
func Query(name, typ, desc string, enum ...string) Param {
	return Param{Name: name, In: "query", Type: typ, Desc: desc, Enum: enum}
}

// Router serves declared routes, and answers through the listener's
// ErrorFunc paths it does not serve (404) and methods a path does not take
// (405, with Allow).
type Router struct {
	mux    *http.ServeMux
	errs   ErrorFunc
	log    *slog.Logger // set by Build: a route's own error format is logged too
	routes []*Route
	// Undeclared, when set, hears of every 2xx a route answers that it
	// does not declare; tests fail on it.
	Undeclared func(rt *Route, status int)
}

// NewRouter makes an empty router answering errors through errs.
func NewRouter(errs ErrorFunc) *Router {
	return &Router{mux: http.NewServeMux(), errs: errs}
}

// Add serves routes.
func (rt *Router) Add(routes ...Route) {
	for i := range routes {
		route := &routes[i]
		errs := rt.errs
		if route.Errors != nil {
			errs = route.Errors
			if rt.log != nil {
				errs = logInternal(rt.log, errs)
			}
		}
		rt.mux.HandleFunc(route.Pattern(), func(w http.ResponseWriter, r *http.Request) {
			r = r.WithContext(context.WithValue(r.Context(), routeKey, route))
			if rt.Undeclared != nil {
				w = &statusCheck{ResponseWriter: w, route: route, report: rt.Undeclared}
			}
			if err := route.Handler(w, r); err != nil {
				errs(w, r, err)
			}
		})
		rt.routes = append(rt.routes, route)
	}
}

// Routes lists the served routes in the order they were added.
func (rt *Router) Routes() []Route {
	out := make([]Route, len(rt.routes))
	for i, r := range rt.routes {
		out[i] = *r
	}
	return out
}

// ServeHTTP dispatches to the routes. The mux answers unknown paths (404)
// and known paths with a wrong method (405) itself, in plain text; those
// answers are replaced by the listener's error format (keeping Allow).
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The mux would answer a path that is not canonical (//api//v1) with an
	// HTML redirect; a client of an API is better told where to go.
	if p := r.URL.Path; p != "" && path.Clean(p) != p && !(strings.HasSuffix(p, "/") && path.Clean(p)+"/" == p) {
		rt.errs(w, r, domain.Errorf(domain.CodeNotFound, "no route %s %s", r.Method, p).
			With("path", p).With("did_you_mean", path.Clean(p)))
		return
	}
	if _, pattern := rt.mux.Handler(r); pattern == "" {
		w = &muxAnswer{ResponseWriter: w, r: r, errs: rt.errs}
	}
	rt.mux.ServeHTTP(w, r)
}

// muxAnswer rewrites the mux's own 404 and 405.
type muxAnswer struct {
	http.ResponseWriter
	r        *http.Request
	errs     ErrorFunc
	replaced bool
}

func (m *muxAnswer) WriteHeader(code int) {
	var err *domain.Error
	switch code {
	case http.StatusNotFound:
		err = domain.Errorf(domain.CodeNotFound, "no route %s %s", m.r.Method, m.r.URL.Path).With("path", m.r.URL.Path)
	case http.StatusMethodNotAllowed:
		err = domain.Errorf(domain.CodeMethodNotAllowed, "%s is not allowed on %s", m.r.Method, m.r.URL.Path).
			With("allow", strings.Split(m.Header().Get("Allow"), ", "))
	default:
		m.ResponseWriter.WriteHeader(code)
		return
	}
	m.replaced = true
	m.Header().Del("X-Content-Type-Options")
	m.errs(m.ResponseWriter, m.r, err)
}

func (m *muxAnswer) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

// statusCheck reports a 2xx the route does not declare.
type statusCheck struct {
	http.ResponseWriter
	route  *Route
	report func(*Route, int)
}

func (s *statusCheck) WriteHeader(code int) {
	if code >= 200 && code < 300 && !s.route.Declares(code) {
		s.report(s.route, code)
	}
	s.ResponseWriter.WriteHeader(code)
}

// Flush lets event streams through the check.
func (s *statusCheck) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusCheck) Unwrap() http.ResponseWriter { return s.ResponseWriter }
