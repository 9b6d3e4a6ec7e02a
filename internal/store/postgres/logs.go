package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// appendLogsSQL stores a batch of lines in one statement. Each task's counter
// row in task_log_seqs is bumped by its number of lines (the upsert locks the
// row, so concurrent appends to one task take turns, and tasks are bumped in
// id order, so they cannot deadlock); the lines take the numbers below the
// new value, in input order. It returns each task's new last number.
const appendLogsSQL = `
WITH l AS (
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[])
		WITH ORDINALITY AS l(task_id, time, stream, level, message, ord)
),
counts AS (
	SELECT task_id, count(*) AS n FROM l GROUP BY task_id
),
bumped AS (
	INSERT INTO task_log_seqs AS s (task_id, last_seq)
	SELECT task_id, n FROM counts ORDER BY task_id
	ON CONFLICT (task_id) DO UPDATE SET last_seq = s.last_seq + excluded.last_seq
	RETURNING task_id, last_seq
),
inserted AS (
	INSERT INTO task_logs (task_id, seq, time, stream, level, message)
	SELECT l.task_id,
		b.last_seq - c.n + row_number() OVER (PARTITION BY l.task_id ORDER BY l.ord),
		coalesce(l.time, now()), l.stream, l.level, l.message
	FROM l JOIN bumped b USING (task_id) JOIN counts c USING (task_id)
)
SELECT b.task_id, b.last_seq FROM bumped b`

// LogAppend stores the lines, numbering each task's lines on from its last,
// or nothing and domain.ErrNotFound if one names an unknown task (the
// foreign key of task_log_seqs). It also writes each line's number into lines[i].Seq, so the caller can
// publish them. A line without a time gets the database's.
func (s *Store) LogAppend(ctx context.Context, lines []domain.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	n := len(lines)
	var (
		taskIDs  = make([]string, n)
		times    = make([]*time.Time, n)
		streams  = make([]string, n)
		levels   = make([]string, n)
		messages = make([]string, n)
		perTask  = map[string]int64{}
	)
	for i, l := range lines {
		taskIDs[i], times[i], streams[i], levels[i], messages[i] = l.TaskID, timeArg(l.Time), l.Stream, l.Level, l.Message
		perTask[l.TaskID]++
	}
	rows, err := s.pool.Query(ctx, appendLogsSQL, taskIDs, times, streams, levels, messages)
	if err != nil {
		return translate(err)
	}
	var (
		id   string
		last int64
	)
	next := map[string]int64{} // each task's first number in this batch
	if _, err := pgx.ForEachRow(rows, []any{&id, &last}, func() error {
		next[id] = last - perTask[id] + 1
		return nil
	}); err != nil {
		return translate(err)
	}
	for i := range lines {
		lines[i].Seq = next[lines[i].TaskID]
		next[lines[i].TaskID]++
	}
	return nil
}

// logListSQL reads a task's lines in one statement that also tells an
// unknown task (no row) from a quiet one (one row of NULLs).
const logListSQL = `
SELECT l.seq, l.time, l.stream, l.level, l.message
FROM tasks t LEFT JOIN LATERAL (
	SELECT seq, time, stream, level, message FROM task_logs
	WHERE task_id = t.id AND seq > $2
	ORDER BY seq
	LIMIT $3
) l ON true
WHERE t.id = $1
ORDER BY l.seq`

// LogList returns a task's lines after p.AfterSeq, oldest first, or
// domain.ErrNotFound for an unknown task.
func (s *Store) LogList(ctx context.Context, p *store.LogListParams) ([]domain.LogLine, error) {
	rows, err := s.pool.Query(ctx, logListSQL, p.TaskID, p.AfterSeq, limitArg(p.Limit))
	if err != nil {
		return nil, translate(err)
	}
	var (
		lines  []domain.LogLine
		found  bool
		seq    *int64
		at     *time.Time
		stream *string
		level  *string
		msg    *string
	)
	_, err = pgx.ForEachRow(rows, []any{&seq, &at, &stream, &level, &msg}, func() error {
		found = true
		if seq != nil {
			lines = append(lines, domain.LogLine{TaskID: p.TaskID, Seq: *seq, Time: timeOf(at), Stream: *stream, Level: *level, Message: *msg})
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	if !found {
		return nil, domain.ErrNotFound
	}
	return lines, nil
}
