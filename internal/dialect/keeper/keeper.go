// Package keeper is the Keeper control interface of document 002 (Qross
// Keeper's REST interface) over Drover's workflow engine: a route table, an
// envelope and an id mapping, and no state. Keeper's job is a workflow, its
// task (task record) a run, its action a step run; all are addressed by
// integer ids. Every endpoint takes PUT but `/` and `/task/logs` (GET), and
// answers the upstream shapes: a bare number for the system endpoints,
// {"id","status","recordTime"} for a restart, {"id","recordTime"} for an
// instant run, {"actions":[…]} for kills and {"logs":[…],"cursor":N} for logs.
//
// The token rule: with auth on, every endpoint but `/` needs a key (the
// `token` query parameter or header, or any form the native API takes),
// checked by the same mechanism and scopes as the native API; a refusal is
// HTTP 401 with the body `Access Denied.`.
package keeper

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/workflow"
)

// Deps are the engine services the dialect calls.
type Deps struct {
	Workflows *workflow.Engine
}

// RecordTimeLayout is how Keeper writes a task record's time (server local time).
const RecordTimeLayout = "2006-01-02 15:04:05"

// AccessDenied is the body of every authentication or authorization refusal.
const AccessDenied = "Access Denied."

// Answer shapes (upstream Keeper).
type (
	// RestartAnswer is what a restart returns.
	RestartAnswer struct {
		ID         int64  `json:"id"`
		Status     string `json:"status"`
		RecordTime string `json:"recordTime"`
	}
	// InstantAnswer is what an instant run returns.
	InstantAnswer struct {
		ID         int64  `json:"id"`
		RecordTime string `json:"recordTime"`
	}
	// KillAnswer lists the interrupted actions.
	KillAnswer struct {
		Actions []int64 `json:"actions"`
	}
	// ActionKillAnswer is the killed action's id, or 0.
	ActionKillAnswer struct {
		Actions int64 `json:"actions"`
	}
	// LogLine is one line of a task's log.
	LogLine struct {
		ActionID int64  `json:"actionId"`
		Step     string `json:"step"`
		Time     string `json:"time"`
		Level    string `json:"level"`
		Stream   string `json:"stream"`
		Text     string `json:"text"`
	}
	// LogsAnswer is a page of logs and where the next starts.
	LogsAnswer struct {
		Logs   []LogLine `json:"logs"`
		Cursor int       `json:"cursor"`
	}
	// ErrorAnswer is a refused request other than for its token.
	ErrorAnswer struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
)

// WriteError answers err: `Access Denied.` with 401 for a missing, wrong or
// insufficient key, else {"error","message"} with the status of its code.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := httpapi.AsError(err)
	status := envelope.Status(e.Code)
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, AccessDenied)
		return
	}
	httpapi.WriteJSON(w, status, ErrorAnswer{Error: string(e.Code), Message: e.Message})
}

// ok writes a success answer in Keeper's bare JSON.
func ok(w http.ResponseWriter, v any) error {
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

func recordTime(t time.Time) string { return t.Local().Format(RecordTimeLayout) }

func bad(format string, args ...any) *domain.Error {
	return domain.Errorf(domain.CodeValidation, format, args...)
}

// pathID is a positive integer path value.
func pathID(r *http.Request, name string) (int64, error) {
	raw := r.PathValue(name)
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, bad("%s '%s' is not a positive integer", name, raw).With("field", name)
	}
	return n, nil
}

// intQuery is an integer query parameter with a default.
func intQuery(r *http.Request, name string, def int64) (int64, error) {
	raw := strings.TrimSpace(r.URL.Query().Get(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0, bad("%s '%s' is not a non-negative integer", name, raw).With("field", name)
	}
	return n, nil
}

func required(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", bad("parameter %s is required", name).With("field", name)
	}
	return v, nil
}

// Routes is the dialect's route table.
func Routes(d Deps) []httpapi.Route {
	h := &handlers{wf: d.Workflows}
	q := httpapi.Query
	restartParams := []httpapi.Param{
		q("more", "string", "WHOLE (a new task record), EXCEPTIONAL (failed actions on), or a comma-separated list of action ids"),
		q("option", "string", "the same as more (Keeper's code names it so); default WHOLE"),
		q("starter", "integer", "user id of who restarted it (default 0)")}
	one := int64(1)
	tag := "keeper"
	return []httpapi.Route{
		{Method: "GET", Path: "/{$}", Access: httpapi.Public, Tag: tag, Summary: "Whether Keeper and its REST service work", Raw: "text/plain", Handler: h.root},
		{Method: "PUT", Path: "/global/set", Tag: tag, Summary: "Set a global variable (name, value); always 1", Response: one,
			Params: []httpapi.Param{q("name", "string", "the variable"), q("value", "string", "its value")}, Handler: h.globalSet},
		{Method: "PUT", Path: "/task/restart/{taskId}", Tag: tag, Summary: "Restart a task (run)", Params: restartParams, Response: RestartAnswer{}, Handler: h.restart},
		{Method: "PUT", Path: "/task/restrat/{taskId}", ID: "restartTypo", Tag: tag, Summary: "Restart a task (run): the path as document 002 spells it",
			Params: restartParams, Response: RestartAnswer{}, Handler: h.restart},
		{Method: "PUT", Path: "/task/restart", Tag: tag, Summary: "Restart several tasks (taskIds=1,2,3)", Response: []RestartAnswer{},
			Params: append([]httpapi.Param{q("taskIds", "string", "comma-separated task ids")}, restartParams...), Handler: h.restartMany},
		{Method: "PUT", Path: "/task/instant/{jobId}", Tag: tag, Summary: "Create a task record of a job and run it now", Response: InstantAnswer{},
			Params: []httpapi.Param{q("creator", "integer", "user id (default 0)"), q("delay", "integer", "seconds before it runs, 0-60 (default 0)"),
				q("ignore", "string", "ignore upstream job dependencies", "no", "yes")}, Handler: h.instant},
		{Method: "PUT", Path: "/task/kill/{taskId}", Tag: tag, Summary: "Kill a running task; the interrupted action ids", Response: KillAnswer{}, Handler: h.killTask},
		{Method: "PUT", Path: "/kill/task/{taskId}", ID: "killTaskAlt", Tag: tag, Summary: "Kill a running task (the example's path)", Response: KillAnswer{}, Handler: h.killTask},
		{Method: "GET", Path: "/task/logs", Tag: tag, Summary: "A page of a task's logs (at most 100 lines) and the next cursor", Response: LogsAnswer{},
			Params: []httpapi.Param{q("jobId", "integer", "the job"), q("taskId", "integer", "the task"),
				q("recordTime", "string", "the task record's time, yyyy-MM-dd HH:mm:ss"),
				q("actionId", "integer", "one action's logs (default 0: all)"), q("cursor", "integer", "position reached (default 0)"),
				q("mode", "string", "which lines", "all", "debug", "error")}, Handler: h.logs},
		{Method: "PUT", Path: "/job/kill/{jobId}", Tag: tag, Summary: "Kill every running task of a job", Response: KillAnswer{}, Handler: h.killJob},
		{Method: "PUT", Path: "/action/kill/{actionId}", Tag: tag, Summary: "Kill a running action; its id, or 0", Response: ActionKillAnswer{}, Handler: h.killAction},
		{Method: "PUT", Path: "/configurations/reload", Tag: tag, Summary: "Reload connections, functions and variables; always 1", Response: one, Handler: h.reload},
		{Method: "PUT", Path: "/connection/setup/{connectionId}", Access: httpapi.Admin, Tag: tag, Summary: "Reload one connection; 1",
			Response: one, Handler: h.connectionSetup},
		{Method: "PUT", Path: "/connection/remove/{connectionId}", Access: httpapi.Admin, Tag: tag, Summary: "Remove one connection; 1",
			Response: one, Handler: h.connectionRemove},
		{Method: "PUT", Path: "/function/renew", Tag: tag, Summary: "Reload one function (template); 1", Response: one,
			Params: []httpapi.Param{q("function_name", "string", "the template")}, Handler: h.renew(domain.ObjectTemplate, "function_name")},
		{Method: "PUT", Path: "/function/remove", Tag: tag, Summary: "Remove one function (template); 1", Response: one,
			Params: []httpapi.Param{q("function_name", "string", "the template")}, Handler: h.remove(domain.ObjectTemplate, "function_name")},
		{Method: "PUT", Path: "/variable/renew", Tag: tag, Summary: "Reload one global variable; 1", Response: one,
			Params: []httpapi.Param{q("variable_name", "string", "the variable")}, Handler: h.renew(domain.ObjectVariable, "variable_name")},
		{Method: "PUT", Path: "/variable/remove", Tag: tag, Summary: "Remove one global variable; 1", Response: one,
			Params: []httpapi.Param{q("variable_name", "string", "the variable")}, Handler: h.remove(domain.ObjectVariable, "variable_name")},
	}
}

type handlers struct {
	wf *workflow.Engine
}

func (h *handlers) root(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Keeper is running.")
	return nil
}

func (h *handlers) globalSet(w http.ResponseWriter, r *http.Request) error {
	name, err := required(r, "name")
	if err != nil {
		return err
	}
	if _, ok := r.URL.Query()["value"]; !ok {
		return bad("parameter value is required").With("field", "value")
	}
	if _, err := h.wf.SetVariable(r.Context(), name, r.URL.Query().Get("value")); err != nil {
		return err
	}
	return ok(w, 1)
}

// restartMode reads more (or option): WHOLE, EXCEPTIONAL or action ids.
func restartMode(r *http.Request) (string, []int64, error) {
	q := r.URL.Query()
	raw := q.Get("more")
	if raw == "" {
		raw = q.Get("option")
	}
	raw = strings.TrimSpace(raw)
	switch strings.ToUpper(raw) {
	case "", "WHOLE":
		return workflow.RestartWhole, nil, nil
	case "EXCEPTIONAL":
		return workflow.RestartExceptional, nil, nil
	}
	var ids []int64
	for part := range strings.SplitSeq(raw, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || n <= 0 {
			return "", nil, bad("more '%s' is not WHOLE, EXCEPTIONAL or a comma-separated list of action ids", raw).With("field", "more")
		}
		ids = append(ids, n)
	}
	return workflow.RestartSteps, ids, nil
}

func (h *handlers) restartOne(r *http.Request, id int64, mode string, ids []int64, starter int64) (RestartAnswer, error) {
	run, err := h.wf.Restart(r.Context(), auth.ActorOf(r), id, mode, ids, starter)
	if err != nil {
		return RestartAnswer{}, err
	}
	return RestartAnswer{ID: run.ID, Status: string(run.State), RecordTime: recordTime(run.CreatedAt)}, nil
}

func (h *handlers) restart(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "taskId")
	if err != nil {
		return err
	}
	mode, ids, err := restartMode(r)
	if err != nil {
		return err
	}
	starter, err := intQuery(r, "starter", 0)
	if err != nil {
		return err
	}
	a, err := h.restartOne(r, id, mode, ids, starter)
	if err != nil {
		return err
	}
	return ok(w, a)
}

func (h *handlers) restartMany(w http.ResponseWriter, r *http.Request) error {
	raw, err := required(r, "taskIds")
	if err != nil {
		return err
	}
	var ids []int64
	for part := range strings.SplitSeq(raw, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || n <= 0 {
			return bad("taskIds '%s' is not a comma-separated list of task ids", raw).With("field", "taskIds")
		}
		ids = append(ids, n)
	}
	mode, actions, err := restartMode(r)
	if err != nil {
		return err
	}
	starter, err := intQuery(r, "starter", 0)
	if err != nil {
		return err
	}
	// Check every id first, so an unknown one changes nothing.
	for _, id := range ids {
		if _, err := h.wf.Run(r.Context(), id); err != nil {
			return err
		}
	}
	out := make([]RestartAnswer, 0, len(ids))
	for _, id := range ids {
		a, err := h.restartOne(r, id, mode, actions, starter)
		if err != nil {
			return err
		}
		out = append(out, a)
	}
	return ok(w, out)
}

func (h *handlers) instant(w http.ResponseWriter, r *http.Request) error {
	job, err := pathID(r, "jobId")
	if err != nil {
		return err
	}
	creator, err := intQuery(r, "creator", 0)
	if err != nil {
		return err
	}
	delay, err := intQuery(r, "delay", 0)
	if err != nil {
		return err
	}
	if delay > 60 {
		return bad("delay must be between 0 and 60 seconds, not %d", delay).With("field", "delay")
	}
	var ignore bool
	switch strings.ToLower(r.URL.Query().Get("ignore")) {
	case "", "no":
	case "yes":
		ignore = true
	default:
		return bad("ignore must be yes or no").With("field", "ignore")
	}
	run, err := h.wf.RunNow(r.Context(), job, workflow.RunOptions{Delay: time.Duration(delay) * time.Second, IgnoreDeps: ignore, Creator: creator, Actor: auth.ActorOf(r)})
	if err != nil {
		return err
	}
	return ok(w, InstantAnswer{ID: run.ID, RecordTime: recordTime(run.CreatedAt)})
}

func (h *handlers) killTask(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "taskId")
	if err != nil {
		return err
	}
	ids, err := h.wf.KillRun(r.Context(), id)
	if err != nil {
		return err
	}
	return ok(w, KillAnswer{Actions: ids})
}

func (h *handlers) killJob(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "jobId")
	if err != nil {
		return err
	}
	ids, err := h.wf.KillWorkflow(r.Context(), id)
	if err != nil {
		return err
	}
	return ok(w, KillAnswer{Actions: ids})
}

func (h *handlers) killAction(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "actionId")
	if err != nil {
		return err
	}
	killed, err := h.wf.KillAction(r.Context(), id)
	if err != nil {
		return err
	}
	return ok(w, ActionKillAnswer{Actions: killed})
}

// runOf finds the task (run) a logs request names: by taskId, else by
// jobId and recordTime (the latest run of the job without recordTime).
func (h *handlers) runOf(r *http.Request) (int64, error) {
	task, err := intQuery(r, "taskId", 0)
	if err != nil {
		return 0, err
	}
	job, err := intQuery(r, "jobId", 0)
	if err != nil {
		return 0, err
	}
	rt := r.URL.Query().Get("recordTime")
	if rt != "" {
		if _, err := time.ParseInLocation(RecordTimeLayout, rt, time.Local); err != nil {
			return 0, bad("recordTime '%s' is not yyyy-MM-dd HH:mm:ss", rt).With("field", "recordTime")
		}
	}
	if task != 0 {
		run, err := h.wf.Run(r.Context(), task)
		if err != nil {
			return 0, err
		}
		if job != 0 && run.WorkflowID != job {
			return 0, domain.Errorf(domain.CodeNotFound, "task %d is not a task of job %d", task, job)
		}
		return task, nil
	}
	if job == 0 {
		return 0, nil // the action names its run
	}
	runs, err := h.wf.Runs(r.Context(), workflow.RunFilter{WorkflowID: job, Limit: 1000})
	if err != nil {
		return 0, err
	}
	for _, run := range runs {
		if rt == "" || recordTime(run.CreatedAt) == rt {
			return run.ID, nil
		}
	}
	return 0, domain.Errorf(domain.CodeNotFound, "job %d has no task recorded at '%s'", job, rt)
}

func (h *handlers) logs(w http.ResponseWriter, r *http.Request) error {
	run, err := h.runOf(r)
	if err != nil {
		return err
	}
	action, err := intQuery(r, "actionId", 0)
	if err != nil {
		return err
	}
	cursor, err := intQuery(r, "cursor", 0)
	if err != nil {
		return err
	}
	if cursor > 1<<31 {
		return bad("cursor is out of range").With("field", "cursor")
	}
	if run == 0 && action == 0 {
		return bad("name the task: taskId, or jobId (and recordTime), or actionId")
	}
	page, err := h.wf.Logs(r.Context(), workflow.LogQuery{RunID: run, ActionID: action, Cursor: int(cursor), Level: r.URL.Query().Get("mode")})
	if err != nil {
		return err
	}
	out := LogsAnswer{Logs: make([]LogLine, len(page.Lines)), Cursor: page.Cursor}
	for i, l := range page.Lines {
		out.Logs[i] = LogLine{ActionID: l.ActionID, Step: l.Step, Time: recordTime(l.Time), Level: l.Level, Stream: l.Stream, Text: l.Message}
	}
	return ok(w, out)
}

func (h *handlers) reload(w http.ResponseWriter, r *http.Request) error {
	if err := h.wf.Reload(r.Context()); err != nil {
		return err
	}
	return ok(w, 1)
}

func (h *handlers) connectionSetup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "connectionId")
	if err != nil {
		return err
	}
	if _, err := h.wf.ObjectByID(r.Context(), domain.ObjectConnection, id); err != nil {
		return err
	}
	if err := h.wf.Reload(r.Context()); err != nil {
		return err
	}
	return ok(w, 1)
}

func (h *handlers) connectionRemove(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "connectionId")
	if err != nil {
		return err
	}
	c, err := h.wf.ObjectByID(r.Context(), domain.ObjectConnection, id)
	if err != nil {
		return err
	}
	if err := h.wf.DeleteObject(r.Context(), domain.ObjectConnection, c.Name); err != nil {
		return err
	}
	return ok(w, 1)
}

// renew reloads one object: nothing is cached, so it checks the object
// exists and answers 1.
func (h *handlers) renew(kind, param string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := required(r, param)
		if err != nil {
			return err
		}
		if kind == domain.ObjectTemplate {
			_, err = h.wf.Template(r.Context(), name)
		} else {
			_, err = h.wf.Variable(r.Context(), name)
		}
		if err != nil {
			return err
		}
		return ok(w, 1)
	}
}

func (h *handlers) remove(kind, param string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := required(r, param)
		if err != nil {
			return err
		}
		if err := h.wf.DeleteObject(r.Context(), kind, name); err != nil {
			return err
		}
		return ok(w, 1)
	}
}
