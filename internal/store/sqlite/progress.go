package sqlite

import (
	"context"
	"database/sql"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// progressSetSQL replaces task $1's report when the task is running under
// worker $2 and epoch $3: the fence and the write are one statement.
const progressSetSQL = `INSERT INTO task_progress (task_id, epoch, fraction, message, time)
	SELECT id, $3, $4, $5, $6 FROM tasks
	WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND lease_epoch = $3
	ON CONFLICT (task_id) DO UPDATE SET epoch = excluded.epoch, fraction = excluded.fraction,
		message = excluded.message, time = excluded.time`

// TaskProgressSet keeps the reports whose lease holds.
func (s *Store) TaskProgressSet(ctx context.Context, p *store.TaskProgressSetParams) ([]bool, error) {
	kept := make([]bool, len(p.Reports))
	if len(p.Reports) == 0 {
		return kept, nil
	}
	fallback := now(p.Now)
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		clear(kept)
		set, err := s.stmt(ctx, tx, progressSetSQL)
		if err != nil {
			return err
		}
		for i, r := range p.Reports {
			at := r.Time
			if at.IsZero() {
				at = fallback
			}
			res, err := set.ExecContext(ctx, r.TaskID, p.WorkerID, r.Epoch, r.Fraction, r.Message, micros(at))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			kept[i] = n > 0
		}
		return nil
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return kept, nil
}

// TaskProgressGet returns task id's last report, or domain.ErrNotFound.
func (s *Store) TaskProgressGet(ctx context.Context, id string) (*domain.Progress, error) {
	pr := &domain.Progress{TaskID: id}
	var at int64
	err := s.read.QueryRowContext(ctx, `SELECT epoch, fraction, message, time FROM task_progress WHERE task_id = $1`, id).
		Scan(&pr.Epoch, &pr.Fraction, &pr.Message, &at)
	if err != nil {
		return nil, interpretError(err)
	}
	pr.Time = fromMicros(at)
	return pr, nil
}

var _ store.ProgressStore = (*Store)(nil)
