// Package maintenance runs the leader's duties: the singleton loops that
// must run on exactly one server of those sharing a store — lease rescue,
// offline detection, history pruning, replay-table pruning, and the
// engines' own (cron, workflow advance, pool reconciliation, autoscaling).
//
// Each duty is a Service in a file of its own: a thin loop over an engine
// method, woken by a timer or an engine signal. The Manager starts every
// service when this server becomes leader and cancels them when it stops
// leading or shuts down, so a duty never runs on two servers for longer
// than the elector's own guarantee allows.
//
// # Invariants
//
//   - A service's work is idempotent and judged by the store (conditional
//     statements, unique keys), so a moment with two leaders repeats work,
//     never corrupts it; leadership only keeps N servers from all doing it.
//   - A service is restarted after it returns an error or panics, with
//     backoff; one failing duty never stops the others.
//   - Follow-up that must outlive a crash (a workflow's next step, a pool's
//     size) is reconciled here from stored state; post-commit hooks only
//     wake a service up early.
package maintenance
