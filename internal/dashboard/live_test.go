package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
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
	bus, signals := liveStream(t, "tasks,devices")

	const events = 3000
	start := time.Now()
	for i := range events {
		bus.Publish(domain.Event{Type: domain.EventTaskCompleted, TaskID: fmt.Sprintf("task-%d", i), Message: "done"})
	}
	published := time.Since(start)
	counts := map[string]int{}
	var lastAt time.Time
	// The bus stores the burst before it delivers it, which a loaded
	// machine (under -race) may take seconds over: collect until the
	// signals stop for longer than the trailing refresh's delay.
	deadline := time.After(published + 30*time.Second)
	quiet := time.NewTimer(time.Hour)
	defer quiet.Stop()
collect:
	for {
		select {
		case name, ok := <-signals:
			if !ok {
				break collect
			}
			counts[name]++
			lastAt = time.Now()
			quiet.Reset(3 * time.Second)
		case <-quiet.C:
			break collect
		case <-deadline:
			break collect
		}
	}
	// At most one signal per 200 ms throttle while the burst is delivered,
	// plus a trailing one: far fewer than one per event.
	max := int(lastAt.Sub(start)/(200*time.Millisecond)) + 3
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

// liveStream serves a dashboard over a running bus and opens its live
// stream for topics; it returns the bus and the names of the signals the
// stream sends.
func liveStream(t *testing.T, topics string) (*event.Bus, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "live.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bus := event.New(event.Options{Store: st})
	busDone := make(chan struct{})
	go func() { defer close(busDone); _ = bus.Run(ctx) }()
	d, err := dashboard.New(dashboard.Options{Engine: eng, Insight: insight.New(st, nil, time.Now()), Bus: bus,
		Throttle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter(func(w http.ResponseWriter, r *http.Request, err error) { http.Error(w, err.Error(), 500) })
	rt.Add(d.Routes()...)
	srv := httptest.NewServer(rt)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/ui/live?topics="+topics+"&from="+fmt.Sprint(bus.Last()), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	signals := make(chan string, 1000)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				signals <- name
			}
		}
		close(signals)
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-readDone
		srv.Close()
		<-busDone
		st.Close()
	})
	return bus, signals
}

// TestLiveTopics: each event signals the topics of the pages that show
// what it changed, and no other.
func TestLiveTopics(t *testing.T) {
	t.Parallel()
	audit, _ := json.Marshal(map[string]any{"details": map[string]any{"queue": "FifoQ"}})
	cases := []struct {
		name  string
		event domain.Event
		want  []string
	}{
		{"a heartbeat", domain.Event{Type: domain.EventDeviceUpdate, DeviceID: "w1", Message: "heartbeat"}, []string{"devices"}},
		{"a worker going offline", domain.Event{Type: domain.EventDeviceOffline, DeviceID: "w1", Message: "offline"}, []string{"devices", "pools", "queues"}},
		{"a task ending", domain.Event{Type: domain.EventTaskCompleted, TaskID: "task-1", Message: "done"}, []string{"queues", "runs", "tasks"}},
		{"a queue paused", domain.Event{Type: domain.EventLogEntry, Component: "audit", Message: "queue paused", Data: audit}, []string{"devices", "logs", "queues"}},
		{"a run ended", domain.Event{Type: domain.EventLogEntry, Component: "workflow", Message: "workflow run ended"}, []string{"logs", "runs"}},
		{"a pool scaled", domain.Event{Type: domain.EventPoolScaled, Message: "scaled"}, []string{"pools"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bus, signals := liveStream(t, "tasks,devices,logs,queues,runs,pools")
			bus.Publish(c.event)
			got := map[string]bool{}
			// The signals of one event come in one write; the trailing
			// refresh repeats them 1.5 s later.
			got[<-signals] = true
			for len(got) < len(c.want) {
				select {
				case name := <-signals:
					got[name] = true
				case <-time.After(5 * time.Second):
					t.Fatalf("signals %v, want %v", slices.Sorted(maps.Keys(got)), c.want)
				}
			}
			// Any other topic would have come in the same write.
			for drain := time.After(300 * time.Millisecond); ; {
				select {
				case name := <-signals:
					got[name] = true
					continue
				case <-drain:
				}
				break
			}
			if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, c.want) {
				t.Errorf("signals %v, want %v", names, c.want)
			}
		})
	}
}
