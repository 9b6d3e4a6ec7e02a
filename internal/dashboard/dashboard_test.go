package dashboard_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/auth"
	"github.com/drover-run/drover/internal/dashboard"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/queue"
	"github.com/drover-run/drover/internal/scale"
	"github.com/drover-run/drover/internal/scale/local"
	"github.com/drover-run/drover/internal/store/sqlite"
	"github.com/drover-run/drover/internal/workflow"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixture is a dashboard over a fresh store holding one worker and a few
// tasks in every state, a paused queue, a workflow with a run half done,
// and a pool with a drained worker, on a fixed clock.
type fixture struct {
	h       http.Handler
	eng     *dispatch.Service
	keys    *auth.Service
	queues  *queue.Service
	flows   *workflow.Engine
	done    string // a completed task, with log lines
	hostile string // a pending task whose payload holds markup
	failed  string
	run     int64 // a run whose first step completed
}

var clock = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func newFixture(t testing.TB, withAuth bool) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dash.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := func() time.Time { return clock }
	eng, err := dispatch.New(st, dispatch.Options{Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	keys := auth.New(auth.Options{Store: st, Now: now})
	// A bus that is never run: its last id stays 0, so pages are stable.
	bus := event.New(event.Options{Store: st})
	queues := queue.New(st, eng, queue.Options{Clock: now})
	flows := workflow.New(workflow.Options{Store: st, Tasks: eng, Clock: now})
	pools := scale.New(st, scale.Options{Providers: map[string]scale.Provider{local.Name: local.New(local.Options{})}, Clock: now})
	d, err := dashboard.New(dashboard.Options{Engine: eng, Bus: bus, Insight: insight.New(st, now, clock.Add(-time.Hour)),
		Queues: queues, Workflows: flows, Pools: pools, Keys: keys, Auth: withAuth, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter(func(w http.ResponseWriter, r *http.Request, err error) { http.Error(w, err.Error(), 500) })
	rt.Undeclared = func(route *httpapi.Route, status int) {
		t.Errorf("%s answered %d, which its route does not declare", route.Pattern(), status)
	}
	rt.Add(d.Routes()...)
	f := &fixture{h: rt, eng: eng, keys: keys, queues: queues, flows: flows}

	w, err := eng.Register(ctx, &domain.Worker{ID: "w1", Name: "w1", Hostname: "box", Role: "worker", Queues: []string{"FifoQ"},
		TaskTypes: []string{"echo", "sleep"}, Concurrency: 2,
		Resources: domain.Resources{CPUCores: 4, CPUUsage: 12.5, MemoryTotalGB: 8, MemoryUsedGB: 2, StorageTotalGB: 100, StorageUsedGB: 40}}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	submit := func(typ, payload string) string {
		out, err := eng.SubmitRequests(ctx, domain.Actor{}, []dispatch.TaskRequest{{Type: typ, Payload: json.RawMessage(payload)}})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Task.ID
	}
	f.done = submit("echo", `{"message":"hi"}`)
	f.failed = submit("echo", `{"message":"boom"}`)
	leased, err := eng.Lease(ctx, w, 2, 0)
	if err != nil || len(leased) != 2 {
		t.Fatalf("lease: %v %d", err, len(leased))
	}
	for _, l := range leased {
		ref := domain.TaskRef{TaskID: l.ID, Epoch: l.LeaseEpoch}
		if err := eng.AppendLogs(ctx, "w1", []domain.LogLine{{TaskID: l.ID, Time: clock, Stream: "stdout", Level: "info", Message: "<b>line</b> & more"}}, []int64{l.LeaseEpoch}); err != nil {
			t.Fatal(err)
		}
		ok := l.ID == f.done
		res := &domain.Result{Output: "hi\n", ExitCode: 0}
		if !ok {
			res = &domain.Result{Output: "", ExitCode: 1, Error: "boom <img src=x onerror=alert(1)>"}
		}
		if _, err := eng.Finish(ctx, "w1", []domain.AttemptResult{{Ref: ref, Succeeded: ok, Result: res}}); err != nil {
			t.Fatal(err)
		}
	}
	f.hostile = submit("echo", `{"message":"</pre><script>alert(1)</script>"}`)

	if _, err := queues.Pause(ctx, domain.Actor{}, "batch"); err != nil {
		t.Fatal(err)
	}
	step := func(name string, after ...string) domain.Step {
		return domain.Step{Name: name, TaskType: "echo", Queue: "flows", Payload: json.RawMessage(`{"message":"` + name + `"}`), DependsOn: after}
	}
	wf, err := flows.Create(ctx, domain.Actor{}, &domain.Workflow{Name: "nightly <report>", Steps: []domain.Step{
		step("fetch"), step("parse", "fetch"), step("lint", "fetch"), step("report", "parse", "lint"), step("a-rather-long-step-name-to-cut", "fetch")}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := flows.RunNow(ctx, wf.ID, workflow.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.run = run.ID
	// Its first step runs and completes on a worker of the flows queue;
	// the next pass starts the steps below it.
	fw, err := eng.Register(ctx, &domain.Worker{ID: "wf1", Name: "wf1", Role: "worker", Queues: []string{"flows"},
		TaskTypes: []string{"echo"}, Concurrency: 1}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := flows.AdvanceRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	leased, err = eng.Lease(ctx, fw, 1, 0)
	if err != nil || len(leased) != 1 {
		t.Fatalf("lease the run's first step: %v %d", err, len(leased))
	}
	if _, err := eng.Finish(ctx, "wf1", []domain.AttemptResult{{Ref: domain.TaskRef{TaskID: leased[0].ID, Epoch: leased[0].LeaseEpoch},
		Succeeded: true, Result: &domain.Result{Output: "fetched"}}}); err != nil {
		t.Fatal(err)
	}
	if err := flows.AdvanceRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}

	p, err := pools.Create(ctx, &domain.Pool{ID: 7, Name: "edge", Points: 1, MaxPoints: 4, Provider: local.Name}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pools.Scale(ctx, p.ID, 2, "autoscaler", "backlog of 9 tasks"); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Register(ctx, &domain.Worker{ID: "pool7-a", Name: "pool7-a", Role: "worker", PoolID: p.ID,
		TaskTypes: []string{"echo"}, Concurrency: 2}, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := queues.SuspendWorker(ctx, domain.Actor{}, "pool7-a"); err != nil {
		t.Fatal(err)
	}
	return f
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(t testing.TB, method, path string, form url.Values, hdr ...string) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return answer{status: w.Code, header: w.Header(), body: w.Body.String()}
}

var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`task-[0-9a-zA-Z_-]{8,}`), "task-ID"},
	{regexp.MustCompile(`name="csrf" value="[0-9a-f]+"`), `name="csrf" value="CSRF"`},
	{regexp.MustCompile(`\d+(\.\d+)?(ms|s|m\d\ds|h\d\dm|d\d\dh) ago`), "AGO"},
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	for _, v := range volatile {
		got = v.re.ReplaceAllString(got, v.with)
	}
	path := filepath.Join("testdata", name+".html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (run go test -update to rewrite it, and review the diff)\n--- got:\n%s", name, path, got)
	}
}

func TestPagesAndFragments(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	frag := []string{"HX-Request", "true", "HX-Target", "live"}
	cases := []struct {
		name, path string
		hdr        []string
	}{
		{"overview", "/", nil},
		{"overview.live", "/", frag},
		{"tasks", "/ui/tasks", nil},
		{"tasks.live", "/ui/tasks?state=failed", frag},
		{"tasks.filtered", "/ui/tasks?state=completed&queue=FifoQ&type=echo&since=24h", nil},
		{"task", "/ui/tasks/" + f.done, nil},
		{"task.live", "/ui/tasks/" + f.failed, frag},
		{"task.hostile", "/ui/tasks/" + f.hostile, nil},
		{"submit", "/ui/tasks/new", nil},
		{"devices", "/ui/devices", nil},
		{"devices.live", "/ui/devices", frag},
		{"device", "/ui/devices/w1?period=1h", nil},
		{"device.live", "/ui/devices/w1", frag},
		{"logs", "/ui/logs?level=info", nil},
		{"logs.live", "/ui/logs", frag},
		{"keys", "/ui/keys", nil},
		{"queues", "/ui/queues", nil},
		{"queues.live", "/ui/queues", frag},
		{"workflows", "/ui/workflows", nil},
		{"workflows.live", "/ui/workflows", frag},
		{"workflow", "/ui/workflows/1", nil},
		{"workflow.live", "/ui/workflows/1", frag},
		{"run", fmt.Sprintf("/ui/runs/%d", f.run), nil},
		{"run.live", fmt.Sprintf("/ui/runs/%d", f.run), frag},
		{"pools", "/ui/pools", nil},
		{"pools.live", "/ui/pools", frag},
		{"pool", "/ui/pools/7", nil},
		{"pool.live", "/ui/pools/7", frag},
		{"device.drained", "/ui/devices/pool7-a?period=1h", nil},
		{"norun", "/ui/runs/999", nil},
		{"notfound", "/ui/tasks/task-nope", nil},
		{"nopage", "/ui/nope", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.do(t, "GET", c.path, nil, c.hdr...)
			want := http.StatusOK
			if c.name == "notfound" || c.name == "nopage" || c.name == "norun" {
				want = http.StatusNotFound
			}
			if a.status != want {
				t.Fatalf("GET %s = %d, want %d\n%s", c.path, a.status, want, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			golden(t, c.name, a.body)
		})
	}
}

func TestHostileTextIsEscaped(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	for _, path := range []string{"/ui/tasks/" + f.hostile, "/ui/tasks/" + f.failed, "/ui/tasks/" + f.done, "/"} {
		a := f.do(t, "GET", path, nil)
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>line</b>"} {
			if strings.Contains(a.body, bad) {
				t.Errorf("GET %s: the page holds %q unescaped", path, bad)
			}
		}
	}
	for _, path := range []string{"/ui/workflows", "/ui/workflows/1", fmt.Sprintf("/ui/runs/%d", f.run)} {
		if a := f.do(t, "GET", path, nil); strings.Contains(a.body, "<report>") || !strings.Contains(a.body, "nightly &lt;report&gt;") {
			t.Errorf("GET %s: the workflow's name is not escaped", path)
		}
	}
	if a := f.do(t, "GET", "/ui/tasks/"+f.hostile, nil); !strings.Contains(a.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the hostile payload is not shown as text:\n%s", a.body)
	}
}

func TestAssetsAreHashedAndCached(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	page := f.do(t, "GET", "/", nil).body
	paths := regexp.MustCompile(`/ui/assets/[^"]+`).FindAllString(page, -1)
	if len(paths) != 6 {
		t.Fatalf("the page links %d assets, want 6: %v", len(paths), paths)
	}
	for _, p := range paths {
		a := f.do(t, "GET", p, nil)
		if a.status != 200 || !strings.Contains(a.header.Get("Cache-Control"), "immutable") || a.header.Get("Content-Type") == "" {
			t.Errorf("GET %s = %d, Cache-Control %q, Content-Type %q", p, a.status, a.header.Get("Cache-Control"), a.header.Get("Content-Type"))
		}
	}
	if a := f.do(t, "GET", "/ui/assets/app.css", nil); a.status != 404 {
		t.Errorf("an unhashed asset name = %d, want 404", a.status)
	}
}

// csrfOf reads the CSRF token and the session cookie a page hands out.
func csrfOf(t testing.TB, a answer) (token, cookie string) {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", a.body)
	}
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == "drover_session" {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie is not HttpOnly and SameSite=Strict: %+v", c)
			}
			cookie = c.Name + "=" + c.Value
		}
	}
	return m[1], cookie
}

func TestActionsNeedTheSessionsCSRFToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	token, cookie := csrfOf(t, f.do(t, "GET", "/ui/tasks/new", nil))
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	form := url.Values{"type": {"echo"}, "payload": {`{"message":"x"}`}}

	if a := f.do(t, "POST", "/ui/tasks", form, "Cookie", cookie); a.status != http.StatusForbidden {
		t.Errorf("submit without a token = %d, want 403", a.status)
	}
	form.Set("csrf", token)
	if a := f.do(t, "POST", "/ui/tasks", form); a.status != http.StatusForbidden {
		t.Errorf("submit with a token but another session = %d, want 403", a.status)
	}
	if a := f.do(t, "POST", "/ui/tasks", form, "Cookie", cookie, "Sec-Fetch-Site", "cross-site"); a.status != http.StatusForbidden {
		t.Errorf("cross-site submit = %d, want 403", a.status)
	}
	a := f.do(t, "POST", "/ui/tasks", form, "Cookie", cookie)
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/ui/tasks/task-") {
		t.Fatalf("submit = %d, Location %q\n%s", a.status, a.header.Get("Location"), a.body)
	}
	id := strings.TrimPrefix(a.header.Get("Location"), "/ui/tasks/")
	a = f.do(t, "POST", "/ui/tasks/"+id+"/cancel", url.Values{"csrf": {token}}, "Cookie", cookie)
	if a.status != http.StatusSeeOther {
		t.Fatalf("cancel = %d\n%s", a.status, a.body)
	}
	if page := f.do(t, "GET", a.header.Get("Location"), nil, "Cookie", cookie); !strings.Contains(page.body, `class="flash" role="status">Task cancelled.`) {
		t.Errorf("after cancel (%s) the page says no \"Task cancelled.\"", a.header.Get("Location"))
	}
	if page := f.do(t, "GET", "/ui/tasks?flash=Your+key+leaked", nil); strings.Contains(page.body, "Your key leaked") {
		t.Error("an unsigned flash message from a link is shown")
	}
	if tk, _ := f.eng.Task(context.Background(), id); tk.State != domain.TaskCancelled {
		t.Errorf("after cancel the task is %s", tk.State)
	}
	if a := f.do(t, "POST", "/ui/tasks/"+id+"/retry", url.Values{"csrf": {token}}, "Cookie", cookie); a.status != http.StatusSeeOther {
		t.Errorf("retry = %d\n%s", a.status, a.body)
	}
	bad := url.Values{"csrf": {token}, "type": {"echo"}, "payload": {"{not json"}}
	if a := f.do(t, "POST", "/ui/tasks", bad, "Cookie", cookie); a.status != http.StatusBadRequest || !strings.Contains(a.body, "not valid JSON") {
		t.Errorf("a bad payload = %d, want 400 with the form and its error\n%s", a.status, a.body)
	}
}

func TestLoginAndScopes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	ctx := context.Background()
	read, err := f.keys.Create(ctx, auth.CreateParams{Name: "reader", Scopes: []auth.Scope{auth.ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := f.keys.Create(ctx, auth.CreateParams{Name: "boss", Scopes: []auth.Scope{auth.ScopeAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	if a := f.do(t, "GET", "/ui/tasks", nil); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/ui/login") {
		t.Fatalf("no session: GET /ui/tasks = %d, Location %q; want the login", a.status, a.header.Get("Location"))
	}
	loginPage := f.do(t, "GET", "/ui/login?next=/ui/tasks", nil)
	golden(t, "login", loginPage.body)
	token, cookie := csrfOf(t, loginPage)

	login := func(key string) string {
		a := f.do(t, "POST", "/ui/login", url.Values{"csrf": {token}, "key": {key}, "next": {"/ui/tasks/" + f.hostile}}, "Cookie", cookie)
		if a.status != http.StatusSeeOther {
			t.Fatalf("login = %d\n%s", a.status, a.body)
		}
		for _, c := range (&http.Response{Header: a.header}).Cookies() {
			if c.Name == "drover_session" {
				return c.Name + "=" + c.Value
			}
		}
		t.Fatal("login set no session cookie")
		return ""
	}
	if a := f.do(t, "POST", "/ui/login", url.Values{"csrf": {token}, "key": {"drv_nope"}}, "Cookie", cookie); a.status != 200 || !strings.Contains(a.body, "not accepted") {
		t.Errorf("a wrong key = %d\n%s", a.status, a.body)
	}
	rc := login(read.Token)
	if rc == cookie {
		t.Error("the session id did not change on login")
	}
	page := f.do(t, "GET", "/ui/tasks/"+f.hostile, nil, "Cookie", rc)
	if page.status != 200 || strings.Contains(page.body, `name="cancel"`) || strings.Contains(page.body, "/ui/keys") {
		t.Errorf("a read key sees a cancel button or the keys page (%d)\n%s", page.status, page.body)
	}
	if strings.Contains(page.body, read.Token) {
		t.Error("the page shows the session's key")
	}
	rtoken, _ := csrfOf(t, page)
	if a := f.do(t, "POST", "/ui/tasks/"+f.hostile+"/cancel", url.Values{"csrf": {rtoken}}, "Cookie", rc); a.status != http.StatusForbidden {
		t.Errorf("a read key cancelling = %d, want 403", a.status)
	}
	if a := f.do(t, "GET", "/ui/keys", nil, "Cookie", rc); a.status != http.StatusForbidden {
		t.Errorf("a read key on the keys page = %d, want 403", a.status)
	}
	// Pausing queues and draining devices is admin, killing runs write:
	// a read key sees none of their buttons, and is refused them anyway.
	for page, button := range map[string]string{"/ui/queues": `name="pause"`, "/ui/devices/w1": `name="drain"`, fmt.Sprintf("/ui/runs/%d", f.run): `name="kill"`} {
		if a := f.do(t, "GET", page, nil, "Cookie", rc); a.status != 200 || strings.Contains(a.body, button) {
			t.Errorf("a read key on %s (%d) sees %s", page, a.status, button)
		}
	}
	for _, action := range []string{"/ui/queues/FifoQ/pause", "/ui/devices/w1/drain", fmt.Sprintf("/ui/runs/%d/kill", f.run)} {
		if a := f.do(t, "POST", action, url.Values{"csrf": {rtoken}}, "Cookie", rc); a.status != http.StatusForbidden {
			t.Errorf("a read key: POST %s = %d, want 403", action, a.status)
		}
	}

	ac := login(admin.Token)
	page = f.do(t, "GET", "/ui/tasks/"+f.hostile, nil, "Cookie", ac)
	if !strings.Contains(page.body, `name="cancel"`) {
		t.Error("an admin key sees no cancel button")
	}
	atoken, _ := csrfOf(t, page)
	a := f.do(t, "POST", "/ui/keys", url.Values{"csrf": {atoken}, "name": {"ci"}, "scope": {"read", "write"}}, "Cookie", ac)
	if a.status != 200 || !strings.Contains(a.body, "not shown again") {
		t.Fatalf("create key = %d\n%s", a.status, a.body)
	}
	// Revoking the reader's key ends its session.
	if a := f.do(t, "POST", "/ui/keys/"+read.Key.ID+"/revoke", url.Values{"csrf": {atoken}}, "Cookie", ac); a.status != http.StatusSeeOther {
		t.Fatalf("revoke = %d\n%s", a.status, a.body)
	}
	if a := f.do(t, "GET", "/ui/tasks", nil, "Cookie", rc); a.status != http.StatusSeeOther {
		t.Errorf("a revoked key's session: GET = %d, want the login", a.status)
	}
	if a := f.do(t, "POST", "/ui/logout", url.Values{"csrf": {atoken}}, "Cookie", ac); a.status != http.StatusSeeOther {
		t.Errorf("logout = %d", a.status)
	}
	if a := f.do(t, "GET", "/", nil, "Cookie", ac); a.status != http.StatusSeeOther {
		t.Errorf("after logout GET / = %d, want the login", a.status)
	}
}

// TestQueueRunAndDrainActions: pause and resume a queue, drain and resume
// a device, kill and restart a run, each a POST with the session's token
// that the next page shows done.
func TestQueueRunAndDrainActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	ctx := context.Background()
	token, cookie := csrfOf(t, f.do(t, "GET", "/ui/queues", nil))
	post := func(path string, form url.Values) answer {
		t.Helper()
		if form == nil {
			form = url.Values{}
		}
		form.Set("csrf", token)
		a := f.do(t, "POST", path, form, "Cookie", cookie)
		if a.status != http.StatusSeeOther {
			t.Fatalf("POST %s = %d\n%s", path, a.status, a.body)
		}
		return f.do(t, "GET", a.header.Get("Location"), nil, "Cookie", cookie)
	}
	if a := f.do(t, "POST", "/ui/queues/FifoQ/pause", url.Values{}, "Cookie", cookie); a.status != http.StatusForbidden {
		t.Errorf("pause without the CSRF token = %d, want 403", a.status)
	}
	page := post("/ui/queues/FifoQ/pause", nil)
	if !strings.Contains(page.body, `action="/ui/queues/FifoQ/resume"`) {
		t.Errorf("after pause the queues page offers no resume for FifoQ:\n%s", page.body)
	}
	if q, _ := f.queues.Get(ctx, "FifoQ"); !q.Paused {
		t.Error("FifoQ is not paused")
	}
	post("/ui/queues/FifoQ/resume", nil)
	if q, _ := f.queues.Get(ctx, "FifoQ"); q.Paused {
		t.Error("FifoQ is still paused")
	}

	page = post("/ui/devices/w1/drain", nil)
	if !strings.Contains(page.body, `name="undrain"`) || !strings.Contains(page.body, "drained") {
		t.Errorf("after drain the device page shows no drained state:\n%s", page.body)
	}
	post("/ui/devices/w1/undrain", nil)
	if vs, _ := f.queues.Workers(ctx, queue.WorkerQuery{Name: "w1"}); len(vs) != 1 || vs[0].Suspended {
		t.Errorf("after resume w1 is %+v", vs)
	}

	run := fmt.Sprintf("/ui/runs/%d", f.run)
	page = post(run+"/kill", nil)
	if !strings.Contains(page.body, "r-killed") || !strings.Contains(page.body, `name="restart-failed"`) {
		t.Errorf("after kill the run page shows no killed state or restart:\n%s", page.body)
	}
	page = post(run+"/restart", url.Values{"mode": {"failed"}})
	if !strings.Contains(page.body, `name="kill"`) {
		t.Errorf("after restarting the failed steps the run is not active:\n%s", page.body)
	}
	post(run+"/kill", nil)
	r, err := f.flows.Run(ctx, f.run)
	if err != nil {
		t.Fatal(err)
	}
	page = post(run+"/restart", url.Values{"mode": {"steps"}, "action": {fmt.Sprint(r.Actions[1].ID)}})
	if !strings.Contains(page.body, `data-step="parse"><td>parse</td><td><span class="state r-waiting">`) &&
		!strings.Contains(page.body, `data-step="parse"><td>parse</td><td><span class="state r-pending">`) {
		t.Errorf("after restarting from parse, parse did not start again:\n%s", page.body)
	}
	post(run+"/kill", nil)
	page = f.do(t, "POST", run+"/restart", url.Values{"csrf": {token}, "mode": {"whole"}}, "Cookie", cookie)
	if loc := page.header.Get("Location"); !strings.HasPrefix(loc, "/ui/runs/") || strings.HasPrefix(loc, run+"?") {
		t.Errorf("restart whole went to %q, want a new run's page", loc)
	}
}

// TestTaskProgressShows: a running task's last progress report is on its
// page, its message escaped like every other worker-supplied text.
func TestTaskProgressShows(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	ctx := context.Background()
	out, err := f.eng.SubmitRequests(ctx, domain.Actor{}, []dispatch.TaskRequest{{Type: "sleep", Payload: json.RawMessage(`{"seconds":60}`)}})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].Task.ID
	w, err := f.eng.Worker(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	leased, err := f.eng.Lease(ctx, w, 2, 0) // the fixture's pending task and this one
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(leased, func(l *domain.Task) bool { return l.ID == id })
	if i < 0 {
		t.Fatalf("the sleep task was not leased: %+v", leased)
	}
	if _, err := f.eng.ReportProgress(ctx, "w1", []domain.Progress{{TaskID: id, Epoch: leased[i].LeaseEpoch, Fraction: 0.4,
		Message: "<i>copying</i>", Time: clock}}); err != nil {
		t.Fatal(err)
	}
	page := f.do(t, "GET", "/ui/tasks/"+id, nil).body
	for _, want := range []string{`<progress max="1" value="0.4">`, "40.0%", "&lt;i&gt;copying&lt;/i&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("the task's page lacks %s", want)
		}
	}
}
