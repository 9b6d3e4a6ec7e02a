// Package netpulse serves document 003, NetPulse's job API, on its own
// listener (--netpulse-port, 9000 by default): GET and DELETE /job, GET and
// DELETE /worker, GET /health and /metrics. It is a dialect: a route table,
// an envelope and a mapping of ids and states onto Drover's model; it owns
// no state and reads only the queue engine.
//
// The mapping (DESIGN.md §1): a job is a task (same id), a queue is a
// queue (FifoQ; pinned_{host} for a host), a worker is a worker (its name
// is its device id, its node is its hostname). Task states show as
// queued (pending, delayed included), started, finished, failed and
// cancelled; worker statuses as busy, idle, suspended and dead.
//
// Every answer, errors and auth refusals included, is the envelope
// {"code": <HTTP status>, "message": "success" or the error, "data": …};
// an error's data is {"error": <Drover's error code>, "details": {…}}.
// Times carry the server's UTC offset, as NetPulse's do.
//
// Precedence, as NetPulse resolves its filters:
//
//	GET /job        id, else one of queue > node > host, with status on top
//	DELETE /job     id, else queue > host (queued jobs only; a filter is required)
//	GET /worker     queue > node > host
//	DELETE /worker  name, else queue > node > host (a filter is required)
//
// A parameter given empty (?queue=) is a 400, not "no filter".
package netpulse

import (
	"net/http"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/queue"
)

// Deps are the engine services the dialect reads.
type Deps struct {
	Queues *queue.Service
	// Metrics serves the Prometheus registry (/metrics); nil leaves the route out.
	Metrics http.Handler
	// Location is the zone whose offset times are shown in; nil: the
	// server's local zone.
	Location *time.Location
}

// Response is the NetPulse envelope.
type Response struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// ErrorData is the data of an error answer.
type ErrorData struct {
	Error   string         `json:"error"`
	Details map[string]any `json:"details,omitempty"`
}

// WriteError answers err in the NetPulse envelope, with the HTTP status of
// its code (the same table as the native API's) as both the status and
// the envelope's code.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := httpapi.AsError(err)
	status := envelope.Status(e.Code)
	httpapi.WriteJSON(w, status, Response{Code: status, Message: e.Message, Data: ErrorData{Error: string(e.Code), Details: e.Details}})
}

// ok answers data with the route's success status.
func ok(w http.ResponseWriter, r *http.Request, data any) {
	status := http.StatusOK
	if rt := httpapi.RouteOf(r.Context()); rt != nil {
		status = rt.SuccessStatus()
	}
	httpapi.WriteJSON(w, status, Response{Code: status, Message: "success", Data: data})
}

type handlers struct {
	q   *queue.Service
	loc *time.Location
}

// Routes is the dialect's route table.
func Routes(deps Deps) []httpapi.Route {
	h := &handlers{q: deps.Queues, loc: deps.Location}
	if h.loc == nil {
		h.loc = time.Local
	}
	jobParams := []httpapi.Param{
		httpapi.Query("id", "string", "one job by id; every other filter is ignored"),
		httpapi.Query("queue", "string", "jobs of this queue (over node and host)"),
		httpapi.Query("status", "string", "jobs in this state", "queued", "started", "finished", "failed", "cancelled"),
		httpapi.Query("node", "string", "jobs run on a worker of this machine (over host)"),
		httpapi.Query("host", "string", "jobs for this target host: queue pinned_{host}"),
		httpapi.Query("limit", "integer", "at most this many jobs, newest first (default 100, at most 1000)"),
		httpapi.Query("offset", "integer", "skip this many jobs"),
	}
	workerParams := []httpapi.Param{
		httpapi.Query("queue", "string", "workers serving this queue (over node and host)"),
		httpapi.Query("node", "string", "workers on this machine (hostname; over host)"),
		httpapi.Query("host", "string", "workers serving this target host's queue pinned_{host}"),
	}
	routes := []httpapi.Route{
		{Method: "GET", Path: "/job", Tag: "netpulse", Summary: "Query jobs by id, queue, status, node or host",
			ID: "netpulseGetJobs", Params: jobParams, Response: []Job{}, Handler: h.getJobs},
		{Method: "DELETE", Path: "/job", Tag: "netpulse", Summary: "Cancel jobs that have not started, by id, queue or host",
			ID: "netpulseDeleteJobs", Params: jobParams[:3:3], Response: CancelledJobs{}, Handler: h.deleteJobs},
		{Method: "GET", Path: "/worker", Tag: "netpulse", Summary: "List workers with their status and job counts",
			ID: "netpulseGetWorkers", Params: workerParams, Response: []Worker{}, Handler: h.getWorkers},
		{Method: "DELETE", Path: "/worker", Access: httpapi.Admin, Tag: "netpulse", Summary: "Stop workers; their running jobs go back to their queues",
			ID: "netpulseDeleteWorkers", Params: append([]httpapi.Param{httpapi.Query("name", "string", "one worker by name; every other filter is ignored")}, workerParams...),
			Response: DeletedWorker{}, Handler: h.deleteWorkers},
		{Method: "GET", Path: "/health", Access: httpapi.Public, Tag: "netpulse", Summary: "Health of the API, the store, the workers and the queues",
			ID: "netpulseHealth", Response: HealthData{}, Also: []int{http.StatusServiceUnavailable}, Handler: h.health},
	}
	if deps.Metrics != nil {
		m := deps.Metrics
		routes = append(routes, httpapi.Route{Method: "GET", Path: "/metrics", Tag: "netpulse", ID: "netpulseMetrics",
			Summary: "Prometheus metrics (text exposition format), as on the main port", Raw: "text/plain; version=0.0.4",
			Handler: func(w http.ResponseWriter, r *http.Request) error { m.ServeHTTP(w, r); return nil }})
	}
	return routes
}

// badParam is a 400 naming the parameter.
func badParam(name, format string, args ...any) error {
	return domain.Errorf(domain.CodeValidation, format, args...).With("field", name)
}

// params reads the named query parameters: a parameter given empty is an
// error (an empty filter would silently select everything or nothing).
func params(r *http.Request, names ...string) (map[string]string, error) {
	q := r.URL.Query()
	out := make(map[string]string, len(names))
	for _, n := range names {
		vs, given := q[n]
		if !given {
			continue
		}
		if len(vs) != 1 || vs[0] == "" {
			return nil, badParam(n, "%s must be given once and not be empty", n)
		}
		out[n] = vs[0]
	}
	return out, nil
}

// first is the value of the first of names that is set, and its name.
func first(p map[string]string, names ...string) (string, string) {
	for _, n := range names {
		if v, ok := p[n]; ok {
			return n, v
		}
	}
	return "", ""
}
