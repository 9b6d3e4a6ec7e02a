package dashboard_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/dashboard"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// TestLiveCoalesces: a burst of task events at well over 1,000 a second
// reaches an open tab as a bounded number of "tasks" signals (one per
// Throttle, and a trailing one), never one per event, and the last signal
// comes after the last event.
func TestLiveCoalesces(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "live.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus := event.New(event.Options{Store: st})
	busDone := make(chan struct{})
	go func() { defer close(busDone); _ = bus.Run(ctx) }()
	defer func() { cancel(); <-busDone }()
	d, err := dashboard.New(dashboard.Options{Engine: eng, Insight: insight.New(st, nil, time.Now()), Bus: bus,
		Throttle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter(func(w http.ResponseWriter, r *http.Request, err error) { http.Error(w, err.Error(), 500) })
	rt.Add(d.Routes()...)
	srv := httptest.NewServer(rt)
	defer srv.Close()

	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/live?topics=tasks,devices&from="+fmt.Sprint(bus.Last()), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	signals := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				signals <- name
			}
		}
		close(signals)
	}()

	const events = 3000
	start := time.Now()
	for i := range events {
		bus.Publish(domain.Event{Type: domain.EventTaskCompleted, TaskID: fmt.Sprintf("task-%d", i), Message: "done"})
	}
	published := time.Since(start)
	counts := map[string]int{}
	var lastAt time.Time
	deadline := time.After(published + 3*time.Second)
collect:
	for {
		select {
		case name, ok := <-signals:
			if !ok {
				break collect
			}
			counts[name]++
			lastAt = time.Now()
		case <-deadline:
			break collect
		}
	}
	// One signal per 200 ms throttle during the burst, plus a trailing one.
	max := int(published/(200*time.Millisecond)) + 3
	if counts["tasks"] < 2 || counts["tasks"] > max {
		t.Errorf("%d task events in %s gave %d tasks signals; want 2..%d", events, published.Round(time.Millisecond), counts["tasks"], max)
	}
	if counts["devices"] != 0 {
		t.Errorf("task events gave %d devices signals", counts["devices"])
	}
	if lastAt.Sub(start) < published {
		t.Error("no signal came after the burst ended")
	}
	t.Logf("%d events in %s: %v signals", events, published.Round(time.Millisecond), counts)
}
