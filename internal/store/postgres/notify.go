package postgres

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

// notifySQL announces work on the channel; the payload is the sending
// store's origin, so that it can ignore its own notifications.
const notifySQL = `SELECT pg_notify($1, $2)`

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

// notifyWork queues the channel's notification in the transaction q runs.
func (s *Store) notifyWork(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, notifySQL, s.channel, s.origin)
	return err
}

// Listener reconnection backoff: from listenBackoffMin, doubling, capped.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// ListenWork calls wake for every notification another store sends on the
// work channel, until ctx ends. wake is also called each time the listener
// is listening again after a lost connection, since notifications sent
// meanwhile were lost.
func (s *Store) ListenWork(ctx context.Context, wake func()) error {
	return s.subscribe(ctx, s.channel, "work", func(payload string) {
		if payload != s.origin { // its own engine woke itself already
			wake()
		}
	}, wake)
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
		case <-time.After(backoff/2 + rand.N(backoff/2+1)):
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
