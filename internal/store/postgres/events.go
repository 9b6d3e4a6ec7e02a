package postgres

import (
	"context"
	"math"
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

// appendBatchSQL stores one batch, drawing its ids from events_id_seq
// (nextval, then setval past the batch) in the same statement.
const appendBatchSQL = `
INSERT INTO event_batches (first_id, last_id, n, min_time, max_time, events)
SELECT last - $1 + 1, last, $1, $2, $3, $4
FROM (SELECT setval('events_id_seq', nextval('events_id_seq') + $1 - 1) AS last) ids
RETURNING first_id`

// EventAppend stores events as one batch row under the ordering lock, and
// notifies the event channel in the same transaction: one round trip.
func (s *Store) EventAppend(ctx context.Context, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = at
		}
		events[i].Time = events[i].Time.UTC().Truncate(time.Microsecond) // as stored
		events[i].ID = int64(i)                                          // offsets from the first id, which the insert draws
	}
	packed, err := store.PackEvents(0, events)
	if err != nil {
		return err
	}
	earliest, latest := store.TimeRange(events)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, s.eventsLockKey())
		b.Queue(appendBatchSQL, len(events), earliest, latest, packed)
		b.Queue(notifySQL, s.eventsChannel(), s.origin)
		br := tx.SendBatch(ctx, &b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		var first int64
		if err := br.QueryRow().Scan(&first); err != nil {
			return err
		}
		for i := range events {
			events[i].ID = first + int64(i)
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		return br.Close()
	})
	return translate(err)
}

// eventPage reads a page of batches for store.ListEventBatches.
func (s *Store) eventPage(ctx context.Context, p *store.EventListParams) store.EventBatchPage {
	after, before, since := p.AfterID, int64(math.MaxInt64), p.Since
	if p.BeforeID > 0 {
		before = p.BeforeID
	}
	if since.IsZero() {
		since = time.Unix(0, 0)
	}
	return func(cursor int64, descending bool, limit int) ([]store.EventBatch, error) {
		q := `SELECT first_id, events FROM event_batches
			WHERE first_id > $1 AND last_id > $2 AND first_id < $3 AND max_time >= $4 ORDER BY first_id LIMIT $5`
		if descending {
			q = `SELECT first_id, events FROM event_batches
			WHERE first_id < $1 AND last_id > $2 AND first_id < $3 AND max_time >= $4 ORDER BY first_id DESC LIMIT $5`
		}
		rows, err := s.pool.Query(ctx, q, cursor, after, before, since, limit)
		if err != nil {
			return nil, translate(err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.EventBatch, error) {
			var b store.EventBatch
			err := r.Scan(&b.FirstID, &b.Packed)
			return b, err
		})
		return out, translate(err)
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

// EventLastID is the largest id given so far (the sequence's last value,
// which pruning does not lower).
func (s *Store) EventLastID(ctx context.Context) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_id_seq`).Scan(&id)
	return id, translate(err)
}

// EventPrune deletes old events, then any beyond the newest MaxEvents:
// whole batches where it can, and the batches that straddle the bound
// repacked without the events that go.
func (s *Store) EventPrune(ctx context.Context, p *store.EventPruneParams) (int64, error) {
	var n int64
	if !p.Before.IsZero() {
		k, err := s.pruneEvents(ctx, `max_time < $1`, `min_time < $1`, p.Before,
			func(e *domain.Event) bool { return e.Time.Before(p.Before) })
		n += k
		if err != nil {
			return n, err
		}
	}
	if p.MaxEvents > 0 {
		var top *int64
		if err := s.pool.QueryRow(ctx, `SELECT max(last_id) FROM event_batches`).Scan(&top); err != nil || top == nil {
			return n, translate(err)
		}
		cutoff := *top - p.MaxEvents
		k, err := s.pruneEvents(ctx, `last_id <= $1`, `first_id <= $1`, cutoff,
			func(e *domain.Event) bool { return e.ID <= cutoff })
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// pruneEvents deletes the batches whole matches (every event goes), then
// repacks those part matches without the events drop reports.
func (s *Store) pruneEvents(ctx context.Context, whole, part string, arg any, drop func(*domain.Event) bool) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `WITH gone AS (DELETE FROM event_batches WHERE `+whole+` RETURNING n)
		SELECT coalesce(sum(n), 0) FROM gone`, arg).Scan(&n)
	if err != nil {
		return 0, translate(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT first_id, events, n FROM event_batches WHERE `+part+` ORDER BY first_id`, arg)
	if err != nil {
		return n, translate(err)
	}
	type held struct {
		b store.EventBatch
		n int
	}
	straddling, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (held, error) {
		var h held
		err := r.Scan(&h.b.FirstID, &h.b.Packed, &h.n)
		return h, err
	})
	if err != nil {
		return n, translate(err)
	}
	for _, h := range straddling {
		packed, kept, dropped, err := store.RepackEvents(h.b, drop)
		if err != nil {
			return n, err
		}
		if dropped == 0 {
			continue
		}
		// Only if unchanged since read: two prunes at once must not
		// write back what the other removed.
		var k int64
		if len(kept) == 0 {
			k, err = s.exec(ctx, `DELETE FROM event_batches WHERE first_id = $1 AND n = $2`, h.b.FirstID, h.n)
		} else {
			earliest, latest := store.TimeRange(kept)
			k, err = s.exec(ctx, `UPDATE event_batches SET events = $3, n = $4, last_id = $5, min_time = $6, max_time = $7
				WHERE first_id = $1 AND n = $2`, h.b.FirstID, h.n, packed, len(kept), kept[len(kept)-1].ID, earliest, latest)
		}
		if err != nil {
			return n, err
		}
		if k > 0 {
			n += int64(dropped)
		}
	}
	return n, nil
}

var _ store.EventNotifier = (*Store)(nil)

// ListenEvents calls wake for every notification on the event channel from
// another store (another server), and after each reconnect, until ctx
// ends. Its own appends it does not echo: the bus delivers those as it
// writes them, and reads the log itself when another server's may have
// come between. Echoing them woke a read of the log for every batch written
// (a fifteenth of the server's CPU in a PostgreSQL burn-down), most finding
// nothing new and the rest decoding, for nothing, a batch the bus had in hand.
func (s *Store) ListenEvents(ctx context.Context, wake func()) error {
	return s.subscribe(ctx, s.eventsChannel(), "event", func(origin string) {
		if origin != s.origin {
			wake()
		}
	}, wake)
}
