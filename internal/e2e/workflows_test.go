package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/client"
)

func shellStep(name, cmd string, deps ...string) api.WorkflowStep {
	p, _ := json.Marshal(map[string]string{"command": cmd})
	return api.WorkflowStep{Name: name, TaskType: "shell", Payload: p, DependsOn: deps}
}

func runSteps(r *api.Run) map[string]api.RunStep {
	m := map[string]api.RunStep{}
	for _, s := range r.Steps {
		m[s.Name] = s
	}
	return m
}

func waitRun(t *testing.T, c *client.Client, id int64) *api.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := c.Runs.Wait(ctx, id, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("waiting for run %d: %v", id, err)
	}
	return r
}

// lines counts the lines of a file a step appends to (0 when absent).
func lines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// markDir is a directory shell steps (run as nobody) can append to.
func markDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "drover-marks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWorkflowDAG runs a workflow on real worker processes: fan-out, fan-in,
// a failing branch, variable substitution, then each restart mode.
func TestWorkflowDAG(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	cl.startWorker(t, "wf-1", 8, "--allow-shell")
	cl.startWorker(t, "wf-2", 8, "--allow-shell")
	dir := markDir(t)
	mark := func(step string) string { return fmt.Sprintf("echo %s >> %s/%s", step, dir, step) }

	if _, err := cl.c.Workflows.SetVariable(ctx, "OK", "no"); err != nil {
		t.Fatal(err)
	}
	// root -> b1..b3 (fan-out) -> join (fan-in); root -> flaky -> after
	w, err := cl.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "dag", Steps: []api.WorkflowStep{
		shellStep("root", mark("root")),
		shellStep("b1", mark("b1"), "root"), shellStep("b2", mark("b2"), "root"), shellStep("b3", mark("b3"), "root"),
		shellStep("join", mark("join"), "b1", "b2", "b3"),
		shellStep("flaky", mark("flaky")+`; echo "OK is ${OK}"; test "${OK}" = yes`, "root"),
		shellStep("after", mark("after"), "flaky"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := cl.c.Workflows.Run(ctx, w.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, cl.c, run.ID)
	st := runSteps(r)
	for name, want := range map[string]string{"root": "completed", "b1": "completed", "b2": "completed", "b3": "completed",
		"join": "completed", "flaky": "failed", "after": "upstream_failed"} {
		if st[name].Status != want {
			t.Errorf("step %s is %s, want %s", name, st[name].Status, want)
		}
	}
	if r.Status != "failed" || len(r.Failures) != 1 || r.Failures[0].Step != "flaky" || r.Failures[0].ExitCode != 1 ||
		!slicesContains(r.Failures[0].LogTail, "OK is no") {
		t.Fatalf("run %s, failures %+v: want failed at flaky, exit code 1, its log tail", r.Status, r.Failures)
	}
	if n := lines(t, dir+"/after"); n != 0 {
		t.Fatalf("after ran %d times below a failed step", n)
	}

	// EXCEPTIONAL: the failed step and below rerun in the same run; the rest does not.
	if _, err := cl.c.Workflows.SetVariable(ctx, "OK", "yes"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.c.Runs.Restart(ctx, run.ID, "failed", nil); err != nil {
		t.Fatal(err)
	}
	r = waitRun(t, cl.c, run.ID)
	if r.Status != "completed" {
		t.Fatalf("after restart failed: run %s %+v", r.Status, r.Steps)
	}
	for step, want := range map[string]int{"root": 1, "b1": 1, "b2": 1, "b3": 1, "join": 1, "flaky": 2, "after": 1} {
		if n := lines(t, filepath.Join(dir, step)); n != want {
			t.Errorf("step %s ran %d times, want %d", step, n, want)
		}
	}
	if got := runSteps(r)["root"].TaskID; got != st["root"].TaskID {
		t.Errorf("root's task changed from %s to %s: a completed step was rerun", st["root"].TaskID, got)
	}

	// From actions: b2 and what depends on it, whatever their state.
	st = runSteps(r)
	if _, err := cl.c.Runs.Restart(ctx, run.ID, "steps", []int64{st["b2"].ActionID}); err != nil {
		t.Fatal(err)
	}
	r = waitRun(t, cl.c, run.ID)
	if r.Status != "completed" {
		t.Fatalf("after restart from b2: run %s", r.Status)
	}
	for step, want := range map[string]int{"root": 1, "b1": 1, "b2": 2, "b3": 1, "join": 2, "flaky": 2, "after": 1} {
		if n := lines(t, filepath.Join(dir, step)); n != want {
			t.Errorf("after restart from b2: step %s ran %d times, want %d", step, n, want)
		}
	}

	// WHOLE: a new run record.
	whole, err := cl.c.Runs.Restart(ctx, run.ID, "whole", nil)
	if err != nil {
		t.Fatal(err)
	}
	if whole.ID == run.ID || whole.RestartOf != run.ID {
		t.Fatalf("whole restart gave run %d (restart of %d), want a new run of %d", whole.ID, whole.RestartOf, run.ID)
	}
	if r = waitRun(t, cl.c, whole.ID); r.Status != "completed" || lines(t, dir+"/root") != 2 {
		t.Fatalf("whole restart: run %s, root ran %d times", r.Status, lines(t, dir+"/root"))
	}
	// Bad restarts change nothing.
	for _, bad := range []struct {
		mode    string
		actions []int64
	}{{"sideways", nil}, {"steps", nil}, {"steps", []int64{999999}}} {
		if _, err := cl.c.Runs.Restart(ctx, run.ID, bad.mode, bad.actions); !isStatus(err, 400) {
			t.Errorf("restart %s %v: %v, want a 400", bad.mode, bad.actions, err)
		}
	}
}

func slicesContains(s []string, sub string) bool {
	for _, l := range s {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func isStatus(err error, status int) bool {
	var e *client.Error
	return errors.As(err, &e) && e.StatusCode == status
}

// TestWorkflowKillDelayIgnoreLogs: kill with interrupted action ids, a
// delayed start, upstream dependencies and ignore, and a log of 250 lines
// read in pages of at most 100.
func TestWorkflowKillDelayIgnoreLogs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	cl.startWorker(t, "wk", 4, "--allow-shell")

	// Logs: 250 lines, three pages.
	logs, err := cl.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "logs", Steps: []api.WorkflowStep{
		shellStep("count", `for i in $(seq 1 250); do echo "line $i"; done; echo oops >&2`)}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := cl.c.Workflows.Run(ctx, logs.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, cl.c, run.ID); r.Status != "completed" {
		t.Fatalf("logs run %s", r.Status)
	}
	var got []string
	var pages []int
	cursor := 0
	for {
		p, err := cl.c.Runs.Logs(ctx, run.ID, client.RunLogOptions{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Logs) == 0 {
			break
		}
		pages = append(pages, len(p.Logs))
		for _, l := range p.Logs {
			got = append(got, l.Message)
		}
		cursor = p.Cursor
	}
	var numbered []string
	for _, l := range got {
		if strings.HasPrefix(l, "line ") {
			numbered = append(numbered, l)
		}
	}
	if len(got) != 251 || len(numbered) != 250 || numbered[0] != "line 1" || numbered[249] != "line 250" || pages[0] != 100 || pages[1] != 100 {
		t.Fatalf("read %d lines in pages %v (first %q): want 251 lines in pages of 100", len(got), pages, got[0])
	}
	errs, err := cl.c.Runs.Logs(ctx, run.ID, client.RunLogOptions{Level: "error"})
	if err != nil || len(errs.Logs) != 1 || errs.Logs[0].Message != "oops" {
		t.Fatalf("error lines %+v, %v: want the one stderr line", errs, err)
	}
	if _, err := cl.c.Runs.Logs(ctx, run.ID, client.RunLogOptions{Limit: 101}); !isStatus(err, 400) {
		t.Errorf("limit 101: %v, want 400", err)
	}

	// Kill: the running action is interrupted, the waiting one never runs.
	slow, err := cl.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "slow", Steps: []api.WorkflowStep{
		shellStep("nap", "sleep 30"), shellStep("never", "echo never", "nap")}})
	if err != nil {
		t.Fatal(err)
	}
	run, err = cl.c.Workflows.Run(ctx, slow.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "nap to run", func() bool {
		r, err := cl.c.Runs.Get(ctx, run.ID)
		return err == nil && runSteps(r)["nap"].Status == "running"
	})
	ids, err := cl.c.Runs.Kill(ctx, run.ID)
	r, _ := cl.c.Runs.Get(ctx, run.ID)
	if err != nil || len(ids) != 1 || ids[0] != runSteps(r)["nap"].ActionID {
		t.Fatalf("kill = %v, %v; want nap's action id", ids, err)
	}
	if r.Status != "killed" || runSteps(r)["never"].Status != "cancelled" {
		t.Fatalf("killed run: %s %+v", r.Status, r.Steps)
	}
	if ids, err := cl.c.Runs.Kill(ctx, run.ID); err != nil || len(ids) != 0 {
		t.Errorf("second kill = %v, %v; want nothing interrupted", ids, err)
	}

	// Delay: no step starts before it.
	start := time.Now()
	run, err = cl.c.Workflows.Run(ctx, logs.ID, api.RunWorkflowRequest{DelaySeconds: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, cl.c, run.ID)
	r, _ = cl.c.Runs.Get(ctx, run.ID)
	task, err := cl.c.Tasks.Get(ctx, r.Steps[0].TaskID)
	if err != nil || task.StartedAt == nil || task.StartedAt.Sub(run.CreatedAt) < 2*time.Second {
		t.Fatalf("delayed step started %v after the run was made (%v); want >= 2s", task.StartedAt.Sub(run.CreatedAt), err)
	}
	if _, err := cl.c.Workflows.Run(ctx, logs.ID, api.RunWorkflowRequest{DelaySeconds: 61}); !isStatus(err, 400) {
		t.Errorf("delay 61: %v, want 400", err)
	}
	_ = start

	// Dependencies: downstream waits for the upstream's run, unless ignored.
	up, err := cl.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "up", Steps: []api.WorkflowStep{shellStep("u", "sleep 1")}})
	if err != nil {
		t.Fatal(err)
	}
	down, err := cl.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "down", DependsOn: []int64{up.ID},
		Steps: []api.WorkflowStep{shellStep("d", "echo d")}})
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := cl.c.Workflows.Run(ctx, down.ID, api.RunWorkflowRequest{})
	if err != nil || waiting.Status != "waiting" {
		t.Fatalf("run of a workflow with dependencies: %+v, %v; want waiting", waiting, err)
	}
	ignored, err := cl.c.Workflows.Run(ctx, down.ID, api.RunWorkflowRequest{IgnoreDependencies: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitRun(t, cl.c, ignored.ID); r.Status != "completed" {
		t.Fatalf("ignoring dependencies: %s", r.Status)
	}
	if r, _ := cl.c.Runs.Get(ctx, waiting.ID); r.Status != "waiting" {
		t.Fatalf("the run that waits is %s before its upstream ran", r.Status)
	}
	upRun, err := cl.c.Workflows.Run(ctx, up.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, cl.c, upRun.ID)
	if r := waitRun(t, cl.c, waiting.ID); r.Status != "completed" {
		t.Fatalf("after the upstream completed, the waiting run is %s", r.Status)
	}
}

// TestWorkflowServerKilledBetweenSteps kills -9 the server while a run is
// between steps: after a restart the run goes on, no step runs twice and
// none is skipped.
func TestWorkflowServerKilledBetweenSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t)
	cl.startWorker(t, "wkill", 4, "--allow-shell")
	dir := markDir(t)
	mark := func(step string) string { return fmt.Sprintf("echo %s >> %s/%s", step, dir, step) }
	w, err := cl.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "chain", Steps: []api.WorkflowStep{
		shellStep("one", mark("one")+"; sleep 1.5"), shellStep("two", mark("two")+"; sleep 1.5", "one"),
		shellStep("three", mark("three"), "two")}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := cl.c.Workflows.Run(ctx, w.ID, api.RunWorkflowRequest{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "step one to run", func() bool { return lines(t, dir+"/one") == 1 })
	// Down while "one" finishes: its result and the follow-up happen across the restart.
	cl.server.kill()
	time.Sleep(2 * time.Second)
	cl.startServer(t, portOf(t, cl.api), portOf(t, cl.agent))
	r := waitRun(t, cl.c, run.ID)
	if r.Status != "completed" {
		t.Fatalf("after the restart the run is %s: %+v", r.Status, r.Steps)
	}
	for _, step := range []string{"one", "two", "three"} {
		if n := lines(t, filepath.Join(dir, step)); n != 1 {
			t.Errorf("step %s ran %d times, want once", step, n)
		}
	}
}

// keeperCall sends a Keeper request and returns the status and body.
func keeperCall(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestKeeperInterface calls every endpoint of document 002 on a server with
// --auth, without a token (401 Access Denied.), with a wrong one, and with
// a valid one; then bad parameters, which get a 4xx and change nothing.
func TestKeeperInterface(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const key = "keeper-e2e-admin-key-0123456789"
	kport := freePort(t)
	keyFile := filepath.Join(t.TempDir(), "server.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("k", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, "--auth", "--api-key", key, "--keeper-port", strconv.Itoa(kport), "--secret-key-file", keyFile)
	c, err := client.New(cl.api, client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", kport)
	w, err := c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "job", Steps: []api.WorkflowStep{
		{Name: "a", TaskType: "echo", Payload: json.RawMessage(`{"message":"a"}`)},
		{Name: "b", TaskType: "echo", Payload: json.RawMessage(`{"message":"b"}`), DependsOn: []string{"a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Workflows.SetConnection(ctx, "warehouse", "postgres://secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Workflows.SetTemplate(ctx, "hello", api.WorkflowStep{TaskType: "echo", Payload: json.RawMessage(`{"message":"hi"}`)}); err != nil {
		t.Fatal(err)
	}

	if code, body := keeperCall(t, "GET", base+"/"); code != 200 || body == "" {
		t.Fatalf("GET / = %d %q; want 200 without a token", code, body)
	}
	job := strconv.FormatInt(w.ID, 10)
	// No worker serves the queue: the run stays running, its first action pending.
	code, body := keeperCall(t, "PUT", base+"/task/instant/"+job+"?token="+key)
	var inst struct {
		ID         int64  `json:"id"`
		RecordTime string `json:"recordTime"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &inst) != nil || inst.ID == 0 || len(inst.RecordTime) != len("2006-01-02 15:04:05") {
		t.Fatalf("instant = %d %s", code, body)
	}
	task := strconv.FormatInt(inst.ID, 10)
	eventually(t, 10*time.Second, "the first action's task", func() bool {
		r, err := c.Runs.Get(ctx, inst.ID)
		return err == nil && r.Steps[0].TaskID != ""
	})
	r, _ := c.Runs.Get(ctx, inst.ID)
	action := strconv.FormatInt(r.Steps[0].ActionID, 10)
	conn, _ := c.Workflows.SetConnection(ctx, "warehouse", "postgres://secret2")
	connID := strconv.FormatInt(conn.ID, 10)

	endpoints := []struct {
		method, path string
		want         string // a substring of the body with a valid token
	}{
		{"PUT", "/global/set?name=QUIT_ON_NEXT_BEAT&value=no", "1"},
		{"GET", "/task/logs?jobId=" + job + "&taskId=" + task + "&actionId=0&cursor=0&mode=all", `"cursor":`},
		{"GET", "/task/logs?jobId=" + job + "&recordTime=" + strings.ReplaceAll(inst.RecordTime, " ", "%20"), `"logs":`},
		{"PUT", "/configurations/reload", "1"},
		{"PUT", "/connection/setup/" + connID, "1"},
		{"PUT", "/function/renew?function_name=hello", "1"},
		{"PUT", "/variable/renew?variable_name=QUIT_ON_NEXT_BEAT", "1"},
		{"PUT", "/action/kill/" + action, `"actions":` + action},
		{"PUT", "/action/kill/" + action, `"actions":0`},
		{"PUT", "/task/restart/" + task + "?more=EXCEPTIONAL&starter=7", `"status":"running"`},
		{"PUT", "/task/restrat/" + task + "?more=" + action, `"id":` + task},
		{"PUT", "/task/restart/" + task + "?option=" + action, `"id":` + task},
		{"PUT", "/task/kill/" + task, `"actions":[`},
		{"PUT", "/kill/task/" + task, `"actions":[]`},
		{"PUT", "/task/restart?taskIds=" + task + "&option=WHOLE", `"recordTime":`},
		{"PUT", "/task/instant/" + job + "?creator=3&delay=1&ignore=yes", `"recordTime":`},
		{"PUT", "/job/kill/" + job, `"actions":[`},
		{"PUT", "/task/restrat/" + task + "?more=WHOLE", `"status":`},
		{"PUT", "/job/kill/" + job, `"actions":[`},
		{"PUT", "/function/remove?function_name=hello", "1"},
		{"PUT", "/variable/remove?variable_name=QUIT_ON_NEXT_BEAT", "1"},
		{"PUT", "/connection/remove/" + connID, "1"},
	}
	for _, e := range endpoints {
		for _, tok := range []string{"", "&token=wrong"} {
			sep := "?"
			if strings.Contains(e.path, "?") {
				sep = "&"
			}
			u := base + e.path
			if tok != "" {
				u += sep + tok[1:]
			}
			if code, body := keeperCall(t, e.method, u); code != 401 || body != "Access Denied." {
				t.Errorf("%s %s without a valid token = %d %q; want 401 Access Denied.", e.method, e.path, code, body)
			}
		}
	}
	for _, e := range endpoints {
		sep := "?"
		if strings.Contains(e.path, "?") {
			sep = "&"
		}
		code, body := keeperCall(t, e.method, base+e.path+sep+"token="+key)
		if code != 200 || !strings.Contains(body, e.want) {
			t.Errorf("%s %s = %d %s; want 200 with %s", e.method, e.path, code, body, e.want)
		}
	}
	// The token header works as well.
	req, _ := http.NewRequest("PUT", base+"/configurations/reload", nil)
	req.Header.Set("token", key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("token header: %v %v", resp, err)
	}
	// Secrets never come back.
	conns, _ := http.NewRequest("GET", cl.api+"/api/v1/connections", nil)
	conns.Header.Set("X-API-Key", key)
	if resp, err := http.DefaultClient.Do(conns); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "secret") {
			t.Errorf("GET /api/v1/connections shows a secret: %s", b)
		}
	}

	// Bad parameters: a clear 4xx, and nothing changes.
	before, _ := c.Runs.List(ctx, client.RunListOptions{Limit: 1000})
	for _, bad := range []struct {
		method, path string
		status       int
	}{
		{"PUT", "/task/instant/" + job + "?delay=61", 400},
		{"PUT", "/task/instant/" + job + "?delay=-1", 400},
		{"PUT", "/task/instant/" + job + "?ignore=maybe", 400},
		{"PUT", "/task/instant/999999", 404},
		{"PUT", "/task/instant/abc", 400},
		{"PUT", "/task/restart/" + task + "?more=1,x", 400},
		{"PUT", "/task/restart/" + task + "?more=999999", 400},
		{"PUT", "/task/restart/999999?more=WHOLE", 404},
		{"PUT", "/task/restart?taskIds=" + task + ",999999", 404},
		{"PUT", "/task/restart?taskIds=1,,x", 400},
		{"PUT", "/task/kill/999999", 404},
		{"PUT", "/job/kill/999999", 404},
		{"PUT", "/action/kill/999999", 404},
		{"GET", "/task/logs?taskId=999999", 404},
		{"GET", "/task/logs?taskId=" + task + "&mode=verbose", 400},
		{"GET", "/task/logs?taskId=" + task + "&recordTime=yesterday", 400},
		{"GET", "/task/logs", 400},
		{"PUT", "/global/set?name=X", 400},
		{"PUT", "/connection/remove/999999", 404},
		{"PUT", "/function/renew?function_name=nope", 404},
		{"GET", "/task/kill/" + task, 405},
	} {
		code, body := keeperCall(t, bad.method, base+bad.path+map[bool]string{true: "&", false: "?"}[strings.Contains(bad.path, "?")]+"token="+key)
		if code != bad.status {
			t.Errorf("%s %s = %d %s; want %d", bad.method, bad.path, code, body, bad.status)
		}
	}
	after, _ := c.Runs.List(ctx, client.RunListOptions{Limit: 1000})
	if len(after.Runs) != len(before.Runs) {
		t.Errorf("bad requests made runs: %d before, %d after", len(before.Runs), len(after.Runs))
	}
}

// TestCronTwoServersLeaderKilled runs a schedule on two servers sharing
// PostgreSQL and kills -9 the leader: every tick fires exactly once, none
// twice and none missed, late by at most the failover time.
func TestCronTwoServersLeaderKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newPGCluster(t)
	a := cl.startServer(t, "cron-a")
	b := cl.startServer(t, "cron-b")
	const every = 8 * time.Second
	w, err := a.c.Workflows.Create(ctx, api.CreateWorkflowRequest{Name: "tick", Schedule: "@every 8s", Overlap: "allow",
		Steps: []api.WorkflowStep{{Name: "s", TaskType: "echo", Payload: json.RawMessage(`{"message":"tick"}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	runs := func(c *client.Client) []api.Run {
		l, err := c.Runs.List(ctx, client.RunListOptions{WorkflowID: w.ID, Limit: 1000})
		if err != nil {
			return nil
		}
		return l.Runs
	}
	eventually(t, 30*time.Second, "two ticks", func() bool { return len(runs(a.c)) >= 2 })
	leader, _ := cl.leader(t)
	if leader == nil {
		t.Fatal("no leader")
	}
	survivor := a
	if leader == a {
		survivor = b
	}
	leader.proc.kill()
	eventually(t, 60*time.Second, "three more ticks on the survivor", func() bool { return len(runs(survivor.c)) >= 5 })
	cl.startServer(t, leader.name+"-again")
	eventually(t, 30*time.Second, "a tick after the restart", func() bool { return len(runs(survivor.c)) >= 6 })

	rs := runs(survivor.c)
	for i := len(rs) - 1; i > 0; i-- { // oldest first
		prev, cur := rs[i], rs[i-1]
		if prev.Tick == nil || cur.Tick == nil {
			t.Fatalf("run without a tick: %+v", cur)
		}
		if gap := cur.Tick.Sub(*prev.Tick); gap != every {
			t.Errorf("ticks %v then %v: %v apart, want %v (a duplicate or a missed tick)", prev.Tick, cur.Tick, gap, every)
		}
	}
	for _, r := range rs {
		if late := r.CreatedAt.Sub(*r.Tick); late < 0 || late > every {
			t.Errorf("tick %v fired %v late", r.Tick, late)
		}
	}
}
