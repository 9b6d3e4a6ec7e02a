package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/internal/app"
	"github.com/drover-run/drover/worker"
)

// Browser tests: a real server and in-process workers, driven through
// Debian's chromium with chromedp. Without a chromium they skip, except
// in CI (CI=true), where .ci/run installs it and a skip would hide a gap.

func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	for _, name := range []string{os.Getenv("DROVER_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium binary found, and CI=true: .ci/run installs Debian's chromium; the browser tests must run")
	}
	t.Skip("no chromium binary found (apt-get install chromium, or set DROVER_CHROMIUM): skipping the browser tests")
	return ""
}

// browser starts a headless chromium for the test and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	// Not t.TempDir: chromium's helper processes may still write to its
	// profile as the browser exits, and TempDir's cleanup fails on that.
	profile, err := os.MkdirTemp("", "drover-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(390, 844), // a phone's width
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); _ = os.RemoveAll(profile) })
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Run(ctx); err != nil { // start the browser now, so a failure says so
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var html string
		_ = chromedp.Run(context.WithoutCancel(ctx), chromedp.OuterHTML("main", &html, chromedp.ByQuery, chromedp.AtLeast(0)))
		t.Fatalf("%s: %v\npage main:\n%s", what, err, html)
	}
}

// within bounds one step: a step waiting for something that never comes fails alone.
func within(d time.Duration, actions ...chromedp.Action) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return chromedp.Run(ctx, actions...)
	})
}

// startWorker runs an in-process worker with a "ticker" task type
// (payload {"n": N}: N log lines, 100 ms apart) until stop is called.
func startWorker(t *testing.T, srv *drovertest.Server, name string) (w *worker.Worker, stop func()) {
	t.Helper()
	w, err := worker.New(worker.Config{Server: srv.AgentURL(), Name: name, Concurrency: 2, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.Handle("ticker", func(ctx context.Context, task *worker.Task) (*api.TaskResult, error) {
		var p struct{ N int }
		_ = json.Unmarshal(task.Payload, &p)
		for i := range p.N {
			fmt.Fprintf(task.Log, "tick %d\n", i)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		return &api.TaskResult{Output: "ticked"}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	var once bool
	stop = func() {
		if !once {
			once = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	drovertest.Eventually(t, 10*time.Second, func() bool { return w.ID() != "" }, "worker "+name+" to register")
	return w, stop
}

// submit posts a task as raw JSON (not through the SDK, whose encoder
// would escape the markup a hostile payload must carry as it is).
func submit(t *testing.T, srv *drovertest.Server, typ, payload string) string {
	t.Helper()
	body := `{"task_type": "` + typ + `", "payload": ` + payload + `}`
	resp, err := http.Post(srv.APIURL()+"/api/v1/tasks", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ Data api.SubmitTaskResponse }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Data.TaskID == "" {
		t.Fatalf("submit %s = %d: %v", typ, resp.StatusCode, err)
	}
	return env.Data.TaskID
}

func TestBrowser(t *testing.T) {
	chromium(t) // skip before starting anything
	// Lenient timings: a loaded CI machine under -race must not lose leases.
	srv := drovertest.NewServer(t, drovertest.Options{
		HeartbeatInterval: 300 * time.Millisecond, LeaseTTL: 10 * time.Second, OfflineThreshold: 10 * time.Second})
	base := srv.APIURL()
	w1, _ := startWorker(t, srv, "w1")
	w2, stopW2 := startWorker(t, srv, "w2")
	ctx := browser(t) // closed before the server and workers stop
	var mark int

	t.Run("submit from the page, watch it complete without a reload, read its log", func(t *testing.T) {
		var url, log string
		run(t, ctx, "submit",
			chromedp.Navigate(base+"/ui/tasks/new"),
			chromedp.SetValue("#type", "ticker", chromedp.ByQuery),
			chromedp.SetValue("#payload", `{"n": 12}`, chromedp.ByQuery),
			chromedp.Click(`button[name="submit"]`, chromedp.ByQuery),
			within(10*time.Second, chromedp.WaitVisible(`#live .state`, chromedp.ByQuery)),
			chromedp.Location(&url),
			chromedp.Evaluate(`window.__mark = 42`, nil),
		)
		if !strings.Contains(url, "/ui/tasks/task-") {
			t.Fatalf("after submit the browser is at %s", url)
		}
		run(t, ctx, "wait for completed",
			within(20*time.Second, chromedp.WaitVisible(`#live .s-completed`, chromedp.ByQuery)),
			within(10*time.Second, chromedp.Poll(`document.getElementById("log").textContent.includes("tick 11")`, nil)),
			chromedp.Evaluate(`window.__mark || 0`, &mark),
			chromedp.Text("#log", &log, chromedp.ByQuery),
		)
		if mark != 42 {
			t.Error("the page was reloaded on its way to completed")
		}
		if !strings.Contains(log, "tick 0") {
			t.Errorf("the log shows %q", log)
		}
	})

	t.Run("cancel a running task", func(t *testing.T) {
		id := submit(t, srv, "ticker", `{"n": 600}`)
		run(t, ctx, "cancel",
			chromedp.Navigate(base+"/ui/tasks/"+id),
			within(10*time.Second, chromedp.WaitVisible(`#live .s-running`, chromedp.ByQuery)),
			within(10*time.Second, chromedp.Poll(`document.getElementById("log").textContent.includes("tick 2")`, nil)),
			chromedp.Evaluate(`window.confirm = () => true`, nil),
			chromedp.Click(`button[name="cancel"]`, chromedp.ByQuery),
			within(10*time.Second, chromedp.WaitVisible(`#live .s-cancelled`, chromedp.ByQuery)),
		)
	})

	t.Run("a payload holding a script shows as text", func(t *testing.T) {
		id := submit(t, srv, "echo", `{"message": "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 1\">"}`)
		var payload string
		var pwned bool
		run(t, ctx, "hostile",
			chromedp.Navigate(base+"/ui/tasks/"+id),
			within(10*time.Second, chromedp.WaitVisible(`#live .s-completed`, chromedp.ByQuery)),
			chromedp.Text("pre.json", &payload, chromedp.ByQuery),
			chromedp.Evaluate(`window.__pwned === 1`, &pwned),
		)
		if !strings.Contains(payload, "<script>window.__pwned = 1</script>") || pwned {
			t.Errorf("payload shown as %q; script ran: %v", payload, pwned)
		}
	})

	t.Run("the device history chart draws", func(t *testing.T) {
		var size []float64
		run(t, ctx, "chart",
			chromedp.Navigate(base+"/ui/devices/"+w1.ID()+"?period=1h"),
			within(10*time.Second, chromedp.WaitVisible(`div.chart canvas`, chromedp.ByQuery)),
			chromedp.Evaluate(`(() => { const c = document.querySelector("div.chart canvas"); return [c.width, c.height]; })()`, &size),
		)
		if len(size) != 2 || size[0] <= 0 || size[1] <= 0 {
			t.Errorf("the chart's canvas is %v", size)
		}
	})

	t.Run("a stopped worker goes offline on the page", func(t *testing.T) {
		row := fmt.Sprintf(`tr:has(a[href="/ui/devices/%s"])`, w2.ID())
		run(t, ctx, "devices",
			chromedp.Navigate(base+"/ui/devices"),
			within(10*time.Second, chromedp.WaitVisible(row+` .w-online, `+row+` .w-idle, `+row+` .w-busy`, chromedp.ByQuery)),
			chromedp.Evaluate(`window.__mark = 7`, nil),
		)
		stopW2()
		run(t, ctx, "offline",
			within(15*time.Second, chromedp.WaitVisible(row+` .w-offline`, chromedp.ByQuery)),
			chromedp.Evaluate(`window.__mark || 0`, &mark),
		)
		if mark != 7 {
			t.Error("the devices page was reloaded")
		}
	})
}

// TestBrowserAuth: with --auth, no key shows the login, and a read key's
// task page shows no cancel button.
func TestBrowserAuth(t *testing.T) {
	chromium(t)
	const adminKey = "browser-test-admin-key"
	runCtx, stop := context.WithCancel(context.Background())
	srv, err := app.NewServer(runCtx, app.ServerConfig{Port: -1, AgentPort: -1, Store: "sqlite://" + filepath.Join(t.TempDir(), "d.db"),
		Version: "test", Security: app.Security{Auth: true, APIKey: adminKey}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("server stopped with: %v", err)
		}
	})
	ctx := browser(t)
	base := srv.APIURL()
	call := func(path string, body any, out any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("X-API-Key", adminKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		env := struct{ Data json.RawMessage }{}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s = %d: %v", path, resp.StatusCode, err)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatal(err)
		}
	}
	var key api.CreatedKey
	call("/api/v1/keys", api.CreateKeyRequest{Name: "reader", Scopes: []string{"read"}}, &key)
	var task api.SubmitTaskResponse
	call("/api/v1/tasks", map[string]any{"task_type": "echo", "payload": map[string]string{"message": "hi"}}, &task)

	var buttons int
	run(t, ctx, "login",
		chromedp.Navigate(base+"/ui/tasks/"+task.TaskID),
		within(10*time.Second, chromedp.WaitVisible(`input#key`, chromedp.ByQuery)),
		chromedp.SetValue(`input#key`, key.Token, chromedp.ByQuery),
		chromedp.Submit(`input#key`, chromedp.ByQuery),
		within(10*time.Second, chromedp.WaitVisible(`#live .s-pending`, chromedp.ByQuery)),
		chromedp.Evaluate(`document.querySelectorAll('button[name="cancel"]').length`, &buttons),
	)
	if buttons != 0 {
		t.Error("a read key's task page shows a cancel button")
	}
	var cookie string
	run(t, ctx, "cookie", chromedp.Evaluate(`document.cookie`, &cookie))
	if cookie != "" {
		t.Errorf("scripts can read a cookie: %q", cookie)
	}
}
