// Package leader elects, among the servers sharing one store, the one that
// runs the singleton duties: the reaper's lease expiry and offline
// detection now, cron ticks and autoscaling later. It is River's elector: a
// leadership row in the database, taken and renewed by one conditional
// statement (store.LeaderStore), never a consensus of our own.
//
// # States
//
//	           attempt: row free, expired, or ours
//	follower ─────────────────────────────────────▶ leader ──┐ renew every Interval
//	   ▲  │ attempt: someone else holds it             │ ◀────┘ (valid until sent+TTL)
//	   │  └───────┘                                     │
//	   └──────── renewal failed, someone else holds it, ┘
//	             or TTL passed since the last renewal was sent
//
//	leader ── Run's ctx ends ──▶ resign (the row is freed) ──▶ stopped
//
// Every server attempts every Interval (TTL/3 by default): the leader to
// renew, the others to take over once the row has expired. A leader that
// dies is replaced within TTL + Interval; one that stops cleanly resigns
// and is replaced within Interval.
//
// # Invariants
//
//   - IsLeader is true only while the database row certainly names this
//     server: until TTL after the moment the last successful attempt was
//     sent, by this server's monotonic clock. The database computed the
//     row's expiry as its now() + TTL, and its now() was no earlier than
//     that moment, so the local deadline never outlives the row. A renewal
//     that hangs cannot stretch leadership past it.
//   - Hence at most one server believes it leads at any moment, as long as
//     clocks run at the same rate (their offsets do not matter).
//   - A failed renewal ends leadership at once; the next attempt may win it
//     back, under a new term if the row lapsed meanwhile.
//   - Terms grow by one on every takeover, so a term names one reign.
//
// Correctness never rests on the leader alone: the duties are conditional
// statements the database judges (a lease is rescued only if it expired by
// the database's clock, under its epoch), so two leaders for a moment would
// do the same work twice, not wrong work. Leadership only keeps N servers
// from all sweeping, and tells a new leader when to give workers a grace
// period (see maintenance.Reaper).
package leader
