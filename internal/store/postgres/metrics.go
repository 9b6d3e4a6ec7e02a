package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// MetricRecord merges samples into their buckets in one statement.
func (s *Store) MetricRecord(ctx context.Context, samples []store.MetricSample) error {
	if len(samples) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, m := range samples {
		b.Queue(`INSERT INTO metric_samples AS m (width, bucket, worker_id, n,
				cpu_sum, cpu_max, mem_sum, mem_max, disk_sum, disk_max, active_sum, up_seconds, cpu_cores, memory_total_gb)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (width, bucket, worker_id) DO UPDATE SET n = m.n + excluded.n,
				cpu_sum = m.cpu_sum + excluded.cpu_sum, cpu_max = greatest(m.cpu_max, excluded.cpu_max),
				mem_sum = m.mem_sum + excluded.mem_sum, mem_max = greatest(m.mem_max, excluded.mem_max),
				disk_sum = m.disk_sum + excluded.disk_sum, disk_max = greatest(m.disk_max, excluded.disk_max),
				active_sum = m.active_sum + excluded.active_sum, up_seconds = m.up_seconds + excluded.up_seconds,
				cpu_cores = greatest(m.cpu_cores, excluded.cpu_cores), memory_total_gb = greatest(m.memory_total_gb, excluded.memory_total_gb)`,
			seconds(m.Width), m.Bucket.Unix(), m.WorkerID, m.N, m.CPUSum, m.CPUMax, m.MemSum, m.MemMax,
			m.DiskSum, m.DiskMax, m.ActiveSum, m.UpSeconds, m.CPUCores, m.MemoryTotalGB)
	}
	return translate(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	}))
}

const metricColumns = `n, cpu_sum, cpu_max, mem_sum, mem_max, disk_sum, disk_max, active_sum, up_seconds, cpu_cores, memory_total_gb`

func scanMetric(row pgx.Row, m *store.MetricSample, extra ...any) error {
	return row.Scan(append(extra, &m.N, &m.CPUSum, &m.CPUMax, &m.MemSum, &m.MemMax, &m.DiskSum, &m.DiskMax,
		&m.ActiveSum, &m.UpSeconds, &m.CPUCores, &m.MemoryTotalGB)...)
}

// MetricList returns one worker's buckets, oldest first.
func (s *Store) MetricList(ctx context.Context, p *store.MetricListParams) ([]store.MetricSample, error) {
	rows, err := s.pool.Query(ctx, `SELECT bucket, `+metricColumns+` FROM metric_samples
		WHERE worker_id = $1 AND width = $2 AND bucket >= $3 ORDER BY bucket`, p.WorkerID, seconds(p.Width), p.Since.Unix())
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.MetricSample
	for rows.Next() {
		m := store.MetricSample{WorkerID: p.WorkerID, Width: p.Width}
		var bucket int64
		if err := scanMetric(rows, &m, &bucket); err != nil {
			return nil, translate(err)
		}
		m.Bucket = time.Unix(bucket, 0).UTC()
		out = append(out, m)
	}
	return out, translate(rows.Err())
}

// MetricSummary merges each worker's buckets from Since on.
func (s *Store) MetricSummary(ctx context.Context, p *store.MetricSummaryParams) ([]store.MetricSample, error) {
	rows, err := s.pool.Query(ctx, `SELECT worker_id, sum(n)::bigint, sum(cpu_sum), max(cpu_max), sum(mem_sum), max(mem_max),
			sum(disk_sum), max(disk_max), sum(active_sum), sum(up_seconds), max(cpu_cores), max(memory_total_gb)
		FROM metric_samples WHERE width = $1 AND bucket >= $2 GROUP BY worker_id ORDER BY worker_id`,
		seconds(p.Width), p.Since.Unix())
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.MetricSample
	for rows.Next() {
		m := store.MetricSample{Width: p.Width}
		if err := scanMetric(rows, &m, &m.WorkerID); err != nil {
			return nil, translate(err)
		}
		out = append(out, m)
	}
	return out, translate(rows.Err())
}

// MetricPrune deletes buckets of one width that start before Before.
func (s *Store) MetricPrune(ctx context.Context, p *store.MetricPruneParams) error {
	for _, q := range []string{`DELETE FROM metric_samples WHERE width = $1 AND bucket < $2`,
		`DELETE FROM task_stats WHERE width = $1 AND bucket < $2`} {
		if _, err := s.exec(ctx, q, seconds(p.Width), p.Before.Unix()); err != nil {
			return err
		}
	}
	return nil
}

// TaskStatRecord merges task counts into their buckets.
func (s *Store) TaskStatRecord(ctx context.Context, stats []store.TaskStat) error {
	if len(stats) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, t := range stats {
		b.Queue(`INSERT INTO task_stats AS t (width, bucket, device_id, task_type,
				completed, failed, cancelled, duration_sum, duration_n)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (width, bucket, device_id, task_type) DO UPDATE SET
				completed = t.completed + excluded.completed, failed = t.failed + excluded.failed,
				cancelled = t.cancelled + excluded.cancelled, duration_sum = t.duration_sum + excluded.duration_sum,
				duration_n = t.duration_n + excluded.duration_n`,
			seconds(t.Width), t.Bucket.Unix(), t.DeviceID, t.TaskType, t.Completed, t.Failed, t.Cancelled, t.DurationSum, t.DurationN)
	}
	return translate(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	}))
}

// TaskStatSummary merges task counts, grouped as asked.
func (s *Store) TaskStatSummary(ctx context.Context, p *store.TaskStatSummaryParams) ([]store.TaskStat, error) {
	key := "''"
	switch p.GroupBy {
	case store.GroupDevice:
		key = "device_id"
	case store.GroupTaskType:
		key = "task_type"
	case store.GroupHour:
		key = "bucket::text"
	}
	args := []any{seconds(p.Width), p.Since.Unix()}
	query := `SELECT ` + key + `, sum(completed)::bigint, sum(failed)::bigint, sum(cancelled)::bigint, sum(duration_sum), sum(duration_n)::bigint
		FROM task_stats WHERE width = $1 AND bucket >= $2`
	if p.DeviceID != "" {
		args = append(args, p.DeviceID)
		query += ` AND device_id = $` + strconv.Itoa(len(args))
	}
	if p.GroupBy == store.GroupHour {
		query += ` GROUP BY bucket ORDER BY bucket`
	} else {
		query += ` GROUP BY 1 ORDER BY 1`
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.TaskStat
	for rows.Next() {
		t := store.TaskStat{Width: p.Width}
		var k string
		if err := rows.Scan(&k, &t.Completed, &t.Failed, &t.Cancelled, &t.DurationSum, &t.DurationN); err != nil {
			return nil, translate(err)
		}
		switch p.GroupBy {
		case store.GroupDevice:
			t.DeviceID = k
		case store.GroupTaskType:
			t.TaskType = k
		case store.GroupHour:
			v, _ := strconv.ParseInt(k, 10, 64)
			t.Bucket = time.Unix(v, 0).UTC()
		}
		out = append(out, t)
	}
	return out, translate(rows.Err())
}

// TaskQueueStats counts tasks by queue and state and finds each queue's
// oldest pending task.
func (s *Store) TaskQueueStats(ctx context.Context) ([]store.QueueStat, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.queue, c.state, c.n, p.oldest
		FROM (SELECT queue, state, count(*) AS n FROM tasks GROUP BY state, queue) c
		LEFT JOIN (SELECT queue, min(available_at) AS oldest FROM tasks WHERE state = 'pending' GROUP BY queue) p
			ON c.state = 'pending' AND p.queue = c.queue
		ORDER BY c.queue, c.state`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.QueueStat
	for rows.Next() {
		var (
			q      store.QueueStat
			state  string
			oldest *time.Time
		)
		if err := rows.Scan(&q.Queue, &state, &q.Count, &oldest); err != nil {
			return nil, translate(err)
		}
		q.State = domain.TaskState(state)
		if oldest != nil {
			q.OldestPending = oldest.UTC()
		}
		out = append(out, q)
	}
	return out, translate(rows.Err())
}
