package dashboard_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
)

// taskState reads a task's state through the API.
func taskState(t *testing.T, srv *drovertest.Server, id string) string {
	t.Helper()
	resp, err := http.Get(srv.APIURL() + "/api/v1/tasks/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ Data api.TaskDetail }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	return env.Data.Task.Status
}

// press clicks the button sel in one step of the page's own script: the
// buttons below sit in live regions, which a refresh may replace between
// chromedp's finding a node and its clicking it.
func press(sel string) chromedp.Action {
	return chromedp.Evaluate(`document.querySelector(`+strconv.Quote(sel)+`).click()`, nil)
}

// TestBrowserWorkflowsQueuesDrain: a workflow's DAG draws; a run started
// from its page shows its steps' states change without a reload; a queue
// is paused and resumed from the queues page, and a device drained and
// resumed from its page, each holding back work until resumed.
func TestBrowserWorkflowsQueuesDrain(t *testing.T) {
	chromium(t)
	srv := drovertest.NewServer(t, drovertest.Options{
		HeartbeatInterval: 300 * time.Millisecond, LeaseTTL: 10 * time.Second, OfflineThreshold: 10 * time.Second})
	base := srv.APIURL()
	w1, _ := startWorker(t, srv, "w1")
	ctx := browser(t)
	var mark int

	// a ─┬─ b ─┬─ d
	//    └─ c ─┘
	body := `{"name": "diamond", "steps": [
		{"name": "a", "task_type": "ticker", "payload": {"n": 100}},
		{"name": "b", "task_type": "ticker", "payload": {"n": 3}, "depends_on": ["a"]},
		{"name": "c", "task_type": "ticker", "payload": {"n": 3}, "depends_on": ["a"]},
		{"name": "d", "task_type": "ticker", "payload": {"n": 3}, "depends_on": ["b", "c"]}]}`
	resp, err := http.Post(base+"/api/v1/workflows", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Data api.WorkflowResponse }
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create workflow = %d: %v", resp.StatusCode, err)
	}
	wfPage := fmt.Sprintf("%s/ui/workflows/%d", base, created.Data.Workflow.ID)

	t.Run("the DAG draws", func(t *testing.T) {
		var nodes, edges int
		var box []float64
		run(t, ctx, "dag",
			chromedp.Navigate(wfPage),
			within(20*time.Second, chromedp.WaitVisible(`svg.dag`, chromedp.ByQuery)),
			chromedp.Evaluate(`document.querySelectorAll("svg.dag .node").length`, &nodes),
			chromedp.Evaluate(`document.querySelectorAll("svg.dag path.edge").length`, &edges),
			// d is drawn right of b and c, which are right of a.
			chromedp.Evaluate(`["a","b","c","d"].map(s => document.querySelector('svg.dag [data-step="'+s+'"] rect').getBoundingClientRect().x)`, &box),
		)
		if nodes != 4 || edges != 4 {
			t.Errorf("the DAG has %d nodes and %d edges, want 4 and 4", nodes, edges)
		}
		if len(box) != 4 || !(box[0] < box[1] && box[1] == box[2] && box[2] < box[3]) {
			t.Errorf("the steps' x positions are %v; want a < b = c < d", box)
		}
	})

	t.Run("a run's steps change state live", func(t *testing.T) {
		var url string
		run(t, ctx, "run now",
			chromedp.Navigate(wfPage),
			chromedp.Click(`button[name="run"]`, chromedp.ByQuery),
			// A run's DAG is in its live region; a workflow's is not.
			within(20*time.Second, chromedp.WaitVisible(`#live svg.dag [data-step="a"]`, chromedp.ByQuery)),
			chromedp.Location(&url),
			chromedp.Evaluate(`window.__mark = 5`, nil),
		)
		if !strings.Contains(url, "/ui/runs/") {
			t.Fatalf("after Run now the browser is at %s", url)
		}
		run(t, ctx, "states",
			// a runs 10 s: long enough to be seen running on a loaded machine.
			within(30*time.Second, chromedp.WaitVisible(`svg.dag .n-running[data-step="a"]`, chromedp.ByQuery)),
			within(30*time.Second, chromedp.WaitVisible(`svg.dag .n-completed[data-step="a"]`, chromedp.ByQuery)),
			within(30*time.Second, chromedp.WaitVisible(`svg.dag .n-completed[data-step="d"]`, chromedp.ByQuery)),
			within(20*time.Second, chromedp.WaitVisible(`#live .r-completed`, chromedp.ByQuery)),
			chromedp.Evaluate(`window.__mark || 0`, &mark),
		)
		if mark != 5 {
			t.Error("the run's page was reloaded")
		}
	})

	t.Run("a live region holds still while a control of it has the focus", func(t *testing.T) {
		btn := `tr[data-queue="FifoQ"] button[name="pause"]`
		var same bool
		run(t, ctx, "focus",
			chromedp.Navigate(base+"/ui/queues"),
			within(20*time.Second, chromedp.WaitVisible(btn, chromedp.ByQuery)),
			chromedp.Evaluate(`window.__btn = document.querySelector(`+strconv.Quote(btn)+`); window.__btn.focus()`, nil),
		)
		submit(t, srv, "ticker", `{"n": 1}`) // the queues change: a refresh is due
		run(t, ctx, "held",
			within(20*time.Second, chromedp.Poll(`document.getElementById("live").dataset.stale === "1"`, nil)),
			chromedp.Evaluate(`window.__btn === document.querySelector(`+strconv.Quote(btn)+`) && document.activeElement === window.__btn`, &same),
			chromedp.Evaluate(`window.__btn.blur()`, nil),
			// Once the focus leaves, the region catches up.
			within(20*time.Second, chromedp.Poll(`!document.getElementById("live").dataset.stale && window.__btn !== document.querySelector(`+strconv.Quote(btn)+`)`, nil)),
		)
		if !same {
			t.Error("the focused button was replaced by a refresh")
		}
	})

	t.Run("pause and resume a queue from the page", func(t *testing.T) {
		row := `tr[data-queue="FifoQ"]`
		run(t, ctx, "pause",
			chromedp.Navigate(base+"/ui/queues"),
			chromedp.Evaluate(`window.confirm = () => true`, nil),
			within(20*time.Second, chromedp.WaitVisible(row+` button[name="pause"]`, chromedp.ByQuery)),
			press(row+` button[name="pause"]`),
			within(20*time.Second, chromedp.WaitVisible(row+` .q-paused`, chromedp.ByQuery)),
		)
		id := submit(t, srv, "ticker", `{"n": 1}`)
		time.Sleep(1500 * time.Millisecond) // a browser test: what must NOT happen needs a while
		if st := taskState(t, srv, id); st != "pending" {
			t.Fatalf("a task in the paused queue is %s", st)
		}
		run(t, ctx, "resume",
			press(row+` button[name="resume"]`),
			within(20*time.Second, chromedp.WaitVisible(row+` .q-running`, chromedp.ByQuery)),
		)
		drovertest.Eventually(t, 15*time.Second, func() bool { return taskState(t, srv, id) == "completed" }, "the task to run once resumed")
	})

	t.Run("drain a device and resume it", func(t *testing.T) {
		run(t, ctx, "drain",
			chromedp.Navigate(base+"/ui/devices/"+w1.ID()),
			within(20*time.Second, chromedp.WaitVisible(`button[name="drain"]`, chromedp.ByQuery)),
			press(`button[name="drain"]`),
			within(20*time.Second, chromedp.WaitVisible(`#live .w-suspended`, chromedp.ByQuery)),
		)
		id := submit(t, srv, "ticker", `{"n": 1}`)
		time.Sleep(1500 * time.Millisecond)
		if st := taskState(t, srv, id); st != "pending" {
			t.Fatalf("a task with only a drained worker is %s", st)
		}
		run(t, ctx, "undrain",
			press(`button[name="undrain"]`),
			within(20*time.Second, chromedp.WaitVisible(`button[name="drain"]`, chromedp.ByQuery)),
		)
		drovertest.Eventually(t, 15*time.Second, func() bool { return taskState(t, srv, id) == "completed" }, "the task to run once resumed")
	})
}
