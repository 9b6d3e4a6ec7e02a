package sqlite

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// EventAppend stores events as one batch row through the committer, so
// they share the group commit of task writes. The single writer makes ids
// grow in commit order.
func (s *Store) EventAppend(ctx context.Context, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	at := now(time.Time{})
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = at
		}
		events[i].Time = events[i].Time.UTC().Truncate(time.Microsecond) // as stored
		events[i].ID = int64(i)                                          // offsets from the first id, drawn below
	}
	packed, err := store.PackEvents(0, events)
	if err != nil {
		return err
	}
	earliest, latest := store.TimeRange(events)
	n := int64(len(events))
	var first int64
	err = s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `UPDATE event_seq SET last = last + $1 RETURNING last`, n).Scan(&last); err != nil {
			return err
		}
		first = last - n + 1
		_, err := tx.ExecContext(ctx, `INSERT INTO event_batches (first_id, last_id, n, min_time, max_time, events)
			VALUES ($1, $2, $3, $4, $5, $6)`, first, last, n, micros(earliest), micros(latest), packed)
		return err
	})
	if err != nil {
		return interpretError(err)
	}
	for i := range events {
		events[i].ID = first + int64(i)
	}
	return nil
}

// eventPage reads a page of batches for store.ListEventBatches.
func (s *Store) eventPage(ctx context.Context, p *store.EventListParams) store.EventBatchPage {
	after, before, since := p.AfterID, int64(math.MaxInt64), micros(p.Since)
	if p.BeforeID > 0 {
		before = p.BeforeID
	}
	return func(cursor int64, descending bool, limit int) ([]store.EventBatch, error) {
		q := `SELECT first_id, events FROM event_batches
			WHERE first_id > $1 AND last_id > $2 AND first_id < $3 AND max_time >= $4 ORDER BY first_id LIMIT $5`
		if descending {
			q = `SELECT first_id, events FROM event_batches
			WHERE first_id < $1 AND last_id > $2 AND first_id < $3 AND max_time >= $4 ORDER BY first_id DESC LIMIT $5`
		}
		rows, err := s.read.QueryContext(ctx, q, cursor, after, before, since, limit)
		if err != nil {
			return nil, interpretError(err)
		}
		defer rows.Close()
		var out []store.EventBatch
		for rows.Next() {
			var b store.EventBatch
			if err := rows.Scan(&b.FirstID, &b.Packed); err != nil {
				return nil, interpretError(err)
			}
			out = append(out, b)
		}
		return out, interpretError(rows.Err())
	}
}

// EventList lists events by id.
func (s *Store) EventList(ctx context.Context, p *store.EventListParams) ([]domain.Event, error) {
	return store.ListEventBatches(p, s.eventPage(ctx, p))
}

// EventCount counts the events the filter matches.
func (s *Store) EventCount(ctx context.Context, p *store.EventListParams) (int, error) {
	q := *p
	q.AfterID, q.BeforeID = 0, 0
	return store.CountEventBatches(&q, s.eventPage(ctx, &q))
}

// EventLastID is the largest id ever given: event_seq's counter, which
// pruning does not lower.
func (s *Store) EventLastID(ctx context.Context) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, `SELECT last FROM event_seq`).Scan(&id)
	return id, interpretError(err)
}

// EventPrune deletes old events, then any beyond the newest MaxEvents:
// whole batches where it can, and the batches that straddle the bound
// repacked without the events that go. One transaction: the single
// writer sees no other prune in between.
func (s *Store) EventPrune(ctx context.Context, p *store.EventPruneParams) (int64, error) {
	var n int64
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		if !p.Before.IsZero() {
			before := micros(p.Before)
			k, err := pruneEvents(ctx, tx, `max_time < $1`, `min_time < $1`, before,
				func(e *domain.Event) bool { return e.Time.Before(p.Before) })
			n += k
			if err != nil {
				return err
			}
		}
		if p.MaxEvents > 0 {
			var top sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT max(last_id) FROM event_batches`).Scan(&top); err != nil || !top.Valid {
				return err
			}
			cutoff := top.Int64 - p.MaxEvents
			k, err := pruneEvents(ctx, tx, `last_id <= $1`, `first_id <= $1`, cutoff,
				func(e *domain.Event) bool { return e.ID <= cutoff })
			n += k
			if err != nil {
				return err
			}
		}
		return nil
	})
	return n, interpretError(err)
}

// pruneEvents deletes the batches whole matches (every event goes), then
// repacks those part matches without the events drop reports.
func pruneEvents(ctx context.Context, tx *sql.Tx, whole, part string, arg int64, drop func(*domain.Event) bool) (int64, error) {
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM event_batches WHERE `+whole, arg).Scan(&n); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM event_batches WHERE `+whole, arg); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT first_id, events FROM event_batches WHERE `+part+` ORDER BY first_id`, arg)
	if err != nil {
		return n, err
	}
	var straddling []store.EventBatch
	for rows.Next() {
		var b store.EventBatch
		if err := rows.Scan(&b.FirstID, &b.Packed); err != nil {
			rows.Close()
			return n, err
		}
		straddling = append(straddling, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, err
	}
	for _, b := range straddling {
		packed, kept, dropped, err := store.RepackEvents(b, drop)
		if err != nil {
			return n, err
		}
		switch {
		case dropped == 0:
			continue
		case len(kept) == 0:
			_, err = tx.ExecContext(ctx, `DELETE FROM event_batches WHERE first_id = $1`, b.FirstID)
		default:
			earliest, latest := store.TimeRange(kept)
			_, err = tx.ExecContext(ctx, `UPDATE event_batches SET events = $2, n = $3, last_id = $4, min_time = $5, max_time = $6
				WHERE first_id = $1`, b.FirstID, packed, len(kept), kept[len(kept)-1].ID, micros(earliest), micros(latest))
		}
		if err != nil {
			return n, err
		}
		n += int64(dropped)
	}
	return n, nil
}
