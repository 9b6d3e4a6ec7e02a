package postgres

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// Cross-server wake-ups. A statement that makes work available (an insert,
// a requeue) runs in one transaction with one pg_notify on the work
// channel, so a notification is delivered exactly when the work is
// committed, once per transaction however many tasks it holds. Every store
// listens on the channel on a connection of its own, outside the pool (a
// pooled connection would drop its LISTEN when returned), and wakes its
// engine on each notification from another store. Its own notifications it
// ignores: its engine woke itself already.

var _ store.WorkNotifier = (*Store)(nil)

// notifySQL announces work on the channel. The payload (workPayload) names
// the sending store's origin, so that it can ignore its own notifications,
// and the queues that got work, so that listeners wake only their waiters.
const notifySQL = `SELECT pg_notify($1, $2)`

// workNote is a work notification's payload. Queues nil means any queue:
// the writer did not know them (a released worker's tasks), a task was
// pinned (its worker may not listen on its queue), or they did not fit.
type workNote struct {
	Origin string   `json:"o"`
	Queues []string `json:"q,omitempty"`
}

// maxNotePayload keeps a payload under PostgreSQL's limit of 8000 bytes.
const maxNotePayload = 7000

// workPayload is the payload announcing tasks (the pending ones among
// them), or any queue when tasks is nil.
func (s *Store) workPayload(tasks iter.Seq[*domain.Task]) string {
	note := workNote{Origin: s.origin}
	if tasks != nil {
		for t := range tasks {
			if t.State != domain.TaskPending {
				continue
			}
			if t.DeviceID != "" {
				note.Queues = nil
				break
			}
			if !slices.Contains(note.Queues, t.Queue) {
				note.Queues = append(note.Queues, t.Queue)
			}
		}
	}
	b, err := json.Marshal(note)
	if err != nil || len(b) > maxNotePayload {
		b, _ = json.Marshal(workNote{Origin: s.origin})
	}
	return string(b)
}

// parseWorkNote reads a payload; a bare origin (a server before queues
// were named) means any queue.
func parseWorkNote(payload string) workNote {
	var note workNote
	if !strings.HasPrefix(payload, "{") || json.Unmarshal([]byte(payload), &note) != nil {
		return workNote{Origin: payload}
	}
	return note
}

// workChannel is the notification channel of a schema. Channels are
// database-wide, so stores in different schemas of one database (separate
// clusters, parallel tests) use different ones.
func workChannel(schema string) string {
	const base = "drover_work"
	if schema == "" || schema == "public" {
		return base
	}
	if ch := base + "." + schema; len(ch) <= 63 { // NAMEDATALEN - 1
		return ch
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("%s.%x", base, h.Sum64())
}

// newOrigin names one store instance in its notifications.
func newOrigin() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// notifyWork queues the channel's notification of tasks (nil: any queue)
// in the transaction tx runs.
func (s *Store) notifyWork(ctx context.Context, tx pgx.Tx, tasks iter.Seq[*domain.Task]) error {
	_, err := tx.Exec(ctx, notifySQL, s.channel, s.workPayload(tasks))
	return err
}

// Listener reconnection backoff: from listenBackoffMin, doubling, capped.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// ListenWork calls wake with the queues of every notification another
// store sends on the work channel, until ctx ends. wake is also called,
// with nil (any queue), each time the listener is listening again after a
// lost connection, since notifications sent meanwhile were lost.
func (s *Store) ListenWork(ctx context.Context, wake func(queues []string)) error {
	return s.subscribe(ctx, s.channel, "work", func(payload string) {
		if note := parseWorkNote(payload); note.Origin != s.origin { // its own engine woke itself already
			wake(note.Queues)
		}
	}, func() { wake(nil) })
}

// subscribe LISTENs on channel over a connection of its own (a pooled
// connection would drop its LISTEN when returned) and calls deliver with
// each notification's payload, until ctx ends. A lost connection is reopened
// after a jittered, growing backoff, and resync is called once listening
// again. Every cross-server channel (work, events, control) runs on it.
func (s *Store) subscribe(ctx context.Context, channel, what string, deliver func(payload string), resync func()) error {
	backoff := listenBackoffMin
	for {
		err := s.listenOnce(ctx, channel, func() {
			backoff = listenBackoffMin
			resync()
		}, deliver)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn(what+" listener lost its connection; reconnecting", "channel", channel, "err", translate(err), "backoff", backoff)
		select {
		case <-time.After(backoff/2 + rand.N(backoff/2+1)): // #nosec G404 -- reconnect jitter, not a secret
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce opens a connection, LISTENs on channel, calls listening, then
// deliver for each notification until the connection fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, channel string, listening func(), deliver func(payload string)) error {
	conn, err := pgx.ConnectConfig(ctx, s.listenConfig)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		deliver(n.Payload)
	}
}

var _ store.ControlRelay = (*Store)(nil)

// controlChannel carries control-channel messages between the servers of
// one schema.
func (s *Store) controlChannel() string {
	return strings.Replace(s.channel, "drover_work", "drover_control", 1)
}

// RelayControl sends msg to every server sharing the store, this one too.
func (s *Store) RelayControl(ctx context.Context, msg []byte) error {
	if len(msg) >= 8000 { // PostgreSQL's limit on a notification's payload
		return fmt.Errorf("postgres: control message of %d bytes is over the notification limit", len(msg))
	}
	_, err := s.pool.Exec(ctx, notifySQL, s.controlChannel(), string(msg))
	return translate(err)
}

// ListenControl calls deliver with every control message any server sends,
// until ctx ends.
func (s *Store) ListenControl(ctx context.Context, deliver func(msg []byte)) error {
	return s.subscribe(ctx, s.controlChannel(), "control", func(payload string) { deliver([]byte(payload)) }, func() {})
}
