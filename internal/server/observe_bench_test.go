package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/api"
	"github.com/drover-run/drover/drovertest"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/insight"
	"github.com/drover-run/drover/internal/server"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/sqlite"
	"github.com/drover-run/drover/worker"
)

// BenchmarkHistoryQueries answers the metrics and statistics endpoints
// over 7 days of history from 100 workers (target: under 50 ms each):
// hour buckets for 7 days, minute buckets for the last day, and task
// counts for 3 task types per worker and hour, and the day buckets the
// sampler keeps beside them.
func BenchmarkHistoryQueries(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Now()
	eng, err := dispatch.New(st, dispatch.Options{Clock: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	const workers = 100
	var samples []store.MetricSample
	var stats []store.TaskStat
	for w := range workers {
		id := fmt.Sprintf("w-%03d", w)
		if _, err := st.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: &domain.Worker{ID: id, Name: id, Role: "compute",
			Resources: domain.Resources{CPUCores: 8, MemoryTotalGB: 16}, TaskTypes: []string{"echo"}, Queues: []string{"FifoQ"}, Concurrency: 4},
			Now: now.Add(-8 * 24 * time.Hour)}); err != nil {
			b.Fatal(err)
		}
		for h := range 7 * 24 {
			bucket := now.Truncate(time.Hour).Add(-time.Duration(h) * time.Hour)
			samples = append(samples, store.MetricSample{WorkerID: id, Width: store.MetricHour, Bucket: bucket, N: 720, CPUSum: 720 * 40,
				CPUMax: 90, MemSum: 720 * 50, MemMax: 80, DiskSum: 720 * 30, DiskMax: 30, UpSeconds: 3600, CPUCores: 8, MemoryTotalGB: 16})
			for _, typ := range []string{"echo", "shell", "http"} {
				stats = append(stats, store.TaskStat{Width: store.MetricHour, Bucket: bucket, DeviceID: id, TaskType: typ,
					Completed: 100, Failed: 2, DurationSum: 102 * 1.5, DurationN: 102})
			}
		}
		for d := range 8 {
			bucket := now.Truncate(store.MetricDay).Add(-time.Duration(d) * store.MetricDay)
			samples = append(samples, store.MetricSample{WorkerID: id, Width: store.MetricDay, Bucket: bucket, N: 17280, CPUSum: 17280 * 40,
				CPUMax: 90, MemSum: 17280 * 50, MemMax: 80, DiskSum: 17280 * 30, DiskMax: 30, UpSeconds: 86400, CPUCores: 8, MemoryTotalGB: 16})
			for _, typ := range []string{"echo", "shell", "http"} {
				stats = append(stats, store.TaskStat{Width: store.MetricDay, Bucket: bucket, DeviceID: id, TaskType: typ,
					Completed: 2400, Failed: 48, DurationSum: 2448 * 1.5, DurationN: 2448})
			}
		}
		for m := range 24 * 60 {
			bucket := now.Truncate(time.Minute).Add(-time.Duration(m) * time.Minute)
			samples = append(samples, store.MetricSample{WorkerID: id, Width: store.MetricMinute, Bucket: bucket, N: 12, CPUSum: 12 * 40,
				CPUMax: 90, MemSum: 12 * 50, MemMax: 80, DiskSum: 12 * 30, DiskMax: 30, UpSeconds: 60, CPUCores: 8, MemoryTotalGB: 16})
		}
	}
	for lo := 0; lo < len(samples); lo += 20000 {
		if err := st.MetricRecord(ctx, samples[lo:min(lo+20000, len(samples))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.TaskStatRecord(ctx, stats); err != nil {
		b.Fatal(err)
	}
	h := server.New(server.Options{Engine: eng, Insight: insight.New(st, nil, time.Now())}).Handler()
	for _, path := range []string{
		"/api/v1/cluster/metrics?period=1h",
		"/api/v1/cluster/metrics?period=24h",
		"/api/v1/cluster/metrics?period=7d",
		"/api/v1/cluster/metrics?period=30d",
		"/api/v1/stats/tasks?period=24h&group_by=device",
		"/api/v1/stats/tasks?period=7d&group_by=device",
		"/api/v1/stats/tasks?period=7d&group_by=hour",
		"/api/v1/stats/devices?period=7d",
		"/api/v1/devices/w-042",
	} {
		b.Run(strings.TrimPrefix(path, "/api/v1/"), func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
				if w.Code != 200 {
					b.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
				}
			}
		})
	}
}

// BenchmarkMonitorStream runs a 1,000 tasks/s load (submitted in batches
// of 50 every 50 ms, run by two in-process workers) with 10 SSE clients
// on GET /api/v1/monitor/stream?types=tasks, and checks that every client
// receives every task_completed event. It reports the events each client
// received per second and the lag of the last event behind the load.
func BenchmarkMonitorStream(b *testing.B) {
	const (
		clients = 10
		rate    = 1000 // tasks per second
		seconds = 5
		batch   = 50
	)
	for b.Loop() {
		srv := drovertest.NewServer(b, drovertest.Options{})
		for i := range 2 {
			srv.StartWorker(b, worker.Config{Name: fmt.Sprintf("bench-%d", i), Concurrency: 200})
		}
		total := rate * seconds
		var received [clients]atomic.Int64
		var events [clients]atomic.Int64
		var wg sync.WaitGroup
		ctx, cancel := context.WithCancel(context.Background())
		connected := make(chan struct{}, clients)
		for c := range clients {
			wg.Go(func() {
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.APIURL()+"/api/v1/monitor/stream?types=tasks", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				defer resp.Body.Close()
				connected <- struct{}{}
				sc := bufio.NewScanner(resp.Body)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				for sc.Scan() {
					line := sc.Text()
					if strings.HasPrefix(line, "data: ") {
						events[c].Add(1)
						if strings.Contains(line, `"type":"task_completed"`) {
							if received[c].Add(1) == int64(total) {
								return
							}
						}
					}
				}
			})
		}
		for range clients {
			<-connected
		}
		start := time.Now()
		tick := time.NewTicker(time.Second * batch / rate)
		for sent := 0; sent < total; sent += batch {
			reqs := make([]api.SubmitTaskRequest, batch)
			for i := range reqs {
				reqs[i] = api.SubmitTaskRequest{TaskType: "echo", Payload: []byte(`{"message":"x"}`)}
			}
			if _, err := srv.Client.Tasks.SubmitBatch(context.Background(), reqs); err != nil {
				b.Fatal(err)
			}
			<-tick.C
		}
		tick.Stop()
		loadEnd := time.Since(start)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cancel()
			<-done
			for c := range clients {
				b.Logf("client %d received %d of %d task_completed", c, received[c].Load(), total)
			}
			b.Fatal("clients did not receive every event")
		}
		elapsed := time.Since(start)
		cancel()
		var sum int64
		for c := range clients {
			if got := received[c].Load(); got != int64(total) {
				b.Errorf("client %d received %d task_completed, want %d", c, got, total)
			}
			sum += events[c].Load()
		}
		b.ReportMetric(float64(sum)/clients/elapsed.Seconds(), "events/s/client")
		b.ReportMetric(float64(total)/loadEnd.Seconds(), "tasks/s")
		b.ReportMetric((elapsed-loadEnd).Seconds()*1000, "ms-drain")
		_, _ = io.Discard.Write(nil)
	}
}
