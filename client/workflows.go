package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/drover-run/drover/api"
)

// WorkflowsService creates, lists, runs and deletes workflows: /api/v1/workflows.
type WorkflowsService struct{ c *Client }

func workflowPath(id int64, suffix string) string {
	return fmt.Sprintf("%s/workflows/%d%s", apiPrefix, id, suffix)
}

// Create stores a workflow (POST /workflows).
func (s *WorkflowsService) Create(ctx context.Context, req api.CreateWorkflowRequest) (*api.Workflow, error) {
	var out api.WorkflowResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: apiPrefix + "/workflows", body: req}, &out); err != nil {
		return nil, err
	}
	return &out.Workflow, nil
}

// List lists workflows by id (GET /workflows).
func (s *WorkflowsService) List(ctx context.Context, limit, offset int) (*api.WorkflowList, error) {
	q := url.Values{}
	setInt(q, "limit", limit)
	setInt(q, "offset", offset)
	var out api.WorkflowList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/workflows", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns one workflow (GET /workflows/{id}).
func (s *WorkflowsService) Get(ctx context.Context, id int64) (*api.Workflow, error) {
	var out api.WorkflowResponse
	if err := s.c.call(ctx, request{method: http.MethodGet, path: workflowPath(id, "")}, &out); err != nil {
		return nil, err
	}
	return &out.Workflow, nil
}

// Delete kills a workflow's runs and deletes it (DELETE /workflows/{id}).
func (s *WorkflowsService) Delete(ctx context.Context, id int64) (*api.DeleteWorkflowResponse, error) {
	var out api.DeleteWorkflowResponse
	if err := s.c.call(ctx, request{method: http.MethodDelete, path: workflowPath(id, "")}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Run starts a run now (POST /workflows/{id}/runs).
func (s *WorkflowsService) Run(ctx context.Context, id int64, req api.RunWorkflowRequest) (*api.Run, error) {
	var out api.RunResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: workflowPath(id, "/runs"), body: req}, &out); err != nil {
		return nil, err
	}
	return &out.Run, nil
}

// Kill kills every active run of a workflow (POST /workflows/{id}/kill).
func (s *WorkflowsService) Kill(ctx context.Context, id int64) ([]int64, error) {
	var out api.KillResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: workflowPath(id, "/kill")}, &out); err != nil {
		return nil, err
	}
	return out.InterruptedActions, nil
}

// SetVariable sets a variable (PUT /variables/{name}).
func (s *WorkflowsService) SetVariable(ctx context.Context, name, value string) (*api.Variable, error) {
	var out api.Variable
	path := apiPrefix + "/variables/" + url.PathEscape(name)
	if err := s.c.call(ctx, request{method: http.MethodPut, path: path, body: api.SetVariableRequest{Value: value}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetConnection sets a connection's secret (PUT /connections/{name}).
func (s *WorkflowsService) SetConnection(ctx context.Context, name, value string) (*api.Connection, error) {
	var out api.Connection
	path := apiPrefix + "/connections/" + url.PathEscape(name)
	if err := s.c.call(ctx, request{method: http.MethodPut, path: path, body: api.SetConnectionRequest{Value: value}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetTemplate sets a template (PUT /templates/{name}).
func (s *WorkflowsService) SetTemplate(ctx context.Context, name string, spec api.WorkflowStep) (*api.Template, error) {
	var out api.Template
	path := apiPrefix + "/templates/" + url.PathEscape(name)
	if err := s.c.call(ctx, request{method: http.MethodPut, path: path, body: spec}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RunsService reads and controls workflow runs: /api/v1/runs.
type RunsService struct{ c *Client }

func runPath(id int64, suffix string) string {
	return fmt.Sprintf("%s/runs/%d%s", apiPrefix, id, suffix)
}

// RunListOptions filters GET /runs.
type RunListOptions struct {
	WorkflowID int64
	Status     string
	Limit      int
	Offset     int
}

// List lists runs, newest first (GET /runs).
func (s *RunsService) List(ctx context.Context, o RunListOptions) (*api.RunList, error) {
	q := url.Values{}
	if o.WorkflowID > 0 {
		q.Set("workflow_id", strconv.FormatInt(o.WorkflowID, 10))
	}
	setString(q, "status", o.Status)
	setInt(q, "limit", o.Limit)
	setInt(q, "offset", o.Offset)
	var out api.RunList
	if err := s.c.call(ctx, request{method: http.MethodGet, path: apiPrefix + "/runs", query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get returns a run with its steps and failures (GET /runs/{id}).
func (s *RunsService) Get(ctx context.Context, id int64) (*api.Run, error) {
	var out api.RunResponse
	if err := s.c.call(ctx, request{method: http.MethodGet, path: runPath(id, "")}, &out); err != nil {
		return nil, err
	}
	return &out.Run, nil
}

// Restart restarts a run: mode whole (a new run, returned), failed or steps
// (with action ids) in the same run (POST /runs/{id}/restart).
func (s *RunsService) Restart(ctx context.Context, id int64, mode string, actionIDs []int64) (*api.Run, error) {
	var out api.RunResponse
	body := api.RestartRunRequest{Mode: mode, Steps: actionIDs}
	if err := s.c.call(ctx, request{method: http.MethodPost, path: runPath(id, "/restart"), body: body}, &out); err != nil {
		return nil, err
	}
	return &out.Run, nil
}

// Kill kills a run and returns the interrupted action ids (POST /runs/{id}/kill).
func (s *RunsService) Kill(ctx context.Context, id int64) ([]int64, error) {
	var out api.KillResponse
	if err := s.c.call(ctx, request{method: http.MethodPost, path: runPath(id, "/kill")}, &out); err != nil {
		return nil, err
	}
	return out.InterruptedActions, nil
}

// KillAction kills one action (POST /actions/{id}/kill).
func (s *RunsService) KillAction(ctx context.Context, id int64) ([]int64, error) {
	var out api.KillResponse
	path := fmt.Sprintf("%s/actions/%d/kill", apiPrefix, id)
	if err := s.c.call(ctx, request{method: http.MethodPost, path: path}, &out); err != nil {
		return nil, err
	}
	return out.InterruptedActions, nil
}

// RunLogOptions selects a page of a run's log.
type RunLogOptions struct {
	Cursor   int
	Limit    int    // 1-100; 0: 100
	Level    string // all, debug, error
	ActionID int64
}

// Logs returns a page of a run's log (GET /runs/{id}/logs); pass the
// answer's Cursor back to read on.
func (s *RunsService) Logs(ctx context.Context, id int64, o RunLogOptions) (*api.RunLogs, error) {
	q := url.Values{}
	setInt(q, "cursor", o.Cursor)
	setInt(q, "limit", o.Limit)
	setString(q, "level", o.Level)
	if o.ActionID > 0 {
		q.Set("action_id", strconv.FormatInt(o.ActionID, 10))
	}
	var out api.RunLogs
	if err := s.c.call(ctx, request{method: http.MethodGet, path: runPath(id, "/logs"), query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FollowLogs calls fn with every line of the run's log as it comes, until
// the run has ended and every line is read, or ctx ends.
func (s *RunsService) FollowLogs(ctx context.Context, id int64, o RunLogOptions, fn func(api.RunLogLine)) error {
	p := s.c.poller()
	for {
		page, err := s.Logs(ctx, id, o)
		if err != nil {
			return err
		}
		for _, l := range page.Logs {
			fn(l)
		}
		o.Cursor = page.Cursor
		if len(page.Logs) > 0 {
			p.reset()
			continue
		}
		if page.Done {
			return nil
		}
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
}

// Wait polls a run until it is no longer waiting or running.
func (s *RunsService) Wait(ctx context.Context, id int64, pollInterval time.Duration) (*api.Run, error) {
	p := s.c.poller()
	for {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if r.Status != "waiting" && r.Status != "running" {
			return r, nil
		}
		if pollInterval > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(pollInterval):
			}
		} else if err := p.wait(ctx); err != nil {
			return nil, err
		}
	}
}
