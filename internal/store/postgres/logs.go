package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// appendLogsSQL stores a batch of lines in one statement. The fence comes
// first: only lines whose task is running under the reporting worker ($7)
// and the line's epoch are kept, judged on the statement's snapshot. Each
// task's counter row in task_log_seqs is bumped by its number of kept lines
// (the upsert locks the row, so concurrent appends to one task take turns,
// and tasks are bumped in id order, so they cannot deadlock); the lines take
// the numbers below the new value, in input order. It returns, for each task
// with kept lines, its new last number, how many lines it kept and the
// epoch they were under (a running task has one).
const appendLogsSQL = `
WITH l AS (
	SELECT l.* FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[])
		WITH ORDINALITY AS l(task_id, time, stream, level, message, epoch, ord)
	WHERE EXISTS (
		SELECT 1 FROM tasks t
		WHERE t.id = l.task_id AND t.state = 'running' AND t.lease_owner = $7 AND t.lease_epoch = l.epoch
	)
),
counts AS (
	SELECT task_id, count(*) AS n, min(epoch) AS epoch FROM l GROUP BY task_id
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
SELECT b.task_id, b.last_seq, c.n, c.epoch FROM bumped b JOIN counts c USING (task_id)`

// LogAppend stores the lines whose lease holds, numbering each task's lines
// on from its last, in one statement, and writes each kept line's number
// into p.Lines[i].Seq, so the caller can publish them. A line without a
// time gets the database's.
func (s *Store) LogAppend(ctx context.Context, p *store.LogAppendParams) (int, error) {
	lines := p.Lines
	if len(lines) == 0 {
		return 0, nil
	}
	if len(p.Epochs) != len(lines) {
		return 0, domain.Errorf(domain.CodeValidation, "%d log lines with %d epochs", len(lines), len(p.Epochs))
	}
	n := len(lines)
	var (
		taskIDs  = make([]string, n)
		times    = make([]*time.Time, n)
		streams  = make([]string, n)
		levels   = make([]string, n)
		messages = make([]string, n)
	)
	for i, l := range lines {
		taskIDs[i], times[i], streams[i], levels[i], messages[i] = l.TaskID, timeArg(l.Time), l.Stream, l.Level, l.Message
	}
	rows, err := s.pool.Query(ctx, appendLogsSQL, taskIDs, times, streams, levels, messages, p.Epochs, p.WorkerID)
	if err != nil {
		return 0, translate(err)
	}
	type numbering struct{ next, epoch int64 }
	var (
		id          string
		last, count int64
		epoch       int64
		kept        int
	)
	next := map[string]*numbering{} // each task's first number in this batch, and the epoch kept
	if _, err := pgx.ForEachRow(rows, []any{&id, &last, &count, &epoch}, func() error {
		next[id] = &numbering{next: last - count + 1, epoch: epoch}
		kept += int(count)
		return nil
	}); err != nil {
		return 0, translate(err)
	}
	for i := range lines {
		if nb := next[lines[i].TaskID]; nb != nil && nb.epoch == p.Epochs[i] {
			lines[i].Seq = nb.next
			nb.next++
		}
	}
	return kept, nil
}

// logListSQL reads a task's lines in one statement that also tells an
// unknown task (no row) from a quiet one (one row of NULLs). %s is the
// order of the lateral read: ascending for the first lines, descending for
// the last ones (a tail reads only the lines it returns).
const logListSQL = `
SELECT l.seq, l.time, l.stream, l.level, l.message
FROM tasks t LEFT JOIN LATERAL (
	SELECT seq, time, stream, level, message FROM task_logs
	WHERE task_id = t.id AND seq > $2
	ORDER BY seq %s
	LIMIT $3
) l ON true
WHERE t.id = $1
ORDER BY l.seq`

var (
	logHeadSQL = fmt.Sprintf(logListSQL, "")
	logTailSQL = fmt.Sprintf(logListSQL, "DESC")
)

// LogList returns a task's lines after p.AfterSeq, oldest first, or
// domain.ErrNotFound for an unknown task.
func (s *Store) LogList(ctx context.Context, p *store.LogListParams) ([]domain.LogLine, error) {
	query, limit := logHeadSQL, p.Limit
	if p.Tail > 0 {
		query, limit = logTailSQL, p.Tail
	}
	rows, err := s.pool.Query(ctx, query, p.TaskID, p.AfterSeq, limitArg(limit))
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
