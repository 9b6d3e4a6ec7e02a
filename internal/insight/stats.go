package insight

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Task statistics groupings.
const (
	ByDevice   = store.GroupDevice
	ByTaskType = store.GroupTaskType
	ByHour     = store.GroupHour
)

// Counts are one group's task outcomes.
type Counts struct{ Completed, Failed, Cancelled int64 }

// TaskStats are task outcomes over a period, grouped.
type TaskStats struct {
	Period  Period
	GroupBy string
	Total   TaskOutcomes
	// Groups by the GroupBy key: device id ("unassigned" for tasks
	// cancelled before any device ran them), task type, or the hour's
	// start in RFC 3339.
	Groups map[string]Counts
	// ByDevice is always there (document 001 shows by_device whatever the grouping).
	ByDevice    map[string]Counts
	SuccessRate float64 // completed / ended × 100
}

// TaskStats counts task outcomes over p, grouped by groupBy (default by device).
func (s *Service) TaskStats(ctx context.Context, p Period, groupBy string) (*TaskStats, error) {
	switch groupBy {
	case "":
		groupBy = ByDevice
	case ByDevice, ByTaskType, ByHour:
	default:
		return nil, domain.Errorf(domain.CodeValidation, "group_by must be one of device, task_type, hour").With("field", "group_by")
	}
	width := p.Width
	if groupBy == ByHour {
		width = store.MetricHour
	}
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: width, Since: p.Since, GroupBy: groupBy})
	if err != nil {
		return nil, err
	}
	out := &TaskStats{Period: p, GroupBy: groupBy, Total: outcomes(ts), Groups: groups(ts, groupBy)}
	out.ByDevice = out.Groups
	if groupBy != ByDevice {
		byDev, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: width, Since: p.Since, GroupBy: ByDevice})
		if err != nil {
			return nil, err
		}
		out.ByDevice = groups(byDev, ByDevice)
	}
	if ended := out.Total.Completed + out.Total.Failed + out.Total.Cancelled; ended > 0 {
		out.SuccessRate = round1(100 * float64(out.Total.Completed) / float64(ended))
	}
	return out, nil
}

func groups(ts []store.TaskStat, groupBy string) map[string]Counts {
	out := map[string]Counts{}
	for _, t := range ts {
		c := Counts{Completed: t.Completed, Failed: t.Failed, Cancelled: t.Cancelled}
		switch groupBy {
		case ByDevice:
			out[deviceKey(t.DeviceID)] = c
		case ByTaskType:
			out[t.TaskType] = c
		case ByHour:
			out[t.Bucket.UTC().Format(time.RFC3339)] = c
		}
	}
	return out
}

// deviceKey names a device in by_device: tasks cancelled before any
// device ran them are "unassigned".
func deviceKey(id string) string {
	if id == "" {
		return "unassigned"
	}
	return id
}

// ScoreFormula documents the performance ranking of DeviceStats.
const ScoreFormula = "score = 0.5 × success_rate + 0.3 × uptime_percent + 0.2 × throughput, each 0–100 over the period: " +
	"success_rate = completed / (completed + failed) × 100 (100 when the device finished nothing); " +
	"uptime_percent = time seen online / time registered within the period × 100; " +
	"throughput = tasks the device finished / the most any device finished × 100 (0 when none finished any)"

// Utilization is one device's use over a period.
type Utilization struct {
	CPUAvg, MemoryAvg, UptimePercent float64
	Completed, Failed                int64
}

// Score is a device's place in the ranking.
type Score struct {
	DeviceID string
	Score    float64
}

// DeviceStats is every device's utilization and the ranking, best first.
type DeviceStats struct {
	Period      Period
	Utilization map[string]Utilization
	Ranking     []Score
}

// DeviceStats rates every registered device over p (ScoreFormula).
func (s *Service) DeviceStats(ctx context.Context, p Period) (*DeviceStats, error) {
	ws, err := s.store.WorkerList(ctx, &store.WorkerListParams{})
	if err != nil {
		return nil, err
	}
	sums, err := s.store.MetricSummary(ctx, &store.MetricSummaryParams{Width: p.Width, Since: p.Since})
	if err != nil {
		return nil, err
	}
	ts, err := s.store.TaskStatSummary(ctx, &store.TaskStatSummaryParams{Width: p.Width, Since: p.Since, GroupBy: store.GroupDevice})
	if err != nil {
		return nil, err
	}
	bySample := map[string]store.MetricSample{}
	for _, m := range sums {
		bySample[m.WorkerID] = m
	}
	byTasks := map[string]store.TaskStat{}
	var most int64
	for _, t := range ts {
		byTasks[t.DeviceID] = t
		most = max(most, t.Completed+t.Failed)
	}
	now := s.now()
	out := &DeviceStats{Period: p, Utilization: map[string]Utilization{}, Ranking: []Score{}}
	for _, wk := range ws {
		m, t := bySample[wk.ID], byTasks[wk.ID]
		u := Utilization{Completed: t.Completed, Failed: t.Failed}
		if m.N > 0 {
			u.CPUAvg, u.MemoryAvg = round1(m.CPUSum/float64(m.N)), round1(m.MemSum/float64(m.N))
		}
		if window := p.observed(wk.RegisteredAt, now).Seconds(); window > 0 {
			u.UptimePercent = round1(min(100, 100*m.UpSeconds/window))
		}
		out.Utilization[wk.ID] = u
		success := 100.0
		if fin := t.Completed + t.Failed; fin > 0 {
			success = 100 * float64(t.Completed) / float64(fin)
		}
		throughput := 0.0
		if most > 0 {
			throughput = 100 * float64(t.Completed+t.Failed) / float64(most)
		}
		out.Ranking = append(out.Ranking, Score{DeviceID: wk.ID, Score: round1(0.5*success + 0.3*u.UptimePercent + 0.2*throughput)})
	}
	slices.SortStableFunc(out.Ranking, func(a, b Score) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.DeviceID, b.DeviceID)
	})
	return out, nil
}
