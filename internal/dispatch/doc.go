// Package dispatch is the task engine: it admits tasks (validation and
// placement against the fleet), hands them to workers under leases, takes
// their results, and rescues the work of lost workers.
//
// # Leases
//
// A lease is the right of one worker to run one attempt of a task. It is held
// in the task row (lease_owner, lease_epoch, lease_expires_at) and nowhere
// else. Every worker write names the lease's epoch; the store applies it only
// if the task is still running under that epoch and owner, so a worker that
// was presumed dead and comes back cannot overwrite the work of its successor.
//
//	submit ──▶ pending ──Lease──▶ running ──Finish(ok)──▶ completed
//	              ▲                  │ Finish(failed), retries left (after backoff)
//	              ├──────────────────┤ lease expired (reaper), retries left
//	              │                  │ worker released (drain, removal)
//	              └──────────────────┘
//
// Invariants:
//   - At most one valid lease per task; the epoch grows on every lease.
//   - A lease is renewed by its worker's heartbeat (one heartbeat renews all
//     the leases it lists, and the others only within their first TTL, while
//     their answer may be on its way; an older one it does not list, whose
//     answer was lost, expires);
//     the reaper requeues it only after lease_expires_at, never earlier, and
//     no later than the expiry plus one reaper tick.
//   - A server sweeps only after it has led for one lease TTL — counted from
//     its start or from the moment it became leader — so workers that kept
//     running through a restart or a leader change renew their leases before
//     anything is rescued (Nomad's failover heartbeat TTL).
//   - Losing a worker does not spend a task's retries: a rescued task gets
//     LostRetries attempts beyond MaxRetries, so a task that takes down every
//     worker it runs on still ends.
//   - Waiting workers are woken when work may have appeared (a submit, a
//     retry, a rescue) and when delayed work comes due, not by polling. Each
//     task that becomes available wakes at most one waiter, of its queue (or
//     the worker it is pinned to) and able to run it; no wake-up is lost
//     (wake.go says why). Another server's writes wake the waiters of the
//     queues its notification names.
//   - A heartbeat renews every lease the worker lists and names the leases
//     it lost, and why, in one store transaction, which it shares with the
//     heartbeats arriving meanwhile (coalesce.go; one statement for many
//     workers); each is answered only once that transaction has committed,
//     with its own result. A heartbeat applies only while its credential
//     is the worker's. A log line is kept only
//     if its lease holds, checked in the append's own transaction; so is a
//     progress report, which is also throttled to one per task per
//     ProgressInterval, and belongs to the attempt (epoch) that made it.
package dispatch
