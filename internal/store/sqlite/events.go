package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// EventAppend stores events through the committer, so they share the group
// commit of task writes. The single writer makes ids grow in commit order.
func (s *Store) EventAppend(ctx context.Context, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	at := now(time.Time{})
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// One prepared row insert, run per event. (A multi-row VALUES list
		// was parsed afresh for every batch, and SQLite's parser is
		// quadratic in numbered parameters: it took most of the server's
		// CPU under load.)
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (time, type, level, component, device_id, task_id, message, data, origin)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range events {
			e := &events[i]
			if e.Time.IsZero() {
				e.Time = at
			}
			var data any
			if len(e.Data) > 0 {
				data = string(e.Data)
			}
			res, err := stmt.ExecContext(ctx, micros(e.Time), e.Type, int(e.Level), e.Component, e.DeviceID, e.TaskID, e.Message, data, e.Origin)
			if err != nil {
				return err
			}
			if e.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
	return interpretError(err)
}

// eventWhere builds the WHERE clause of p, for list and count.
func eventWhere(p *store.EventListParams, args *sqlArgs, withIDs bool) string {
	where := []string{"level >= " + args.add(int(p.MinLevel))}
	if withIDs && p.AfterID > 0 {
		where = append(where, "id > "+args.add(p.AfterID))
	}
	if withIDs && p.BeforeID > 0 {
		where = append(where, "id < "+args.add(p.BeforeID))
	}
	if len(p.Types) > 0 {
		ph := make([]string, len(p.Types))
		for i, t := range p.Types {
			ph[i] = args.add(t)
		}
		where = append(where, "type IN ("+strings.Join(ph, ",")+")")
	}
	if p.DeviceID != "" {
		where = append(where, "device_id = "+args.add(p.DeviceID))
	}
	if p.Component != "" {
		where = append(where, "component = "+args.add(p.Component))
	}
	if p.TaskID != "" {
		where = append(where, "task_id = "+args.add(p.TaskID))
	}
	if !p.Since.IsZero() {
		where = append(where, "time >= "+args.add(micros(p.Since)))
	}
	return strings.Join(where, " AND ")
}

// EventList lists events by id.
func (s *Store) EventList(ctx context.Context, p *store.EventListParams) ([]domain.Event, error) {
	var args sqlArgs
	order := "ASC"
	if p.Descending {
		order = "DESC"
	}
	query := `SELECT id, time, type, level, component, device_id, task_id, message, data, origin FROM events WHERE ` +
		eventWhere(p, &args, true) + ` ORDER BY id ` + order + ` LIMIT ` + args.add(limitOrAll(p.Limit))
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []domain.Event
	for rows.Next() {
		var (
			e     domain.Event
			at    int64
			level int
			data  sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Type, &level, &e.Component, &e.DeviceID, &e.TaskID, &e.Message, &data, &e.Origin); err != nil {
			return nil, interpretError(err)
		}
		e.Time, e.Level = fromMicros(at), domain.Level(level)
		if data.Valid && data.String != "" {
			e.Data = json.RawMessage(data.String)
		}
		out = append(out, e)
	}
	return out, interpretError(rows.Err())
}

// EventCount counts the events the filter matches.
func (s *Store) EventCount(ctx context.Context, p *store.EventListParams) (int, error) {
	var args sqlArgs
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE `+eventWhere(p, &args, false), args...).Scan(&n)
	return n, interpretError(err)
}

// EventLastID is the largest id ever given: AUTOINCREMENT's counter, which
// pruning does not lower.
func (s *Store) EventLastID(ctx context.Context) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)`).Scan(&id)
	return id, interpretError(err)
}

// EventPrune deletes old events, then any beyond the newest MaxEvents.
func (s *Store) EventPrune(ctx context.Context, p *store.EventPruneParams) (int64, error) {
	var n int64
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		if !p.Before.IsZero() {
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE time < $1`, micros(p.Before))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if p.MaxEvents > 0 {
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - $1`, p.MaxEvents)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, interpretError(err)
}
