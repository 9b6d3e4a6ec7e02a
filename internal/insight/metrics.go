package insight

import (
	"context"
	"time"

	"github.com/drover-run/drover/internal/store"
)

// Usage is a resource's average and peak use over a period, in percent,
// and the capacity of the devices online now.
type Usage struct {
	Average, Peak float64
	Cores         int     // cpu
	TotalGB       float64 // memory, disk
}

// Metrics is the cluster's resource use and task outcomes over a period.
type Metrics struct {
	Period            Period
	CPU, Memory, Disk Usage
	// Connectivity: devices online now and registered now, heartbeats
	// received over the period, and the devices' seen-online time as a
	// share of the period.
	Connected, Devices int
	Heartbeats         int64
	Availability       float64
	Tasks              TaskOutcomes
}

// TaskOutcomes counts tasks that ended over a period.
type TaskOutcomes struct {
	Completed, Failed, Cancelled int64
	AverageSeconds               float64 // of the attempts that ran to an end
}

// Metrics summarises the metric history over p.
func (s *Service) Metrics(ctx context.Context, p Period) (*Metrics, error) {
	ws, err := s.store.WorkerList(ctx, &store.WorkerListParams{})
	if err != nil {
		return nil, err
	}
	sums, err := s.store.MetricSummary(ctx, &store.MetricSummaryParams{Width: p.Width, Since: p.Since})
	if err != nil {
		return nil, err
	}
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: p.Width, Since: p.Since})
	if err != nil {
		return nil, err
	}
	var (
		n              int64
		cpu, mem, disk float64
		up, window     float64
		upOf           = map[string]float64{}
	)
	m := &Metrics{Period: p, Devices: len(ws), Tasks: outcomes(ts)}
	for _, x := range sums {
		n += x.N
		cpu, mem, disk = cpu+x.CPUSum, mem+x.MemSum, disk+x.DiskSum
		upOf[x.WorkerID] = x.UpSeconds
		m.CPU.Peak, m.Memory.Peak, m.Disk.Peak = max(m.CPU.Peak, x.CPUMax), max(m.Memory.Peak, x.MemMax), max(m.Disk.Peak, x.DiskMax)
	}
	now := s.now()
	seen := machines{}
	for _, wk := range ws {
		// Each registered device's seen-online time over the part of the
		// period it existed in, so a device that joined an hour ago and
		// never left counts as 100%, not 1/24 of it.
		up += upOf[wk.ID]
		window += p.observed(wk.RegisteredAt, now).Seconds()
		if wk.State.Live() {
			m.Connected++
			if !seen.first(wk) {
				continue
			}
			m.CPU.Cores += wk.Resources.CPUCores
			m.Memory.TotalGB += wk.Resources.MemoryTotalGB
			m.Disk.TotalGB += wk.Resources.StorageTotalGB
		}
	}
	if n > 0 {
		m.CPU.Average, m.Memory.Average, m.Disk.Average = round1(cpu/float64(n)), round1(mem/float64(n)), round1(disk/float64(n))
	}
	m.CPU.Peak, m.Memory.Peak, m.Disk.Peak = round1(m.CPU.Peak), round1(m.Memory.Peak), round1(m.Disk.Peak)
	m.Memory.TotalGB, m.Disk.TotalGB = round1(m.Memory.TotalGB), round1(m.Disk.TotalGB)
	m.Heartbeats = n
	if window > 0 {
		m.Availability = round1(min(100, 100*up/window))
	}
	return m, nil
}

// outcomes adds task counts up.
func outcomes(ts []store.TaskStat) TaskOutcomes {
	var o TaskOutcomes
	var dsum float64
	var dn int64
	for _, t := range ts {
		o.Completed, o.Failed, o.Cancelled = o.Completed+t.Completed, o.Failed+t.Failed, o.Cancelled+t.Cancelled
		dsum, dn = dsum+t.DurationSum, dn+t.DurationN
	}
	if dn > 0 {
		o.AverageSeconds = round3(dsum / float64(dn))
	}
	return o
}

// History is one device's last 24 hours, one point per hour it was seen
// (oldest first): the hour's start, average CPU and memory use, and tasks
// ended.
type History struct {
	Times       []time.Time
	CPU, Memory []float64
	Tasks       []int64
}

// DeviceHistory is worker id's performance history.
func (s *Service) DeviceHistory(ctx context.Context, id string) (*History, error) {
	h := &History{Times: []time.Time{}, CPU: []float64{}, Memory: []float64{}, Tasks: []int64{}}
	since := s.now().Add(-23 * time.Hour).Truncate(time.Hour)
	ms, err := s.store.MetricList(ctx, &store.MetricListParams{WorkerID: id, Width: store.MetricHour, Since: since})
	if err != nil {
		return nil, err
	}
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: store.MetricHour, Since: since, DeviceID: id, GroupBy: store.GroupHour})
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
		h.Times = append(h.Times, m.Bucket.UTC())
		h.CPU = append(h.CPU, round1(m.CPUSum/float64(m.N)))
		h.Memory = append(h.Memory, round1(m.MemSum/float64(m.N)))
		h.Tasks = append(h.Tasks, tasks[m.Bucket.Unix()])
	}
	return h, nil
}
