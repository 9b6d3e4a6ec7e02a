package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// eventsLockKey is the advisory lock that orders event appends: held from
// before the ids are drawn until the commit, so ids commit in order across
// every server sharing the database. (The key is arbitrary but fixed; the
// schema's channel name is folded in so separate clusters in one database
// do not wait on each other.)
func (s *Store) eventsLockKey() int64 {
	var h int64 = 0x64726f7665727631 // "droverv1"
	for _, c := range s.channel {
		h = h*31 + int64(c)
	}
	return h
}

// eventsChannel is the notification channel of the schema's event log.
func (s *Store) eventsChannel() string {
	return strings.Replace(s.channel, "drover_work", "drover_events", 1)
}

const appendEventsSQL = `
INSERT INTO events (time, type, level, component, device_id, task_id, message, data, origin)
SELECT coalesce(time, now()), type, level, component, device_id, task_id, message, data::jsonb, origin
FROM unnest($1::timestamptz[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
	WITH ORDINALITY AS e(time, type, level, component, device_id, task_id, message, data, origin, ord)
ORDER BY ord
RETURNING id, time`

// EventAppend stores events in one statement under the ordering lock, and
// notifies the event channel in the same transaction.
func (s *Store) EventAppend(ctx context.Context, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		times      = make([]*time.Time, n)
		types      = make([]string, n)
		levels     = make([]int, n) // pgx refuses, rather than wraps, a level beyond int2
		components = make([]string, n)
		devices    = make([]string, n)
		tasks      = make([]string, n)
		messages   = make([]string, n)
		datas      = make([]*string, n)
		origins    = make([]string, n)
	)
	for i, e := range events {
		times[i], types[i], levels[i], components[i] = timeArg(e.Time), e.Type, int(e.Level), e.Component
		devices[i], tasks[i], messages[i], origins[i] = e.DeviceID, e.TaskID, e.Message, e.Origin
		if len(e.Data) > 0 {
			d := string(e.Data)
			datas[i] = &d
		}
	}
	// The lock, the insert and the notification go in one round trip.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, s.eventsLockKey())
		b.Queue(appendEventsSQL, times, types, levels, components, devices, tasks, messages, datas, origins)
		b.Queue(notifySQL, s.eventsChannel(), s.origin)
		br := tx.SendBatch(ctx, &b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		type idTime struct {
			id int64
			at time.Time
		}
		got := make([]idTime, 0, n)
		for rows.Next() {
			var r idTime
			if err := rows.Scan(&r.id, &r.at); err != nil {
				rows.Close()
				return err
			}
			got = append(got, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(got) != n {
			return fmt.Errorf("postgres: %d events appended, %d ids returned", n, len(got))
		}
		// Ids are drawn in ord order under the lock: sorted, they match the input.
		slices.SortFunc(got, func(a, b idTime) int { return int(a.id - b.id) })
		for i := range events {
			events[i].ID, events[i].Time = got[i].id, got[i].at.UTC()
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.Close()
	})
	return translate(err)
}

// eventWhere builds the WHERE clause of p; args collects its arguments.
func eventWhere(p *store.EventListParams, args *[]any, withIDs bool) string {
	add := func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	where := []string{"level >= " + add(int(p.MinLevel))}
	if withIDs && p.AfterID > 0 {
		where = append(where, "id > "+add(p.AfterID))
	}
	if withIDs && p.BeforeID > 0 {
		where = append(where, "id < "+add(p.BeforeID))
	}
	if len(p.Types) > 0 {
		where = append(where, "type = ANY("+add(p.Types)+"::text[])")
	}
	if p.DeviceID != "" {
		where = append(where, "device_id = "+add(p.DeviceID))
	}
	if p.Component != "" {
		where = append(where, "component = "+add(p.Component))
	}
	if p.TaskID != "" {
		where = append(where, "task_id = "+add(p.TaskID))
	}
	if !p.Since.IsZero() {
		where = append(where, "time >= "+add(p.Since))
	}
	return strings.Join(where, " AND ")
}

// EventList lists events by id.
func (s *Store) EventList(ctx context.Context, p *store.EventListParams) ([]domain.Event, error) {
	var args []any
	query := `SELECT id, time, type, level, component, device_id, task_id, message, data::text, origin FROM events WHERE ` +
		eventWhere(p, &args, true) + ` ORDER BY id`
	if p.Descending {
		query += ` DESC`
	}
	if p.Limit > 0 {
		args = append(args, p.Limit)
		query += ` LIMIT $` + strconv.Itoa(len(args))
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []domain.Event
	for rows.Next() {
		var (
			e     domain.Event
			level int16
			data  *string
		)
		if err := rows.Scan(&e.ID, &e.Time, &e.Type, &level, &e.Component, &e.DeviceID, &e.TaskID, &e.Message, &data, &e.Origin); err != nil {
			return nil, translate(err)
		}
		e.Time, e.Level = e.Time.UTC(), domain.Level(level)
		if data != nil {
			e.Data = []byte(*data)
		}
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

// EventCount counts the events the filter matches.
func (s *Store) EventCount(ctx context.Context, p *store.EventListParams) (int, error) {
	var args []any
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+eventWhere(p, &args, false), args...).Scan(&n)
	return n, translate(err)
}

// EventLastID is the largest id given so far (the sequence's last value,
// which pruning does not lower).
func (s *Store) EventLastID(ctx context.Context) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_id_seq`).Scan(&id)
	return id, translate(err)
}

// EventPrune deletes old events, then any beyond the newest MaxEvents.
func (s *Store) EventPrune(ctx context.Context, p *store.EventPruneParams) (int64, error) {
	var n int64
	if !p.Before.IsZero() {
		k, err := s.exec(ctx, `DELETE FROM events WHERE time < $1`, p.Before)
		if err != nil {
			return n, err
		}
		n += k
	}
	if p.MaxEvents > 0 {
		k, err := s.exec(ctx, `DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - $1`, p.MaxEvents)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

var _ store.EventNotifier = (*Store)(nil)

// ListenEvents calls wake for every notification on the event channel (its
// own appends' included: the caller reads the log from where it left off,
// so a redundant wake costs one empty read), and after each reconnect,
// until ctx ends.
func (s *Store) ListenEvents(ctx context.Context, wake func()) error {
	return s.subscribe(ctx, s.eventsChannel(), "event", func(string) { wake() }, wake)
}
