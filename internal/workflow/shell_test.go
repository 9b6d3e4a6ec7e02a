package workflow_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store/sqlite"
	"github.com/drover-run/drover/internal/workflow"
)

// TestShellStepsNeedTheShellScope: every way of starting shell work — create,
// run now, restart, a template — is refused to a key without exec:shell, in
// the engine, so the native API, the dashboard and the Keeper listener all
// hold the rule without repeating it.
func TestShellStepsNeedTheShellScope(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wf.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tasks, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := workflow.New(workflow.Options{Store: st, Tasks: tasks})
	writer := domain.Actor{Authenticated: true, KeyID: "w"}
	shell := domain.Actor{Authenticated: true, KeyID: "s", ExecShell: true}
	refused := func(what string, err error) {
		t.Helper()
		if domain.CodeOf(err) != domain.CodePermissionDenied {
			t.Errorf("%s by a key without exec:shell = %v, want PERMISSION_DENIED", what, err)
		}
	}
	step := domain.Step{Name: "a", TaskType: domain.TypeShell, Payload: json.RawMessage(`{"command":"true"}`)}

	_, err = e.Create(ctx, writer, &domain.Workflow{Name: "sh", Steps: []domain.Step{step}})
	refused("create", err)
	_, err = e.SetTemplate(ctx, writer, "sh", step)
	refused("set a shell template", err)

	w, err := e.Create(ctx, shell, &domain.Workflow{Name: "sh", Steps: []domain.Step{step}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.RunNow(ctx, w.ID, workflow.RunOptions{Actor: writer})
	refused("run now", err)
	run, err := e.RunNow(ctx, w.ID, workflow.RunOptions{Actor: shell})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Restart(ctx, writer, run.ID, workflow.RestartWhole, nil, 0)
	refused("restart", err)

	// A step that names a template is judged by the template's type.
	if _, err := e.SetTemplate(ctx, shell, "sh", step); err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(ctx, writer, &domain.Workflow{Name: "via-template", Steps: []domain.Step{{Name: "a", Template: "sh"}}})
	refused("create through a shell template", err)

	// With authentication off (no key at all) nothing is refused, as for tasks.
	if _, err := e.RunNow(ctx, w.ID, workflow.RunOptions{}); err != nil {
		t.Errorf("run now without authentication: %v", err)
	}
}
