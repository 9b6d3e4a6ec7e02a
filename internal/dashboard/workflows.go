package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/workflow"
)

const (
	workflowPageSize = 50
	runsShown        = 25
	// recentRunsRead is how many of the newest runs the workflow list reads
	// to show each workflow's last run: one query, not one per workflow.
	recentRunsRead = 500
)

type workflowRow struct {
	*domain.Workflow
	Last *domain.Run // its newest run among the recent ones, or nil
}

type workflowsData struct {
	Workflows        []workflowRow
	Offset, Prev     int
	Next             int
	HasPrev, HasNext bool
}

func (d *Dashboard) workflows(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	off, err := httpapi.IntParam(r.URL.Query().Get("offset"), "offset", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	ws, err := d.opts.Workflows.Workflows(ctx, workflowPageSize+1, off)
	if err != nil {
		return err
	}
	runs, err := d.opts.Workflows.Runs(ctx, workflow.RunFilter{Limit: recentRunsRead})
	if err != nil {
		return err
	}
	last := map[int64]*domain.Run{}
	for _, run := range runs { // newest first
		if last[run.WorkflowID] == nil {
			last[run.WorkflowID] = run
		}
	}
	wd := workflowsData{Offset: off, HasPrev: off > 0, Prev: max(0, off-workflowPageSize), Next: off + workflowPageSize}
	if wd.HasNext = len(ws) > workflowPageSize; wd.HasNext {
		ws = ws[:workflowPageSize]
	}
	for _, wf := range ws {
		wd.Workflows = append(wd.Workflows, workflowRow{Workflow: wf, Last: last[wf.ID]})
	}
	return d.render(w, r, "workflows", v, wd)
}

type workflowData struct {
	Workflow *domain.Workflow
	DAG      *dagView
	Runs     []*domain.Run
	MayRun   bool // the viewer may start it (shell steps need exec_shell)
}

func (d *Dashboard) workflow(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	id, err := idPath(r)
	if err != nil {
		return err
	}
	wf, err := d.opts.Workflows.Workflow(ctx, id)
	if err != nil {
		return err
	}
	dag, err := layoutDAG(wf, nil)
	if err != nil {
		return err
	}
	runs, err := d.opts.Workflows.Runs(ctx, workflow.RunFilter{WorkflowID: id, Limit: runsShown})
	if err != nil {
		return err
	}
	return d.render(w, r, "workflow", v, workflowData{Workflow: wf, DAG: dag, Runs: runs, MayRun: d.opts.Workflows.MayRun(ctx, auth.ActorOf(r), wf.Steps) == nil})
}

func (d *Dashboard) runWorkflow(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	ctx := r.Context()
	id, err := idPath(r)
	if err != nil {
		return err
	}
	run, err := d.opts.Workflows.RunNow(ctx, id, workflow.RunOptions{Actor: auth.ActorOf(r)})
	if err != nil {
		return err
	}
	d.back(w, r, runPath(run.ID), fmt.Sprintf("Run %d started.", run.ID))
	return nil
}

type runData struct {
	Run      *domain.Run
	Workflow *domain.Workflow
	DAG      *dagView
	Failures []workflow.StepFailure
	// Restartable: a step did not complete, so "restart failed" has work.
	Restartable bool
	Unexplained int // failed steps past maxFailuresExplained
}

// maxFailuresExplained bounds the failed steps a run's page explains.
const maxFailuresExplained = 5

func (d *Dashboard) run(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	id, err := idPath(r)
	if err != nil {
		return err
	}
	run, err := d.opts.Workflows.Run(ctx, id)
	if err != nil {
		return err
	}
	wf, err := d.opts.Workflows.Workflow(ctx, run.WorkflowID)
	if err != nil {
		return err
	}
	dag, err := layoutDAG(wf, run.Actions)
	if err != nil {
		return err
	}
	rd := runData{Run: run, Workflow: wf, DAG: dag}
	// Why steps failed costs two reads per failed step (its task and its
	// log): the page explains the first few, and links every step's task.
	failed := *run
	failed.Actions = nil
	for _, a := range run.Actions {
		switch a.State {
		case domain.ActionFailed:
			if len(failed.Actions) < maxFailuresExplained {
				failed.Actions = append(failed.Actions, a)
			} else {
				rd.Unexplained++
			}
			rd.Restartable = true
		case domain.ActionCancelled, domain.ActionUpstreamFailed:
			rd.Restartable = true
		}
	}
	rd.Failures = d.opts.Workflows.Failures(ctx, &failed)
	return d.render(w, r, "run", v, rd)
}

func (d *Dashboard) restartRun(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id, err := idPath(r)
	if err != nil {
		return err
	}
	mode := r.PostFormValue("mode")
	var from []int64
	if mode == workflow.RestartSteps {
		a, err := strconv.ParseInt(r.PostFormValue("action"), 10, 64)
		if err != nil {
			return domain.Errorf(domain.CodeValidation, "choose the step to restart from").With("field", "action")
		}
		from = []int64{a}
	}
	run, err := d.opts.Workflows.Restart(r.Context(), auth.ActorOf(r), id, mode, from, 0)
	if err != nil {
		return err
	}
	msg := "Run restarted."
	if run.ID != id {
		msg = fmt.Sprintf("Run %d restarted as run %d.", id, run.ID)
	}
	d.back(w, r, runPath(run.ID), msg)
	return nil
}

func (d *Dashboard) killRun(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	id, err := idPath(r)
	if err != nil {
		return err
	}
	ids, err := d.opts.Workflows.KillRun(r.Context(), id)
	if err != nil {
		return err
	}
	d.back(w, r, runPath(id), fmt.Sprintf("Run killed; %d step(s) interrupted.", len(ids)))
	return nil
}

func runPath(id int64) string { return "/ui/runs/" + strconv.FormatInt(id, 10) }

// idPath is the positive integer {id} of the path.
func idPath(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, domain.Errorf(domain.CodeNotFound, "there is nothing at %s", url.PathEscape(raw))
	}
	return n, nil
}
