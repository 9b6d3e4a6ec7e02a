package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// LogAppend stores the lines whose lease holds, numbering each task's lines
// on from its last. The fence and the numbering are one read per task and
// epoch, in the transaction of the inserts.
func (s *Store) LogAppend(ctx context.Context, p *store.LogAppendParams) (int, error) {
	if len(p.Lines) == 0 {
		return 0, nil
	}
	if len(p.Epochs) != len(p.Lines) {
		return 0, domain.Errorf(domain.CodeValidation, "%d log lines with %d epochs", len(p.Lines), len(p.Epochs))
	}
	fallback := now(time.Time{})
	kept := 0
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		kept = 0
		ins, err := s.stmt(ctx, tx, logInsertSQL)
		if err != nil {
			return err
		}
		last, err := s.stmt(ctx, tx, logLastSQL)
		if err != nil {
			return err
		}
		type lease struct {
			task  string
			epoch int64
		}
		valid := map[lease]bool{}
		next := map[string]int64{} // task id -> the seq its next line gets
		for i, l := range p.Lines {
			key := lease{l.TaskID, p.Epochs[i]}
			ok, seen := valid[key]
			if !seen {
				var seq int64
				switch err := last.QueryRowContext(ctx, l.TaskID, p.WorkerID, p.Epochs[i]).Scan(&seq); {
				case err == sql.ErrNoRows:
				case err != nil:
					return err
				default:
					ok = true
					if _, numbered := next[l.TaskID]; !numbered {
						next[l.TaskID] = seq + 1
					}
				}
				valid[key] = ok
			}
			if !ok {
				continue
			}
			seq := next[l.TaskID]
			next[l.TaskID] = seq + 1
			at := l.Time
			if at.IsZero() {
				at = fallback
			}
			if _, err := ins.ExecContext(ctx, l.TaskID, seq, micros(at), l.Stream, l.Level, l.Message); err != nil {
				return err
			}
			p.Lines[i].Seq = seq
			kept++
		}
		return nil
	})
	if err != nil {
		return 0, interpretError(err)
	}
	return kept, nil
}

// logInsertSQL stores one line.
const logInsertSQL = `INSERT INTO task_logs (task_id, seq, time, stream, level, message)
	VALUES ($1, $2, $3, $4, $5, $6)`

// logLastSQL is the fence and the numbering of a log batch: task $1's last
// line number if it is running under worker $2 and epoch $3, else no row.
const logLastSQL = `SELECT (SELECT coalesce(max(seq), 0) FROM task_logs WHERE task_id = $1)
	FROM tasks WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND lease_epoch = $3`

// LogList returns a task's lines after AfterSeq, oldest first: the first
// Limit, or the last Tail; an unknown task is domain.ErrNotFound.
func (s *Store) LogList(ctx context.Context, p *store.LogListParams) ([]domain.LogLine, error) {
	query := `SELECT seq, time, stream, level, message FROM task_logs
		WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`
	limit := limitOrAll(p.Limit)
	if p.Tail > 0 {
		query = `SELECT * FROM (SELECT seq, time, stream, level, message FROM task_logs
			WHERE task_id = $1 AND seq > $2 ORDER BY seq DESC LIMIT $3) ORDER BY seq`
		limit = p.Tail
	}
	rows, err := s.read.QueryContext(ctx, query, p.TaskID, p.AfterSeq, limit)
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
