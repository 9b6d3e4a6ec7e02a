package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/envelope"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/workflow"
)

// workflowRoutes are workflows, runs, variables, connections and templates
// (issue 9); absent when the server has no workflow engine.
func (s *Server) workflowRoutes() []httpapi.Route {
	if s.workflows == nil {
		return nil
	}
	id := httpapi.Query
	return []httpapi.Route{
		{Method: "POST", Path: "/api/v1/workflows", Tag: "workflows", Summary: "Create a workflow (a DAG of steps, maybe on cron)",
			Request: api.CreateWorkflowRequest{}, Response: api.WorkflowResponse{}, Status: http.StatusCreated, Handler: s.createWorkflow},
		{Method: "GET", Path: "/api/v1/workflows", Tag: "workflows", Summary: "List workflows", Response: api.WorkflowList{},
			Params: []httpapi.Param{id("limit", "integer", "page size (default 100)"), id("offset", "integer", "page start")}, Handler: s.listWorkflows},
		{Method: "GET", Path: "/api/v1/workflows/{id}", Tag: "workflows", Summary: "A workflow", Response: api.WorkflowResponse{}, Handler: s.getWorkflow},
		{Method: "DELETE", Path: "/api/v1/workflows/{id}", Tag: "workflows", Summary: "Kill a workflow's runs and delete it with them",
			Response: api.DeleteWorkflowResponse{}, Handler: s.deleteWorkflow},
		{Method: "POST", Path: "/api/v1/workflows/{id}/runs", Tag: "workflows", Summary: "Run a workflow now (delay 0-60 s)",
			Request: api.RunWorkflowRequest{}, BodyOptional: true, Response: api.RunResponse{}, Status: http.StatusCreated, Handler: s.runWorkflow},
		{Method: "POST", Path: "/api/v1/workflows/{id}/kill", Tag: "workflows", Summary: "Kill every active run of a workflow",
			Response: api.KillResponse{}, Handler: s.killWorkflow},
		{Method: "GET", Path: "/api/v1/runs", Tag: "runs", Summary: "List runs, newest first", Response: api.RunList{},
			Params: []httpapi.Param{id("workflow_id", "integer", "runs of this workflow"),
				id("status", "string", "filter by status", "waiting", "running", "completed", "failed", "killed"),
				id("limit", "integer", "page size (default 50)"), id("offset", "integer", "page start")}, Handler: s.listRuns},
		{Method: "GET", Path: "/api/v1/runs/{id}", Tag: "runs", Summary: "A run with its steps, and why any failed", Response: api.RunResponse{}, Handler: s.getRun},
		{Method: "POST", Path: "/api/v1/runs/{id}/restart", Tag: "runs", Summary: "Restart a run: whole (a new run), failed or steps (same run)",
			Request: api.RestartRunRequest{}, Response: api.RunResponse{}, Handler: s.restartRun},
		{Method: "POST", Path: "/api/v1/runs/{id}/kill", Tag: "runs", Summary: "Kill a run", Response: api.KillResponse{}, Handler: s.killRun},
		{Method: "POST", Path: "/api/v1/actions/{id}/kill", Tag: "runs", Summary: "Kill one step of a run", Response: api.KillResponse{}, Handler: s.killAction},
		{Method: "GET", Path: "/api/v1/runs/{id}/logs", Tag: "runs", Summary: "A page of a run's log (at most 100 lines) and the next cursor",
			Response: api.RunLogs{}, Params: []httpapi.Param{id("cursor", "integer", "lines already read (default 0)"),
				id("limit", "integer", "at most this many lines (1-100, default 100)"),
				id("level", "string", "which lines", "all", "debug", "error"), id("action_id", "integer", "one step's lines")},
			Handler: s.runLogs},
		{Method: "GET", Path: "/api/v1/variables", Tag: "variables", Summary: "List variables", Response: api.VariableList{}, Handler: s.listVariables},
		{Method: "PUT", Path: "/api/v1/variables/{name}", Tag: "variables", Summary: "Set a variable (${NAME} in step specs)",
			Request: api.SetVariableRequest{}, Response: api.Variable{}, Handler: s.setVariable},
		{Method: "DELETE", Path: "/api/v1/variables/{name}", Tag: "variables", Summary: "Delete a variable", Response: api.Variable{}, Handler: s.deleteVariable},
		{Method: "GET", Path: "/api/v1/connections", Tag: "connections", Summary: "List connections (never their values)", Access: httpapi.Admin,
			Response: api.ConnectionList{}, Handler: s.listConnections},
		{Method: "PUT", Path: "/api/v1/connections/{name}", Tag: "connections", Summary: "Set a connection: a secret handed to steps as environment",
			Access: httpapi.Admin, Request: api.SetConnectionRequest{}, Response: api.Connection{}, Handler: s.setConnection},
		{Method: "DELETE", Path: "/api/v1/connections/{name}", Tag: "connections", Summary: "Delete a connection", Access: httpapi.Admin,
			Response: api.Connection{}, Handler: s.deleteConnection},
		{Method: "GET", Path: "/api/v1/templates", Tag: "templates", Summary: "List templates", Response: api.TemplateList{}, Handler: s.listTemplates},
		{Method: "PUT", Path: "/api/v1/templates/{name}", Tag: "templates", Summary: "Set a template: a reusable step spec",
			Request: api.WorkflowStep{}, Response: api.Template{}, Handler: s.setTemplate},
		{Method: "DELETE", Path: "/api/v1/templates/{name}", Tag: "templates", Summary: "Delete a template", Response: api.Template{}, Handler: s.deleteTemplate},
	}
}

// intPath is a positive integer path value.
func intPath(r *http.Request, name string) (int64, error) {
	raw := r.PathValue(name)
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, domain.Errorf(domain.CodeValidation, "%s '%s' is not a positive integer", name, raw).With("field", name)
	}
	return n, nil
}

func toDomainStep(s api.WorkflowStep) domain.Step {
	d := domain.Step{Name: s.Name, Template: s.Template, TaskType: s.TaskType, Payload: s.Payload, DependsOn: s.DependsOn,
		Queue: s.Queue, Priority: s.Priority, TimeoutSeconds: s.Timeout, MaxRetries: s.MaxRetries, Connections: s.Connections}
	if rq := s.Requirements; rq != nil {
		d.Requirements = domain.Requirements{MinCPUCores: rq.MinCPUCores, MinMemoryGB: rq.MinMemoryGB, Platform: rq.Platform, Role: rq.Role, Labels: rq.Labels}
	}
	return d
}

func toAPIStep(s domain.Step) api.WorkflowStep {
	a := api.WorkflowStep{Name: s.Name, Template: s.Template, TaskType: s.TaskType, Payload: s.Payload, DependsOn: s.DependsOn,
		Queue: s.Queue, Priority: s.Priority, Timeout: s.TimeoutSeconds, MaxRetries: s.MaxRetries, Connections: s.Connections}
	if !s.Requirements.IsZero() {
		rq := s.Requirements
		a.Requirements = &api.Requirements{MinCPUCores: rq.MinCPUCores, MinMemoryGB: rq.MinMemoryGB, Platform: rq.Platform, Role: rq.Role, Labels: rq.Labels}
	}
	return a
}

func toAPIWorkflow(w *domain.Workflow) api.Workflow {
	out := api.Workflow{ID: w.ID, Name: w.Name, Schedule: w.Schedule, Timezone: w.Timezone, Overlap: w.Overlap,
		DependsOn: w.DependsOn, NextFireAt: timePtr(w.NextFireAt), CreatedAt: w.CreatedAt, Steps: make([]api.WorkflowStep, len(w.Steps))}
	if out.DependsOn == nil {
		out.DependsOn = []int64{}
	}
	for i, s := range w.Steps {
		out.Steps[i] = toAPIStep(s)
	}
	return out
}

// ToAPIRun converts a run (with its failures, when given).
func ToAPIRun(r *domain.Run, failures []workflow.StepFailure) api.Run {
	out := api.Run{ID: r.ID, WorkflowID: r.WorkflowID, WorkflowName: r.WorkflowName, Status: string(r.State), Trigger: r.Trigger,
		Tick: timePtr(r.Tick), DelaySeconds: int(r.Delay / time.Second), RestartOf: r.RestartOf, CreatedAt: r.CreatedAt, FinishedAt: timePtr(r.FinishedAt)}
	for _, a := range r.Actions {
		out.Steps = append(out.Steps, api.RunStep{ActionID: a.ID, Name: a.Step, Status: string(a.State), TaskID: a.TaskID, Generation: a.Generation})
	}
	for _, f := range failures {
		tail := f.LogTail
		if tail == nil {
			tail = []string{}
		}
		out.Failures = append(out.Failures, api.StepFailure{ActionID: f.ActionID, Step: f.Step, TaskID: f.TaskID, ExitCode: f.ExitCode, Error: f.Error, LogTail: tail})
	}
	return out
}

func (s *Server) createWorkflow(w http.ResponseWriter, r *http.Request) error {
	var req api.CreateWorkflowRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	wf := &domain.Workflow{Name: req.Name, Schedule: req.Schedule, Timezone: req.Timezone, Overlap: req.Overlap, DependsOn: req.DependsOn}
	for _, st := range req.Steps {
		wf.Steps = append(wf.Steps, toDomainStep(st))
	}
	created, err := s.workflows.Create(r.Context(), auth.ActorOf(r), wf)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.WorkflowResponse{Workflow: toAPIWorkflow(created)}, "workflow created")
	return nil
}

func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := httpapi.IntParam(q.Get("limit"), "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	offset, err := httpapi.IntParam(q.Get("offset"), "offset", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	ws, err := s.workflows.Workflows(r.Context(), limit, offset)
	if err != nil {
		return err
	}
	out := api.WorkflowList{Workflows: make([]api.Workflow, len(ws)), Total: len(ws)}
	for i, wf := range ws {
		out.Workflows[i] = toAPIWorkflow(wf)
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	wf, err := s.workflows.Workflow(r.Context(), id)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.WorkflowResponse{Workflow: toAPIWorkflow(wf)}, "")
	return nil
}

func (s *Server) deleteWorkflow(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	killed, err := s.workflows.KillWorkflow(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.workflows.Delete(r.Context(), id); err != nil {
		return err
	}
	envelope.OK(w, r, api.DeleteWorkflowResponse{Deleted: id, InterruptedActions: killed}, "workflow deleted")
	return nil
}

func (s *Server) runWorkflow(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	var req api.RunWorkflowRequest
	if err := httpapi.Decode(w, r, &req, true); err != nil {
		return err
	}
	run, err := s.workflows.RunNow(r.Context(), id, workflow.RunOptions{Delay: time.Duration(req.DelaySeconds) * time.Second,
		IgnoreDeps: req.IgnoreDependencies, Creator: req.Creator, Actor: auth.ActorOf(r)})
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.RunResponse{Run: ToAPIRun(run, nil)}, "run started")
	return nil
}

func (s *Server) killWorkflow(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	ids, err := s.workflows.KillWorkflow(r.Context(), id)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.KillResponse{InterruptedActions: ids}, "")
	return nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := httpapi.IntParam(q.Get("limit"), "limit", 50, 1, 1000)
	if err != nil {
		return err
	}
	offset, err := httpapi.IntParam(q.Get("offset"), "offset", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	p := workflow.RunFilter{Limit: limit, Offset: offset}
	if raw := q.Get("workflow_id"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return domain.Errorf(domain.CodeValidation, "workflow_id '%s' is not a positive integer", raw).With("field", "workflow_id")
		}
		p.WorkflowID = n
	}
	switch st := domain.RunState(q.Get("status")); st {
	case "", "all":
	case domain.RunWaiting, domain.RunRunning, domain.RunCompleted, domain.RunFailed, domain.RunKilled:
		p.States = []domain.RunState{st}
	default:
		return domain.Errorf(domain.CodeValidation, "status '%s' is not one of waiting, running, completed, failed, killed", st).With("field", "status")
	}
	runs, err := s.workflows.Runs(r.Context(), p)
	if err != nil {
		return err
	}
	out := api.RunList{Runs: make([]api.Run, len(runs)), Total: len(runs)}
	for i, run := range runs {
		out.Runs[i] = ToAPIRun(run, nil)
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	run, err := s.workflows.Run(r.Context(), id)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.RunResponse{Run: ToAPIRun(run, s.workflows.Failures(r.Context(), run))}, "")
	return nil
}

func (s *Server) restartRun(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	var req api.RestartRunRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	run, err := s.workflows.Restart(r.Context(), auth.ActorOf(r), id, req.Mode, req.Steps, req.Starter)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.RunResponse{Run: ToAPIRun(run, nil)}, "run restarted")
	return nil
}

func (s *Server) killRun(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	ids, err := s.workflows.KillRun(r.Context(), id)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.KillResponse{InterruptedActions: ids}, "")
	return nil
}

func (s *Server) killAction(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	killed, err := s.workflows.KillAction(r.Context(), id)
	if err != nil {
		return err
	}
	ids := []int64{}
	if killed != 0 {
		ids = append(ids, killed)
	}
	envelope.OK(w, r, api.KillResponse{InterruptedActions: ids}, "")
	return nil
}

func (s *Server) runLogs(w http.ResponseWriter, r *http.Request) error {
	id, err := intPath(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cursor, err := httpapi.IntParam(q.Get("cursor"), "cursor", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	limit, err := httpapi.IntParam(q.Get("limit"), "limit", workflow.MaxLogPage, 1, workflow.MaxLogPage)
	if err != nil {
		return err
	}
	var action int64
	if raw := q.Get("action_id"); raw != "" && raw != "0" {
		if action, err = strconv.ParseInt(raw, 10, 64); err != nil || action < 0 {
			return domain.Errorf(domain.CodeValidation, "action_id '%s' is not an integer", raw).With("field", "action_id")
		}
	}
	page, err := s.workflows.Logs(r.Context(), workflow.LogQuery{RunID: id, ActionID: action, Cursor: cursor, Limit: limit, Level: q.Get("level")})
	if err != nil {
		return err
	}
	envelope.OK(w, r, ToAPILogs(page), "")
	return nil
}

// ToAPILogs converts a page of a run's log.
func ToAPILogs(p *workflow.LogPage) api.RunLogs {
	out := api.RunLogs{Logs: make([]api.RunLogLine, len(p.Lines)), Cursor: p.Cursor, Done: p.Done}
	for i, l := range p.Lines {
		out.Logs[i] = api.RunLogLine{ActionID: l.ActionID, Step: l.Step, TaskID: l.TaskID, Seq: l.Seq, Time: l.Time,
			Stream: l.Stream, Level: l.Level, Message: l.Message}
	}
	return out
}

func (s *Server) listVariables(w http.ResponseWriter, r *http.Request) error {
	vs, err := s.workflows.Variables(r.Context())
	if err != nil {
		return err
	}
	out := api.VariableList{Variables: []api.Variable{}}
	for _, v := range vs {
		out.Variables = append(out.Variables, api.Variable{ID: v.ID, Name: v.Name, Value: string(v.Value), UpdatedAt: v.UpdatedAt})
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) setVariable(w http.ResponseWriter, r *http.Request) error {
	var req api.SetVariableRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	v, err := s.workflows.SetVariable(r.Context(), r.PathValue("name"), req.Value)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.Variable{ID: v.ID, Name: v.Name, Value: string(v.Value), UpdatedAt: v.UpdatedAt}, "variable set")
	return nil
}

func (s *Server) deleteVariable(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.workflows.DeleteObject(r.Context(), domain.ObjectVariable, name); err != nil {
		return err
	}
	envelope.OK(w, r, api.Variable{Name: name}, "variable deleted")
	return nil
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.workflows.Connections(r.Context())
	if err != nil {
		return err
	}
	out := api.ConnectionList{Connections: []api.Connection{}}
	for _, c := range cs {
		out.Connections = append(out.Connections, api.Connection{ID: c.ID, Name: c.Name, Env: workflow.EnvName(c.Name), UpdatedAt: c.UpdatedAt})
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) setConnection(w http.ResponseWriter, r *http.Request) error {
	var req api.SetConnectionRequest
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	c, err := s.workflows.SetConnection(r.Context(), r.PathValue("name"), req.Value)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.Connection{ID: c.ID, Name: c.Name, Env: workflow.EnvName(c.Name), UpdatedAt: c.UpdatedAt}, "connection set")
	return nil
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.workflows.DeleteObject(r.Context(), domain.ObjectConnection, name); err != nil {
		return err
	}
	envelope.OK(w, r, api.Connection{Name: name, Env: workflow.EnvName(name)}, "connection deleted")
	return nil
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.workflows.Templates(r.Context())
	if err != nil {
		return err
	}
	out := api.TemplateList{Templates: []api.Template{}}
	for _, t := range ts {
		spec, err := s.workflows.Template(r.Context(), t.Name)
		if err != nil {
			continue
		}
		out.Templates = append(out.Templates, api.Template{ID: t.ID, Name: t.Name, Spec: toAPIStep(*spec), UpdatedAt: t.UpdatedAt})
	}
	envelope.OK(w, r, out, "")
	return nil
}

func (s *Server) setTemplate(w http.ResponseWriter, r *http.Request) error {
	var req api.WorkflowStep
	if err := httpapi.Decode(w, r, &req, false); err != nil {
		return err
	}
	spec := toDomainStep(req)
	t, err := s.workflows.SetTemplate(r.Context(), auth.ActorOf(r), r.PathValue("name"), spec)
	if err != nil {
		return err
	}
	envelope.OK(w, r, api.Template{ID: t.ID, Name: t.Name, Spec: req, UpdatedAt: t.UpdatedAt}, "template set")
	return nil
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.workflows.DeleteObject(r.Context(), domain.ObjectTemplate, name); err != nil {
		return err
	}
	envelope.OK(w, r, api.Template{Name: name}, "template deleted")
	return nil
}
