// Package telemetry watches the engine and records what the cluster says
// about itself: events for the log and the live stream (through an
// event.Bus), the per-worker metric history and task outcome counts (a
// Sampler, merged into the store's minute and hour buckets), and the
// Prometheus metrics served at /metrics.
//
// Nothing here is on the engine's critical path: the engine's hooks only
// publish to the bus and update in-memory accumulators; a background loop
// writes them to the store every FlushInterval.
package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Retention says how long history is kept.
type Retention struct {
	Metrics   time.Duration // hour buckets; minute buckets are kept for a day
	Events    time.Duration // the event log
	MaxEvents int64         // the event log's cap in rows; 0 for none
}

// MinuteRetention is how long minute buckets are kept.
const MinuteRetention = 24 * time.Hour

// SamplerOptions configure a Sampler.
type SamplerOptions struct {
	Store         store.Store
	Logger        *slog.Logger
	FlushInterval time.Duration        // default 10s
	Retention     func() Retention     // read before each prune
	Interval      func() time.Duration // the current heartbeat interval: a heartbeat stands for this much uptime
	Now           func() time.Time     // default time.Now
}

// Sampler folds heartbeats and task outcomes into minute and hour buckets
// in memory and merges them into the store every FlushInterval. Because the
// store merges, several servers may sample the same worker.
type Sampler struct {
	opts SamplerOptions

	mu      sync.Mutex
	samples map[sampleKey]*store.MetricSample
	stats   map[statKey]*store.TaskStat
}

type sampleKey struct {
	worker string
	width  time.Duration
	bucket int64
}

type statKey struct {
	width       time.Duration
	bucket      int64
	device, typ string
}

var widths = [...]time.Duration{store.MetricMinute, store.MetricHour, store.MetricDay}

// NewSampler makes a sampler; Run flushes it.
func NewSampler(opts SamplerOptions) *Sampler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval == nil {
		opts.Interval = func() time.Duration { return 5 * time.Second }
	}
	if opts.Retention == nil {
		opts.Retention = func() Retention { return Retention{Metrics: 30 * 24 * time.Hour, Events: 72 * time.Hour} }
	}
	return &Sampler{opts: opts, samples: map[sampleKey]*store.MetricSample{}, stats: map[statKey]*store.TaskStat{}}
}

// percent is part of total in percent, 0 when total is unknown.
func percent(part, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return min(100, 100*part/total)
}

// Heartbeat folds one heartbeat of w into its buckets.
func (s *Sampler) Heartbeat(w *domain.Worker) {
	now := s.opts.Now()
	r := w.Resources
	mem := percent(r.MemoryUsedGB, r.MemoryTotalGB)
	disk := percent(r.StorageUsedGB, r.StorageTotalGB)
	up := s.opts.Interval().Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, width := range widths {
		bucket := now.Truncate(width)
		k := sampleKey{w.ID, width, bucket.Unix()}
		m := s.samples[k]
		if m == nil {
			m = &store.MetricSample{WorkerID: w.ID, Width: width, Bucket: bucket.UTC()}
			s.samples[k] = m
		}
		m.N++
		m.CPUSum += r.CPUUsage
		m.CPUMax = max(m.CPUMax, r.CPUUsage)
		m.MemSum += mem
		m.MemMax = max(m.MemMax, mem)
		m.DiskSum += disk
		m.DiskMax = max(m.DiskMax, disk)
		m.ActiveSum += float64(w.TasksActive)
		m.UpSeconds += min(up, width.Seconds())
		m.CPUCores = max(m.CPUCores, r.CPUCores)
		m.MemoryTotalGB = max(m.MemoryTotalGB, r.MemoryTotalGB)
	}
}

// TaskEnded counts a task that reached a terminal state.
func (s *Sampler) TaskEnded(t *domain.Task) {
	if !t.State.Terminal() {
		return
	}
	at := t.CompletedAt
	if at.IsZero() {
		at = s.opts.Now()
	}
	dur := t.ExecutionTime()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, width := range widths {
		bucket := at.Truncate(width)
		k := statKey{width, bucket.Unix(), t.DeviceOf(), t.Type}
		st := s.stats[k]
		if st == nil {
			st = &store.TaskStat{Width: width, Bucket: bucket.UTC(), DeviceID: k.device, TaskType: t.Type}
			s.stats[k] = st
		}
		switch t.State {
		case domain.TaskCompleted:
			st.Completed++
		case domain.TaskFailed:
			st.Failed++
		case domain.TaskCancelled:
			st.Cancelled++
		}
		if dur > 0 && t.State != domain.TaskCancelled {
			st.DurationSum += dur.Seconds()
			st.DurationN++
		}
	}
}

// Flush merges what has accumulated into the store. On failure the
// accumulators are kept and merged again next time.
func (s *Sampler) Flush(ctx context.Context) error {
	s.mu.Lock()
	samples, stats := s.samples, s.stats
	s.samples, s.stats = map[sampleKey]*store.MetricSample{}, map[statKey]*store.TaskStat{}
	s.mu.Unlock()
	ms := make([]store.MetricSample, 0, len(samples))
	for _, m := range samples {
		ms = append(ms, *m)
	}
	ts := make([]store.TaskStat, 0, len(stats))
	for _, t := range stats {
		ts = append(ts, *t)
	}
	err := s.opts.Store.MetricRecord(ctx, ms)
	if err == nil {
		if err = s.opts.Store.TaskStatRecord(ctx, ts); err == nil {
			return nil
		}
		samples = nil // recorded already
	}
	s.restore(samples, stats)
	return err
}

// restore merges unflushed accumulators back.
func (s *Sampler) restore(samples map[sampleKey]*store.MetricSample, stats map[statKey]*store.TaskStat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, m := range samples {
		if cur := s.samples[k]; cur != nil {
			cur.N += m.N
			cur.CPUSum += m.CPUSum
			cur.CPUMax = max(cur.CPUMax, m.CPUMax)
			cur.MemSum += m.MemSum
			cur.MemMax = max(cur.MemMax, m.MemMax)
			cur.DiskSum += m.DiskSum
			cur.DiskMax = max(cur.DiskMax, m.DiskMax)
			cur.ActiveSum += m.ActiveSum
			cur.UpSeconds += m.UpSeconds
			cur.CPUCores = max(cur.CPUCores, m.CPUCores)
			cur.MemoryTotalGB = max(cur.MemoryTotalGB, m.MemoryTotalGB)
		} else {
			s.samples[k] = m
		}
	}
	for k, t := range stats {
		if cur := s.stats[k]; cur != nil {
			cur.Completed += t.Completed
			cur.Failed += t.Failed
			cur.Cancelled += t.Cancelled
			cur.DurationSum += t.DurationSum
			cur.DurationN += t.DurationN
		} else {
			s.stats[k] = t
		}
	}
}

// Prune deletes history past its retention: minute buckets after a day,
// hour and day buckets and events after theirs.
func (s *Sampler) Prune(ctx context.Context) error {
	now := s.opts.Now()
	ret := s.opts.Retention()
	if err := s.opts.Store.MetricPrune(ctx, &store.MetricPruneParams{Width: store.MetricMinute, Before: now.Add(-MinuteRetention)}); err != nil {
		return err
	}
	if ret.Metrics > 0 {
		for _, w := range []time.Duration{store.MetricHour, store.MetricDay} {
			if err := s.opts.Store.MetricPrune(ctx, &store.MetricPruneParams{Width: w, Before: now.Add(-ret.Metrics)}); err != nil {
				return err
			}
		}
	}
	p := &store.EventPruneParams{MaxEvents: ret.MaxEvents}
	if ret.Events > 0 {
		p.Before = now.Add(-ret.Events)
	}
	_, err := s.opts.Store.EventPrune(ctx, p)
	return err
}

// Run flushes every FlushInterval until ctx ends, then flushes once more.
// Every server flushes what its own workers reported; pruning is the
// leader's (maintenance.History).
func (s *Sampler) Run(ctx context.Context) error {
	flush := time.NewTicker(s.opts.FlushInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return s.Flush(fctx)
		case <-flush.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("metric history: flush failed", "err", err)
			}
		}
	}
}
