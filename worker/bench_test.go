package worker

import (
	"strconv"
	"testing"
)

// BenchmarkNoopTasks runs no-op tasks through a worker and the in-process
// fake server: the worker's per-task cost (lease, run, batch, report) plus
// the fake server's, over real HTTP on loopback.
func BenchmarkNoopTasks(b *testing.B) {
	f := newFakeServer(b)
	startWorker(b, f, Config{Concurrency: 64, Logger: discardLogger()}, map[string]HandlerFunc{"noop": noop})
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "task-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for _, id := range ids {
			f.push(id, "noop", 1, `{}`)
		}
	}()
	for got := 0; got < b.N; got++ {
		<-f.results
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
