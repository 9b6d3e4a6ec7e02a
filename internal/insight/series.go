package insight

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Series is one device's history over a period, one point per bucket it
// was seen in (oldest first), for charts: the bucket's start, average CPU
// and memory use in percent, and the tasks that ended in it.
type Series struct {
	Period Period
	Times  []time.Time
	CPU    []float64
	Memory []float64
	Tasks  []int64
}

// seriesWidth is the bucket width a chart of each period reads: fine
// enough to show a shape, few enough points to draw at once.
var seriesWidth = map[string]time.Duration{
	"1h": store.MetricMinute, "24h": store.MetricHour, "7d": store.MetricHour, "30d": store.MetricDay,
}

// DeviceSeries is worker id's history over p.
func (s *Service) DeviceSeries(ctx context.Context, id string, p Period) (*Series, error) {
	width := cmp.Or(seriesWidth[p.Name], p.Width)
	since := s.now().Add(-p.Span).Truncate(width)
	out := &Series{Period: p, Times: []time.Time{}, CPU: []float64{}, Memory: []float64{}, Tasks: []int64{}}
	ms, err := s.store.MetricList(ctx, &store.MetricListParams{WorkerID: id, Width: width, Since: since})
	if err != nil {
		return nil, err
	}
	group := store.GroupHour // by bucket, whatever its width
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: width, Since: since, DeviceID: id, GroupBy: group})
	if err != nil {
		return nil, err
	}
	tasks := map[int64]int64{}
	for _, t := range ts {
		tasks[t.Bucket.Unix()] = t.Completed + t.Failed + t.Cancelled
	}
	for _, m := range ms {
		if m.N == 0 {
			continue
		}
		out.Times = append(out.Times, m.Bucket.UTC())
		out.CPU = append(out.CPU, round1(m.CPUSum/float64(m.N)))
		out.Memory = append(out.Memory, round1(m.MemSum/float64(m.N)))
		out.Tasks = append(out.Tasks, tasks[m.Bucket.Unix()])
	}
	return out, nil
}

// QueueLoad is one queue's waiting and running work now.
type QueueLoad struct {
	Queue            string
	Pending, Running int64
	OldestPending    time.Time // zero when none waits
}

// BusiestQueues are the n queues with the most pending and running tasks,
// busiest first.
func (s *Service) BusiestQueues(ctx context.Context, n int) ([]QueueLoad, error) {
	qs, err := s.store.TaskQueueStats(ctx)
	if err != nil {
		return nil, err
	}
	by := map[string]*QueueLoad{}
	for _, q := range qs {
		if q.State != domain.TaskPending && q.State != domain.TaskRunning {
			continue
		}
		l := by[q.Queue]
		if l == nil {
			l = &QueueLoad{Queue: q.Queue}
			by[q.Queue] = l
		}
		if q.State == domain.TaskPending {
			l.Pending += q.Count
			if !q.OldestPending.IsZero() && (l.OldestPending.IsZero() || q.OldestPending.Before(l.OldestPending)) {
				l.OldestPending = q.OldestPending
			}
		} else {
			l.Running += q.Count
		}
	}
	out := make([]QueueLoad, 0, len(by))
	for _, l := range by {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b QueueLoad) int {
		return cmp.Or(cmp.Compare(b.Pending+b.Running, a.Pending+a.Running), cmp.Compare(a.Queue, b.Queue))
	})
	return out[:min(n, len(out))], nil
}

// Throughput is task outcomes per bucket over a period, oldest first.
type Throughput struct {
	Times                        []time.Time
	Completed, Failed, Cancelled []int64
}

// TaskThroughput counts the tasks that ended over p, per bucket of p's width.
func (s *Service) TaskThroughput(ctx context.Context, p Period) (*Throughput, error) {
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: p.Width, Since: p.Since, GroupBy: store.GroupHour})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ts, func(a, b store.TaskStat) int { return a.Bucket.Compare(b.Bucket) })
	out := &Throughput{}
	for _, t := range ts {
		out.Times = append(out.Times, t.Bucket.UTC())
		out.Completed = append(out.Completed, t.Completed)
		out.Failed = append(out.Failed, t.Failed)
		out.Cancelled = append(out.Cancelled, t.Cancelled)
	}
	return out, nil
}
