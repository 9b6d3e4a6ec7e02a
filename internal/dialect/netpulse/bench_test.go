package netpulse_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/dialect/netpulse"
	"github.com/drover-run/drover/internal/dispatch"
	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/httpapi"
	"github.com/drover-run/drover/internal/queue"
	"github.com/drover-run/drover/internal/store"
	"github.com/drover-run/drover/internal/store/sqlite"
)

// The measured target of document 003's API (issue 11): GET /job?queue=FifoQ
// and GET /worker under 20 ms p99 with 100,000 jobs and 1,000 workers
// stored, on SQLite, through the whole HTTP stack. Run with
//
//	go test -run '^$' -bench NetPulse -benchtime 2000x ./internal/dialect/netpulse/
//
// Each reports p50 and p99 (ms) of its requests and the process's CPU time
// per request (server and client); the fixture is built once.

const (
	benchJobs    = 100_000
	benchWorkers = 1_000
)

var fixture struct {
	srv  *httptest.Server
	done func()
}

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	if fixture.srv != nil {
		return fixture.srv
	}
	ctx := context.Background()
	dir, err := mkdirTemp()
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := 0; i < benchWorkers; i++ {
		queues := []string{domain.DefaultQueue}
		if i%2 == 1 {
			queues = []string{domain.PinnedQueue(fmt.Sprintf("10.0.%d.%d", i/256, i%256))}
		}
		w := &domain.Worker{ID: fmt.Sprintf("worker-%04d", i), Name: fmt.Sprintf("worker-%04d", i), Hostname: fmt.Sprintf("node-%03d", i/10),
			Queues: queues, TaskTypes: []string{"echo"}, Concurrency: 4, PID: 1000 + i, CredentialHash: fmt.Sprintf("h%d", i),
			State: domain.WorkerOnline}
		if _, err := st.WorkerRegister(ctx, &store.WorkerRegisterParams{Worker: w}); err != nil {
			b.Fatal(err)
		}
	}
	for done := 0; done < benchJobs; done += 1000 {
		batch := make([]*domain.Task, 1000)
		for i := range batch {
			q := domain.DefaultQueue
			if (done+i)%4 == 3 {
				q = domain.PinnedQueue(fmt.Sprintf("10.0.0.%d", (done+i)%250))
			}
			at := now.Add(time.Duration(done+i) * time.Microsecond)
			batch[i] = &domain.Task{ID: domain.NewTaskID(at), Type: "echo", Payload: []byte(`{"message":"show version"}`),
				Priority: domain.PriorityNormal, Queue: q, TimeoutSeconds: 60, State: domain.TaskPending, CreatedAt: at, AvailableAt: at}
		}
		if _, err := st.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: batch}); err != nil {
			b.Fatal(err)
		}
	}
	// Half the FifoQ workers are busy: one running lease each.
	for i := 0; i < benchWorkers; i += 4 {
		w, err := st.WorkerGet(ctx, fmt.Sprintf("worker-%04d", i))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.TaskLease(ctx, &store.TaskLeaseParams{Worker: w, Max: 1, TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	eng, err := dispatch.New(st, dispatch.Options{})
	if err != nil {
		b.Fatal(err)
	}
	routes := netpulse.Routes(netpulse.Deps{Queues: queue.New(st, eng, queue.Options{})})
	h, _ := httpapi.Build(routes, netpulse.WriteError, slog.New(slog.DiscardHandler))
	fixture.srv = httptest.NewServer(h)
	fixture.done = func() { fixture.srv.Close(); st.Close() }
	return fixture.srv
}

func benchGet(b *testing.B, path string) {
	srv := benchServer(b)
	get := func() {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && path != "/nope" {
			b.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
	}
	get() // warm the page cache and the connection
	lat := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		get()
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	// CPU time of the whole process (server and client sides) per request:
	// what a request costs whatever else the shared machine runs.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(lat)), "cpu-ms/op")
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func BenchmarkNetPulseJobsByQueue(b *testing.B) { benchGet(b, "/job?queue=FifoQ") }

func BenchmarkNetPulseWorkers(b *testing.B) { benchGet(b, "/worker") }

func BenchmarkNetPulseJobsByHost(b *testing.B) { benchGet(b, "/job?host=10.0.0.7") }

func BenchmarkNetPulseJobsByStatus(b *testing.B) { benchGet(b, "/job?status=started") }

// BenchmarkNetPulseNotFound is the noise floor: a 404 that reads nothing,
// through the same stack, on the same shared machine in the same run.
func BenchmarkNetPulseNotFound(b *testing.B) { benchGet(b, "/nope") }

var benchDir string

func mkdirTemp() (string, error) {
	var err error
	benchDir, err = os.MkdirTemp("", "netpulse-bench-")
	return benchDir, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.done != nil {
		fixture.done()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
