package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// progressSetSQL replaces each task's report in one statement, fenced as
// log lines are: only reports whose task is running under worker $6 and the
// report's epoch are kept. It returns the ids of the tasks whose report it
// kept. A task appears at most once (the caller keeps its last report), as
// one statement may not upsert a row twice.
const progressSetSQL = `
INSERT INTO task_progress AS p (task_id, epoch, fraction, message, time)
SELECT r.task_id, r.epoch, r.fraction, r.message, coalesce(r.time, coalesce($7, now()))
FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::text[], $5::timestamptz[])
	AS r(task_id, epoch, fraction, message, time)
WHERE EXISTS (
	SELECT 1 FROM tasks t
	WHERE t.id = r.task_id AND t.state = 'running' AND t.lease_owner = $6 AND t.lease_epoch = r.epoch
)
ORDER BY r.task_id
ON CONFLICT (task_id) DO UPDATE SET epoch = excluded.epoch, fraction = excluded.fraction,
	message = excluded.message, time = excluded.time
RETURNING task_id`

// TaskProgressSet keeps the reports whose lease holds. Of several reports
// of one task, the last is written; the earlier ones count as kept when it
// is.
func (s *Store) TaskProgressSet(ctx context.Context, p *store.TaskProgressSetParams) ([]bool, error) {
	kept := make([]bool, len(p.Reports))
	if len(p.Reports) == 0 {
		return kept, nil
	}
	last := map[string]int{}
	for i, r := range p.Reports {
		last[r.TaskID] = i
	}
	var (
		ids       = make([]string, 0, len(last))
		epochs    = make([]int64, 0, len(last))
		fractions = make([]float64, 0, len(last))
		messages  = make([]string, 0, len(last))
		times     = make([]*time.Time, 0, len(last))
	)
	for i, r := range p.Reports {
		if last[r.TaskID] != i {
			continue
		}
		ids, epochs, fractions = append(ids, r.TaskID), append(epochs, r.Epoch), append(fractions, r.Fraction)
		messages, times = append(messages, r.Message), append(times, timeArg(r.Time))
	}
	rows, err := s.pool.Query(ctx, progressSetSQL, ids, epochs, fractions, messages, times, p.WorkerID, timeArg(p.Now))
	if err != nil {
		return nil, translate(err)
	}
	written := map[string]bool{}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		written[id] = true
		return nil
	}); err != nil {
		return nil, translate(err)
	}
	for i, r := range p.Reports {
		kept[i] = written[r.TaskID] && p.Reports[last[r.TaskID]].Epoch == r.Epoch
	}
	return kept, nil
}

// TaskProgressGet returns task id's last report, or domain.ErrNotFound.
func (s *Store) TaskProgressGet(ctx context.Context, id string) (*domain.Progress, error) {
	pr := &domain.Progress{TaskID: id}
	err := s.pool.QueryRow(ctx, `SELECT epoch, fraction, message, time FROM task_progress WHERE task_id = $1`, id).
		Scan(&pr.Epoch, &pr.Fraction, &pr.Message, &pr.Time)
	if err != nil {
		return nil, translate(err)
	}
	pr.Time = pr.Time.UTC()
	return pr, nil
}

var _ store.ProgressStore = (*Store)(nil)
