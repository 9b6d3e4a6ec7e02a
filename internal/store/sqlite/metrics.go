package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// MetricRecord merges samples into their buckets.
func (s *Store) MetricRecord(ctx context.Context, samples []store.MetricSample) error {
	if len(samples) == 0 {
		return nil
	}
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO metric_samples (width, bucket, worker_id, n,
				cpu_sum, cpu_max, mem_sum, mem_max, disk_sum, disk_max, active_sum, up_seconds, cpu_cores, memory_total_gb)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (width, bucket, worker_id) DO UPDATE SET n = n + excluded.n,
				cpu_sum = cpu_sum + excluded.cpu_sum, cpu_max = max(cpu_max, excluded.cpu_max),
				mem_sum = mem_sum + excluded.mem_sum, mem_max = max(mem_max, excluded.mem_max),
				disk_sum = disk_sum + excluded.disk_sum, disk_max = max(disk_max, excluded.disk_max),
				active_sum = active_sum + excluded.active_sum, up_seconds = up_seconds + excluded.up_seconds,
				cpu_cores = max(cpu_cores, excluded.cpu_cores), memory_total_gb = max(memory_total_gb, excluded.memory_total_gb)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range samples {
			if _, err := st.ExecContext(ctx, seconds(m.Width), m.Bucket.Unix(), m.WorkerID, m.N, m.CPUSum, m.CPUMax,
				m.MemSum, m.MemMax, m.DiskSum, m.DiskMax, m.ActiveSum, m.UpSeconds, m.CPUCores, m.MemoryTotalGB); err != nil {
				return err
			}
		}
		return nil
	})
	return interpretError(err)
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

const metricColumns = `n, cpu_sum, cpu_max, mem_sum, mem_max, disk_sum, disk_max, active_sum, up_seconds, cpu_cores, memory_total_gb`

func scanMetric(sc scanner, m *store.MetricSample, extra ...any) error {
	return sc.Scan(append(extra, &m.N, &m.CPUSum, &m.CPUMax, &m.MemSum, &m.MemMax, &m.DiskSum, &m.DiskMax,
		&m.ActiveSum, &m.UpSeconds, &m.CPUCores, &m.MemoryTotalGB)...)
}

// MetricList returns one worker's buckets, oldest first.
func (s *Store) MetricList(ctx context.Context, p *store.MetricListParams) ([]store.MetricSample, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT bucket, `+metricColumns+` FROM metric_samples
		WHERE worker_id = $1 AND width = $2 AND bucket >= $3 ORDER BY bucket`, p.WorkerID, seconds(p.Width), p.Since.Unix())
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.MetricSample
	for rows.Next() {
		m := store.MetricSample{WorkerID: p.WorkerID, Width: p.Width}
		var bucket int64
		if err := scanMetric(rows, &m, &bucket); err != nil {
			return nil, interpretError(err)
		}
		m.Bucket = time.Unix(bucket, 0).UTC()
		out = append(out, m)
	}
	return out, interpretError(rows.Err())
}

// MetricSummary merges each worker's buckets from Since on.
func (s *Store) MetricSummary(ctx context.Context, p *store.MetricSummaryParams) ([]store.MetricSample, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT worker_id, sum(n), sum(cpu_sum), max(cpu_max), sum(mem_sum), max(mem_max),
			sum(disk_sum), max(disk_max), sum(active_sum), sum(up_seconds), max(cpu_cores), max(memory_total_gb)
		FROM metric_samples WHERE width = $1 AND bucket >= $2 GROUP BY worker_id ORDER BY worker_id`,
		seconds(p.Width), p.Since.Unix())
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.MetricSample
	for rows.Next() {
		m := store.MetricSample{Width: p.Width}
		if err := scanMetric(rows, &m, &m.WorkerID); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, m)
	}
	return out, interpretError(rows.Err())
}

// MetricPrune deletes buckets of one width that start before Before.
func (s *Store) MetricPrune(ctx context.Context, p *store.MetricPruneParams) error {
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM metric_samples WHERE width = $1 AND bucket < $2`,
			`DELETE FROM task_stats WHERE width = $1 AND bucket < $2`} {
			if _, err := tx.ExecContext(ctx, q, seconds(p.Width), p.Before.Unix()); err != nil {
				return err
			}
		}
		return nil
	})
	return interpretError(err)
}

// TaskStatRecord merges task counts into their buckets.
func (s *Store) TaskStatRecord(ctx context.Context, stats []store.TaskStat) error {
	if len(stats) == 0 {
		return nil
	}
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO task_stats (width, bucket, device_id, task_type,
				completed, failed, cancelled, duration_sum, duration_n)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (width, bucket, device_id, task_type) DO UPDATE SET
				completed = completed + excluded.completed, failed = failed + excluded.failed,
				cancelled = cancelled + excluded.cancelled, duration_sum = duration_sum + excluded.duration_sum,
				duration_n = duration_n + excluded.duration_n`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, t := range stats {
			if _, err := st.ExecContext(ctx, seconds(t.Width), t.Bucket.Unix(), t.DeviceID, t.TaskType,
				t.Completed, t.Failed, t.Cancelled, t.DurationSum, t.DurationN); err != nil {
				return err
			}
		}
		return nil
	})
	return interpretError(err)
}

// TaskStatSummary merges task counts, grouped as asked.
func (s *Store) TaskStatSummary(ctx context.Context, p *store.TaskStatSummaryParams) ([]store.TaskStat, error) {
	key := taskStatKey(p.GroupBy)
	var args sqlArgs
	query := `SELECT ` + key + `, sum(completed), sum(failed), sum(cancelled), sum(duration_sum), sum(duration_n)
		FROM task_stats WHERE width = ` + args.add(seconds(p.Width)) + ` AND bucket >= ` + args.add(p.Since.Unix())
	if p.DeviceID != "" {
		query += ` AND device_id = ` + args.add(p.DeviceID)
	}
	query += ` GROUP BY 1 ORDER BY 1`
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.TaskStat
	for rows.Next() {
		t := store.TaskStat{Width: p.Width}
		var k any
		if err := rows.Scan(&k, &t.Completed, &t.Failed, &t.Cancelled, &t.DurationSum, &t.DurationN); err != nil {
			return nil, interpretError(err)
		}
		switch p.GroupBy {
		case store.GroupDevice:
			t.DeviceID, _ = k.(string)
		case store.GroupTaskType:
			t.TaskType, _ = k.(string)
		case store.GroupHour:
			if v, ok := k.(int64); ok {
				t.Bucket = time.Unix(v, 0).UTC()
			}
		}
		out = append(out, t)
	}
	return out, interpretError(rows.Err())
}

// taskStatKey is the grouping column of a TaskStatSummary.
func taskStatKey(groupBy string) string {
	switch groupBy {
	case store.GroupDevice:
		return "device_id"
	case store.GroupTaskType:
		return "task_type"
	case store.GroupHour:
		return "bucket"
	}
	return "''"
}

// TaskQueueStats counts tasks by queue and state (from the covering index
// on (state, queue)) and finds each queue's oldest pending task.
func (s *Store) TaskQueueStats(ctx context.Context) ([]store.QueueStat, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT c.queue, c.state, c.n, coalesce(p.oldest, 0)
		FROM (SELECT queue, state, count(*) AS n FROM tasks GROUP BY state, queue) c
		LEFT JOIN (SELECT queue, min(available_at) AS oldest FROM tasks WHERE state = 'pending' GROUP BY queue) p
			ON c.state = 'pending' AND p.queue = c.queue
		ORDER BY c.queue, c.state`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.QueueStat
	for rows.Next() {
		var (
			q      store.QueueStat
			state  string
			oldest int64
		)
		if err := rows.Scan(&q.Queue, &state, &q.Count, &oldest); err != nil {
			return nil, interpretError(err)
		}
		q.State, q.OldestPending = domain.TaskState(state), fromMicros(oldest)
		out = append(out, q)
	}
	return out, interpretError(rows.Err())
}
