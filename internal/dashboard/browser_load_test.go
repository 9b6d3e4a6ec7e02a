package dashboard_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/worker"
)

// TestBrowserKeepsUp measures whether one browser, with the overview and
// the tasks page open (one tab each), keeps up with a cluster finishing
// about 1,000 tasks a second: how far the completed count a page shows
// trails the count the workers have finished (sampled 4 times a second),
// how long a page takes to show the final count once the load stops, its
// refreshes, JS heap, DOM size and long tasks. It runs only when asked:
//
//	DROVER_DASH_LOAD=30s go test -run TestBrowserKeepsUp -v ./internal/dashboard
//
// (DROVER_DASH_RATE sets the rate, default 1000 tasks/s.) The workers'
// count is taken as each handler returns, before the server records the
// result, so the lag is slightly overstated.
func TestBrowserKeepsUp(t *testing.T) {
	span, err := time.ParseDuration(os.Getenv("DROVER_DASH_LOAD"))
	if err != nil || span <= 0 {
		t.Skip("a measurement: set DROVER_DASH_LOAD=30s to run it")
	}
	rate := 1000
	if n, err := strconv.Atoi(os.Getenv("DROVER_DASH_RATE")); err == nil && n > 0 {
		rate = n
	}
	chromium(t)
	srv := drovertest.NewServer(t, drovertest.Options{
		HeartbeatInterval: time.Second, LeaseTTL: 30 * time.Second, OfflineThreshold: 30 * time.Second})
	var done atomic.Int64
	for i := range 2 {
		w, err := worker.New(worker.Config{Server: srv.AgentURL(), Name: "load" + strconv.Itoa(i), Concurrency: 128, DrainTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		w.Handle("noop", func(ctx context.Context, task *worker.Task) (*api.TaskResult, error) {
			done.Add(1)
			return &api.TaskResult{}, nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = w.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-stopped })
	}

	root := browser(t)
	tabs := map[string]context.Context{}
	for name, path := range map[string]string{"overview": "/", "tasks": "/ui/tasks"} {
		tab, cancel := chromedp.NewContext(root)
		t.Cleanup(cancel)
		run(t, tab, "open "+name,
			chromedp.Navigate(srv.APIURL()+path),
			within(20*time.Second, chromedp.WaitVisible(`#live`, chromedp.ByQuery)),
			chromedp.Evaluate(probe, nil),
		)
		tabs[name] = tab
	}
	shown := map[string]string{
		"overview": `+document.querySelector('a.card[href="/ui/tasks?state=completed"] .big').textContent`,
		"tasks":    `+document.querySelector('a[href="/ui/tasks?state=completed"] .count').textContent`,
	}

	// The workers' finished count, every 20 ms: when it reached n.
	type point struct {
		at time.Time
		n  int64
	}
	var mu sync.Mutex
	var truth []point
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var bg sync.WaitGroup
	bg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			mu.Lock()
			truth = append(truth, point{time.Now(), done.Load()})
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	reachedAt := func(n int64) time.Time {
		mu.Lock()
		defer mu.Unlock()
		i, _ := slices.BinarySearchFunc(truth, n, func(p point, n int64) int {
			if p.n < n {
				return -1
			}
			return 1
		})
		if i == len(truth) {
			return time.Now()
		}
		return truth[i].at
	}

	// The load: rate tasks a second, paced by the clock (what a slow
	// submit missed is sent with the next), from two submitters.
	var submitted atomic.Int64
	loadCtx, stopLoad := context.WithTimeout(ctx, span)
	defer stopLoad()
	start := time.Now()
	for range 2 {
		bg.Go(func() {
			for loadCtx.Err() == nil {
				due := int64(time.Since(start).Seconds()*float64(rate)) - submitted.Load()
				if due < int64(rate/50) {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				n := min(due, 500)
				submitted.Add(n) // claimed before the call, so the other submitter does not send it too
				batch := make([]api.SubmitTaskRequest, n)
				for i := range batch {
					batch[i] = api.SubmitTaskRequest{TaskType: "noop"}
				}
				if _, err := srv.Client.Tasks.SubmitBatch(loadCtx, batch); err != nil {
					submitted.Add(-n)
				}
			}
		})
	}

	lags := map[string][]time.Duration{}
	sample := func(name string) {
		var n int64
		if err := chromedp.Run(tabs[name], chromedp.Evaluate(shown[name], &n)); err != nil {
			t.Logf("%s: %v", name, err)
			return
		}
		lags[name] = append(lags[name], time.Since(reachedAt(n)))
	}
	for loadCtx.Err() == nil {
		sample("overview")
		sample("tasks")
		time.Sleep(250 * time.Millisecond) // the sampling period of a measurement
	}
	elapsed := time.Since(start)
	total := submitted.Load()
	drovertest.Eventually(t, 60*time.Second, func() bool { return done.Load() >= total }, "the workers to finish every task")
	drained := time.Now()
	settle := map[string]time.Duration{}
	for name := range tabs {
		var n int64
		for time.Since(drained) < 30*time.Second {
			if chromedp.Run(tabs[name], chromedp.Evaluate(shown[name], &n)) == nil && n >= total {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		settle[name] = time.Since(drained)
	}
	stop()
	bg.Wait()

	t.Logf("load: %d tasks submitted in %s (%.0f tasks/s), all finished %s after the load stopped",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), drained.Sub(start.Add(elapsed)).Round(time.Millisecond))
	for _, name := range []string{"overview", "tasks"} {
		ls := slices.Clone(lags[name])
		slices.Sort(ls)
		if len(ls) == 0 {
			t.Errorf("%s: no samples", name)
			continue
		}
		var st struct {
			Refreshes       int     `json:"refreshes"`
			HeapStartMB     float64 `json:"heapStart"`
			HeapMB          float64 `json:"heap"`
			NodesStart      int     `json:"nodesStart"`
			Nodes           int     `json:"nodes"`
			LongTasks       int     `json:"longTasks"`
			LongestMS       float64 `json:"longest"`
			LongTotalMS     float64 `json:"longTotal"`
			SwapMeanMS      float64 `json:"swapMean"`
			SwapMaxMS       float64 `json:"swapMax"`
			RequestMeanMS   float64 `json:"reqMean"`
			RequestMaxMS    float64 `json:"reqMax"`
			SecondsObserved float64 `json:"seconds"`
		}
		var raw string
		run(t, tabs[name], "stats", chromedp.Evaluate(`JSON.stringify(window.__probe())`, &raw))
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatal(err)
		}
		q := func(p float64) time.Duration {
			return ls[min(len(ls)-1, int(p*float64(len(ls))))].Round(time.Millisecond)
		}
		// A page that falls behind lags more and more: compare the halves.
		half := func(xs []time.Duration) time.Duration {
			xs = slices.Clone(xs)
			slices.Sort(xs)
			return xs[len(xs)/2].Round(time.Millisecond)
		}
		n := len(lags[name])
		t.Logf("%s: lag p50 in the first half of the load %s, in the second %s", name, half(lags[name][:n/2]), half(lags[name][n/2:]))
		t.Logf("%s: lag behind the workers p50 %s, p95 %s, max %s (%d samples); final count shown %s after the last task finished",
			name, q(0.5), q(0.95), ls[len(ls)-1].Round(time.Millisecond), len(ls), settle[name].Round(time.Millisecond))
		t.Logf("%s: %d refreshes in %.0f s (%.1f/s), request mean %.0f ms max %.0f ms, swap mean %.1f ms max %.1f ms; "+
			"JS heap %.1f → %.1f MB, DOM nodes %d → %d; %d long tasks, longest %.0f ms, %.0f ms in all",
			name, st.Refreshes, st.SecondsObserved, float64(st.Refreshes)/st.SecondsObserved, st.RequestMeanMS, st.RequestMaxMS,
			st.SwapMeanMS, st.SwapMaxMS, st.HeapStartMB, st.HeapMB, st.NodesStart, st.Nodes, st.LongTasks, st.LongestMS, st.LongTotalMS)
		if q(0.95) > 5*time.Second || settle[name] > 10*time.Second {
			t.Errorf("%s fell behind: lag p95 %s, final count after %s", name, q(0.95), settle[name])
		}
	}
}

// probe installs counters in a page: its live refreshes (htmx requests and
// the time each took, and the time each swap took), long tasks, JS heap
// and DOM size; window.__probe() reads them.
const probe = `(() => {
  const s = {refreshes: 0, reqTotal: 0, reqMax: 0, swapTotal: 0, swapMax: 0, swaps: 0, longTasks: 0, longest: 0, longTotal: 0,
    t0: performance.now(), heapStart: (performance.memory ? performance.memory.usedJSHeapSize : 0) / 1048576,
    nodesStart: document.getElementsByTagName("*").length};
  let swapAt = 0;
  document.body.addEventListener("htmx:afterRequest", e => {
    s.refreshes++;
    const d = e.detail.requestConfig && e.detail.xhr ? performance.now() - (e.detail.xhr.__t0 || performance.now()) : 0;
    s.reqTotal += d; s.reqMax = Math.max(s.reqMax, d);
  });
  document.body.addEventListener("htmx:beforeRequest", e => { if (e.detail.xhr) e.detail.xhr.__t0 = performance.now(); });
  document.body.addEventListener("htmx:beforeSwap", () => { swapAt = performance.now(); });
  document.body.addEventListener("htmx:afterSettle", () => {
    if (!swapAt) return;
    const d = performance.now() - swapAt; swapAt = 0;
    s.swaps++; s.swapTotal += d; s.swapMax = Math.max(s.swapMax, d);
  });
  new PerformanceObserver(l => l.getEntries().forEach(e => {
    s.longTasks++; s.longTotal += e.duration; s.longest = Math.max(s.longest, e.duration);
  })).observe({type: "longtask", buffered: true});
  window.__probe = () => ({refreshes: s.refreshes, heapStart: s.heapStart,
    heap: (performance.memory ? performance.memory.usedJSHeapSize : 0) / 1048576,
    nodesStart: s.nodesStart, nodes: document.getElementsByTagName("*").length,
    longTasks: s.longTasks, longest: s.longest, longTotal: s.longTotal,
    swapMean: s.swaps ? s.swapTotal / s.swaps : 0, swapMax: s.swapMax,
    reqMean: s.refreshes ? s.reqTotal / s.refreshes : 0, reqMax: s.reqMax,
    seconds: (performance.now() - s.t0) / 1000});
})()`
