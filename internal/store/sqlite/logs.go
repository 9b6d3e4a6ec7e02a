package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// LogAppend stores lines, numbering each task's lines on from its last. A
// line for an unknown task fails the call with domain.ErrNotFound.
func (s *Store) LogAppend(ctx context.Context, lines []domain.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	fallback := now(time.Time{})
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO task_logs (task_id, seq, time, stream, level, message)
			VALUES ($1, $2, $3, $4, $5, $6)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		last, err := tx.PrepareContext(ctx, `SELECT coalesce(max(seq), 0) FROM task_logs WHERE task_id = $1`)
		if err != nil {
			return err
		}
		defer last.Close()
		next := map[string]int64{} // task id -> the seq its next line gets
		for _, l := range lines {
			seq, ok := next[l.TaskID]
			if !ok {
				if err := last.QueryRowContext(ctx, l.TaskID).Scan(&seq); err != nil {
					return err
				}
				seq++
			}
			next[l.TaskID] = seq + 1
			at := l.Time
			if at.IsZero() {
				at = fallback
			}
			if _, err := ins.ExecContext(ctx, l.TaskID, seq, micros(at), l.Stream, l.Level, l.Message); err != nil {
				return err
			}
		}
		return nil
	})
	return interpretError(err)
}

// LogList returns a task's lines after AfterSeq, oldest first; an unknown
// task is domain.ErrNotFound.
func (s *Store) LogList(ctx context.Context, p *store.LogListParams) ([]domain.LogLine, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT seq, time, stream, level, message FROM task_logs
		WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, p.TaskID, p.AfterSeq, limitOrAll(p.Limit))
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []domain.LogLine
	for rows.Next() {
		l := domain.LogLine{TaskID: p.TaskID}
		var at int64
		if err := rows.Scan(&l.Seq, &at, &l.Stream, &l.Level, &l.Message); err != nil {
			return nil, interpretError(err)
		}
		l.Time = fromMicros(at)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(err)
	}
	if len(out) == 0 {
		// No lines: tell an unknown task from a quiet one.
		if _, err := s.TaskGet(ctx, p.TaskID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// KVGet returns the value at key, or domain.ErrNotFound.
func (s *Store) KVGet(ctx context.Context, key string) (json.RawMessage, error) {
	var v []byte
	if err := s.read.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = $1`, key).Scan(&v); err != nil {
		return nil, interpretError(err)
	}
	return json.RawMessage(v), nil
}

// KVPut stores value at key, replacing any earlier value.
func (s *Store) KVPut(ctx context.Context, key string, value json.RawMessage) error {
	if !json.Valid(value) {
		return domain.Errorf(domain.CodeValidation, "the value at %q is not JSON", key)
	}
	at := micros(now(time.Time{}))
	return interpretError(s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			key, []byte(value), at)
		return err
	}))
}
