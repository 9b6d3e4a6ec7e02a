package workflow_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store/sqlite"
	"github.com/drover-run/drover/internal/workflow"
)

// TestConnectionsVariablesTemplates: a step gets ${VARIABLES} substituted
// (JSON-escaped), its template's fields, and its connections as
// environment; a connection's secret is sealed at rest and never listed;
// without a server key a connection is refused.
func TestConnectionsVariablesTemplates(t *testing.T) {
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
	if _, err := workflow.New(workflow.Options{Store: st, Tasks: tasks}).SetConnection(ctx, "db", "x"); err == nil {
		t.Fatal("a connection was stored without a server key")
	}
	sealer, err := auth.NewSealer([]byte(strings.Repeat("s", 40)))
	if err != nil {
		t.Fatal(err)
	}
	e := workflow.New(workflow.Options{Store: st, Tasks: tasks, Sealer: sealer})
	if _, err := e.SetConnection(ctx, "warehouse-db", "postgres://u:pw@h/db"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetVariable(ctx, "WHO", `a "quoted" \ name`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetTemplate(ctx, domain.Actor{}, "sh", domain.Step{TaskType: "shell", Payload: json.RawMessage(`{"command":"echo ${WHO}"}`), Queue: "q-${WHO_Q}"}); err != nil {
		t.Fatal(err)
	}
	raw, err := st.ObjectGet(ctx, domain.ObjectConnection, "warehouse-db", 0)
	if err != nil || strings.Contains(string(raw.Value), "pw@h") {
		t.Fatalf("the connection is stored in clear (%v)", err)
	}
	cs, _ := e.Connections(ctx)
	if len(cs) != 1 || cs[0].Value != nil {
		t.Fatalf("Connections = %+v: want the name without the value", cs)
	}
	w, err := e.Create(ctx, domain.Actor{}, &domain.Workflow{Name: "w", Steps: []domain.Step{{Name: "a", Template: "sh", Connections: []string{"warehouse-db"}}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.RunNow(ctx, w.ID, workflow.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AdvanceRun(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	r, _ = e.Run(ctx, r.ID)
	task, err := st.TaskGet(ctx, r.Actions[0].TaskID)
	if err != nil {
		t.Fatalf("the step's task: %v", err)
	}
	var p domain.ShellPayload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		t.Fatal(err)
	}
	// The stored task holds a reference, never the secret; its worker gets the secret.
	if p.Command != `echo a "quoted" \ name` || p.Env["WAREHOUSE_DB"] != "${connection:warehouse-db}" || task.Type != "shell" || task.Queue != "q-${WHO_Q}" {
		t.Fatalf("task %s %s payload %+v", task.Type, task.Queue, p)
	}
	resolved, err := e.ResolveSecrets(ctx, task)
	if err != nil || json.Unmarshal(resolved, &p) != nil || p.Env["WAREHOUSE_DB"] != "postgres://u:pw@h/db" {
		t.Fatalf("ResolveSecrets = %s, %v: want the secret in the env", resolved, err)
	}
	if task.Labels["run_id"] == "" || task.IdempotencyKey != workflow.IdempotencyKey(r.Actions[0].ID, 0) {
		t.Errorf("task labels %v key %q", task.Labels, task.IdempotencyKey)
	}
}
